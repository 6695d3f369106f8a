"""Plots of training diagnostics."""

import pytest

from gainprop import MLPClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ---------------------------------------------------------------- plots
def test_plots_render_png(tmp_path, digits_500):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gainprop.plotting import plot_learning_curves

    X, y = digits_500
    a = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)
    b = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0, early_stopping=True,
                      solver="sgd").fit(X, y)
    ax = plot_learning_curves(a, b, labels=["adam", "sgd"])
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "training loss"
    assert ax.validation_axes.get_ylabel() == "validation score"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "adam loss", "sgd loss", "sgd validation"]
    path = tmp_path / "curves.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 1000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plt.close(ax.figure)

    with pytest.raises(ValueError, match="labels"):
        plot_learning_curves(a, labels=["x", "y"])
