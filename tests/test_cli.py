"""The command line: the demo and the experiments' --quick modes."""

import subprocess
import sys

import pytest

from gainprop.__main__ import main


def test_demo_runs_and_reports(capsys):
    assert main(["demo", "--epochs", "2", "--hidden", "16"]) == 0
    out = capsys.readouterr().out
    assert "load_digits" in out
    for solver in ("adam", "sgd+nesterov", "online", "lbfgs"):
        assert solver in out
    assert out.count("scikit-learn") >= 4 and "speed-up" in out


def test_lr_sweep_quick(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["experiment", "lr-sweep", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "final loss" in out and "lowest final loss at rate" in out
    for name in ("lr_sweep.png", "lr_sweep_curves.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "gainprop", "experiment", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "lr-sweep" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "gainprop", "experiment", "nope"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
