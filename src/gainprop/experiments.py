"""The seeds' experiments, reproducible with one command each.

``python -m gainprop experiment NAME [--quick] [--out DIR]`` runs one of
:data:`EXPERIMENTS`, prints a table of what it measured and writes its
figure(s) as PNG into ``--out`` (when matplotlib is installed).  Each
experiment function takes ``quick`` (a small, fast version for tests) and
``out`` (a directory or None) and returns a dict of its results.
"""

import os
import time
import warnings

import numpy as np

__all__ = ["EXPERIMENTS", "run_experiment", "lr_sweep"]


def _figure_path(out, name):
    if out is None:
        return None
    os.makedirs(out, exist_ok=True)
    return os.path.join(out, name)


def _pyplot():
    """matplotlib.pyplot with the Agg backend, or None when not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _print_table(header, rows, file=None):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    line = "  ".join(str(h).rjust(w) for h, w in zip(header, widths))
    print(line, file=file)
    print("-" * len(line), file=file)
    for r in rows:
        print("  ".join(str(c).rjust(w) for c, w in zip(r, widths)), file=file)


def lr_sweep(quick=False, out=None):
    """Seed 003's learning-rate sensitivity analysis.

    The seed trains a small MLP with SGD on a three-class "blobs" problem
    (1,000 points, 2 features, ``cluster_std=2``) at learning rates from 1
    down to 1e-7 and compares how the loss and accuracy evolve: too large a
    rate oscillates or diverges, too small a one learns nothing in the
    allotted epochs.  Here: ``learning_rate_sweep`` with 3-fold
    cross-validation over those rates, the table of final loss and scores,
    and two figures: final loss against rate (the "U"), and the loss curves
    of every rate.
    """
    from sklearn.datasets import make_blobs
    from sklearn.exceptions import ConvergenceWarning

    from . import MLPClassifier
    from .model_selection import learning_rate_sweep

    X, y = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2)
    rates = np.array([1.0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7])
    epochs = 20 if quick else 200
    if quick:
        rates = rates[::2]
    est = MLPClassifier(hidden_layer_sizes=(50,), solver="sgd", momentum=0.0, batch_size=32,
                        max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1, random_state=1)
    print(f"seed 003: learning-rate sensitivity, blobs (1000 x 2, 3 classes), 2-50-3 relu, SGD "
          f"batch 32, {epochs} epochs, 3-fold cross-validation")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = learning_rate_sweep(est, X, y, rates=rates, cv=3)
    elapsed = time.perf_counter() - t0
    rows = []
    for i, rate in enumerate(res.rates):
        rows.append((f"{rate:.0e}", f"{res.final_loss[i]:.4f}", f"{res.train_score[i]:.3f}",
                     f"{res.test_score[i]:.3f}", f"{res.diverged[i]:.0%}"))
    _print_table(["rate", "final loss", "train acc", "test acc", "diverged"], rows)
    best = int(np.nanargmin(res.final_loss))
    print(f"\nlowest final loss at rate {res.rates[best]:.0e}; {elapsed:.1f} s")

    plt = _pyplot()
    figures = []
    if plt is not None and out is not None:
        from .plotting import plot_learning_rate_sweep

        ax = plot_learning_rate_sweep(res, title="seed 003: final loss against learning rate")
        path = _figure_path(out, "lr_sweep.png")
        ax.figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(ax.figure)
        figures.append(path)
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for rate, curve in zip(res.rates, res.loss_curves):
            if curve:
                ax.plot(np.arange(1, len(curve) + 1), curve, label=f"lr={rate:.0e}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss")
        ax.set_yscale("log")
        ax.set_title("seed 003: loss curves per learning rate (first fold)")
        ax.legend(loc="best", fontsize="small")
        path = _figure_path(out, "lr_sweep_curves.png")
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        figures.append(path)
    for path in figures:
        print(f"figure: {path}")
    return {"result": res, "figures": figures, "seconds": elapsed}


#: name -> (function, one-line description)
EXPERIMENTS = {
    "lr-sweep": (lr_sweep, "seed 003: learning-rate sensitivity analysis (the 'U' curve)"),
}


def run_experiment(name, quick=False, out=None, **kwargs):
    """Run the experiment called ``name`` (a key of :data:`EXPERIMENTS`)."""
    try:
        func = EXPERIMENTS[name][0]
    except KeyError:
        raise ValueError(f"unknown experiment {name!r}; choose from {sorted(EXPERIMENTS)}")
    return func(quick=quick, out=out, **kwargs)
