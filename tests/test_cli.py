"""The command line: the demo and the experiments' --quick modes."""

import subprocess
import sys

import pytest

from gainprop.__main__ import main


def test_letters_demo_runs_and_reports(tmp_path, capsys):
    assert main(["demo", "--epochs", "5", "--n-train", "260", "--n-test", "130",
                 "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "841-100-26" in out
    for run in ("scikit-learn SGD", "gainprop SGD", "gainprop local gains"):
        assert run in out
    assert "follows scikit-learn's trajectory" in out  # same weights, same rule, same loss
    assert "epoch 5/5" in captured.err  # the progress display
    if pytest.importorskip("matplotlib"):
        assert (tmp_path / "demo_loss_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_digits_comparison_runs_and_reports(capsys):
    assert main(["digits", "--epochs", "2", "--hidden", "16"]) == 0
    out = capsys.readouterr().out
    assert "load_digits" in out
    for solver in ("adam", "sgd+nesterov", "online", "lbfgs"):
        assert solver in out
    assert out.count("scikit-learn") >= 4 and "speed-up" in out


@pytest.mark.parametrize("name", ["seed000", "seed002"])
def test_seed_experiments_quick(tmp_path, capsys, name):
    assert main(["experiment", name, "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    if name == "seed000":
        assert out.count("no modifier") == 3 and "b=0.005 p=0.995" in out
    else:
        assert "mini-batch iRprop-" in out and "plain back-propagation" in out
        assert "stand-in" in out
    if pytest.importorskip("matplotlib"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_lr_sweep_quick(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["experiment", "lr-sweep", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "final training loss" in out and "lowest final training loss at rate" in out
    for name in ("lr_sweep.png", "lr_sweep_curves.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "gainprop", "experiment", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "lr-sweep" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "gainprop", "experiment", "nope"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
