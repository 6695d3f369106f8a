"""The benchmark's --quick mode runs (a smoke test: no timing assertions)."""

import json
import os
import subprocess
import sys

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench",
                     "run.py")


def test_bench_quick_runs_every_workload(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, BENCH, "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    names = [r["workload"] for r in data["results"]]
    assert [n.split()[0] for n in names] == [str(i) for i in range(1, 12)]
    for r in data["results"]:
        if "seconds" in r:
            assert all(v > 0 for v in r["seconds"].values())
    assert data["meta"]["quick"] is True
    assert "gainprop is" in proc.stdout
