"""The command line: the demo and the experiments' --quick modes."""

import subprocess
import sys

import pytest

from gainprop.__main__ import main


def test_demo_runs_and_reports(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    out = captured.out
    for part in ("1. The same model, faster", "2. Local gains (Hinton)", "scikit-learn",
                 "plain gradient descent", "local gains", "held-out acc"):
        assert part in out
    # same weights, same rule: scikit-learn's loss curve to rounding
    assert "gainprop follows scikit-learn's trajectory" in out
    assert "epoch 10/10" in captured.err  # the progress display of the letters runs
    if pytest.importorskip("matplotlib"):
        assert (tmp_path / "demo.png").read_bytes()[:4] == b"\x89PNG"


def test_demo_results_agree_with_scikit_learn():
    from gainprop.experiments import demo

    res = demo(quick=True)
    assert res["speed"]["max_curve_difference"] < 1e-12
    assert res["speed"]["scikit-learn"]["test"] == res["speed"]["gainprop"]["test"]
    assert set(res["local_gains"]) == {"plain gradient descent", "local gains"}
    assert res["figures"] == []


def test_digits_comparison_runs_and_reports(capsys):
    assert main(["digits", "--quick", "--hidden", "16"]) == 0
    out = capsys.readouterr().out
    assert "load_digits" in out
    for solver in ("adam", "sgd+nesterov", "online", "lbfgs"):
        assert solver in out
    assert out.count("scikit-learn") >= 4 and "speed-up" in out


@pytest.mark.parametrize("name", ["local-gains", "minibatch-rprop"])
def test_published_experiments_quick(tmp_path, capsys, name):
    assert main(["experiment", name, "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    if name == "local-gains":
        assert out.count("no modifier") == 3 and "b=0.005 p=0.995" in out
    else:
        assert "mini-batch iRprop-" in out and "plain back-propagation" in out
        assert "stand-in" in out
    if pytest.importorskip("matplotlib"):
        figure = tmp_path / f"{name.replace('-', '_')}.png"
        assert figure.read_bytes()[:4] == b"\x89PNG"


def test_lr_sweep_quick(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["experiment", "lr-sweep", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "final training loss" in out and "lowest final training loss at rate" in out
    for name in ("lr_sweep.png", "lr_sweep_curves.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_module_entry_point():
    from gainprop import __version__

    proc = subprocess.run([sys.executable, "-m", "gainprop", "--version"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == f"gainprop {__version__}"
    proc = subprocess.run([sys.executable, "-m", "gainprop", "experiment", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "lr-sweep" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "gainprop", "experiment", "nope"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
