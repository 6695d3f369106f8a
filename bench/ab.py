"""A/B of two builds of gainprop on the benchmark's workloads 1, 2 and 4.

    python bench/ab.py PYTHON_A PYTHON_B [--rounds 5] [--only 1,2,4] [--quick]

Each round runs every workload once in a fresh process of each interpreter
(A then B, B then A in the next round, so that neither always follows the
other); each process times a few fits after a warm-up one.  The table shows
the median over rounds of each build's per-process median, and B / A.  Use it
to show that a change leaves the speed alone (or what it changed); the two
interpreters are virtual environments with the two builds installed.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# One process's measurement: the workload's fits, timed after a warm-up fit.
_CHILD = r"""
import json, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
sys.path.insert(0, {here!r})
import run
from gainprop import MLPClassifier as Gp

which, quick = {which!r}, {quick!r}
if which in ("1", "2"):
    X, y = run._digits()
    if which == "1":
        epochs = 1 if quick else 3
        kw = dict(hidden_layer_sizes=(100,), solver="sgd", momentum=0.9, nesterovs_momentum=False,
                  batch_size=1, learning_rate_init=0.001, max_iter=epochs, random_state=0, tol=0,
                  n_iter_no_change=10**6)
    else:
        epochs = 2 if quick else 10
        kw = dict(hidden_layer_sizes=(100,), solver="adam", batch_size=32, max_iter=epochs,
                  random_state=0, tol=0, n_iter_no_change=10**6)
    fit = lambda: Gp(**kw).fit(X, y)
    fits = 5
else:
    X, y, units = run._seed002_setup(quick)
    epochs = 1
    fit = lambda: run._gp_seed002(X, y, units)
    fits = 2
fit()
times = []
for _ in range(fits):
    t = time.perf_counter()
    fit()
    times.append((time.perf_counter() - t) / epochs)
print(json.dumps(times))
"""

NAMES = {"1": "W1 online, s/epoch", "2": "W2 mini-batch, s/epoch", "4": "W4 wide net, s/epoch"}


def _measure(python, which, quick):
    code = _CHILD.format(here=HERE, which=which, quick=quick)
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True,
                         cwd=HERE)
    return statistics.median(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("python_a")
    parser.add_argument("python_b")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="1,2,4")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    which = args.only.split(",")
    results = {w: {"A": [], "B": []} for w in which}
    for r in range(args.rounds):
        order = ("A", "B") if r % 2 == 0 else ("B", "A")
        for w in which:
            for side in order:
                python = args.python_a if side == "A" else args.python_b
                results[w][side].append(_measure(python, w, args.quick))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print(f"{'workload':26s} {'A (median)':>12s} {'B (median)':>12s} {'B / A':>7s}  "
          "B / A per round")
    for w in which:
        a, b = statistics.median(results[w]["A"]), statistics.median(results[w]["B"])
        per_round = " ".join(f"{y / x:.2f}" for x, y in zip(results[w]["A"], results[w]["B"]))
        print(f"{NAMES[w]:26s} {a:12.5f} {b:12.5f} {b / a:7.3f}  {per_round}")
    return results


if __name__ == "__main__":
    main()
