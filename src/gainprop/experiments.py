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

__all__ = ["EXPERIMENTS", "run_experiment", "seed000", "seed002", "lr_sweep"]


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
    """Learning-rate sensitivity analysis on Brownlee's "blobs" problem.

    Jason Brownlee, "How to Configure the Learning Rate When Training Deep
    Learning Neural Networks" (Machine Learning Mastery, 2019), trains a small
    MLP with SGD on a three-class "blobs" problem (1,000 points, 2 features,
    ``cluster_std=2``) at learning rates from 1 down to 1e-7 and compares how
    the loss and accuracy evolve: too large a rate oscillates or diverges, too
    small a one learns nothing in the allotted epochs.  Here:
    :func:`~gainprop.model_selection.learning_rate_sweep` with 3-fold
    cross-validation over those rates, the table of final training loss and
    scores, and two figures: final loss against rate (the "U"), and the loss
    curve of one fit on all the data at every rate.
    """
    from sklearn.base import clone
    from sklearn.datasets import make_blobs

    from . import MLPClassifier
    from .model_selection import learning_rate_sweep

    X, y = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2)
    rates = np.array([1.0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7])
    epochs = 20 if quick else 200
    if quick:
        rates = rates[::2]
    est = MLPClassifier(hidden_layer_sizes=(50,), solver="sgd", momentum=0.0, batch_size=32,
                        max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1, random_state=1)
    print(f"learning-rate sensitivity (Brownlee 2019): blobs (1000 x 2, 3 classes), 2-50-3 "
          f"relu, SGD batch 32, {epochs} epochs, 3-fold cross-validation")
    t0 = time.perf_counter()
    res = learning_rate_sweep(est, X, y, rates=rates, cv=3)
    elapsed = time.perf_counter() - t0
    rows = []
    for rate, loss, train, test, diverged in zip(res.rates, res.final_loss, res.train_score,
                                                 res.test_score, res.diverged):
        rows.append((f"{rate:.0e}", f"{loss:.4f}", f"{train:.3f}", f"{test:.3f}",
                     f"{diverged:.0%}"))
    _print_table(["rate", "final training loss", "train acc", "held-out acc", "diverged"],
                 rows)
    if np.isfinite(res.final_loss).any():
        best = int(np.nanargmin(res.final_loss))
        print(f"\nlowest final training loss at rate {res.rates[best]:.0e}; {elapsed:.1f} s")

    plt = _pyplot()
    figures = []
    if plt is not None and out is not None:
        from .plotting import _log_axis, plot_learning_rate_sweep

        ax = plot_learning_rate_sweep(res, title="final training loss against learning rate")
        path = _figure_path(out, "lr_sweep.png")
        ax.figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(ax.figure)
        figures.append(path)
        fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
        for rate in res.rates:
            model = clone(est).set_params(learning_rate_init=rate)
            try:
                _fit(model, X, y)
            except ValueError:  # diverged: its curve up to there is still drawn
                pass
            curve = getattr(model, "loss_curve_", [])
            ax.plot(np.arange(1, len(curve) + 1), curve, label=f"rate {rate:g}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss (cross-entropy, log scale)")
        _log_axis(ax, "y")
        ax.set_title("loss curve per learning rate (one fit on all the data)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                  frameon=False)
        path = _figure_path(out, "lr_sweep_curves.png")
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        figures.append(path)
    for path in figures:
        print(f"figure: {path}")
    return {"result": res, "figures": figures, "seconds": elapsed}


def _plot_curves(panels, out, name, suptitle):
    """One subplot per panel: (title, [(label, loss_curve)]) -> PNG path."""
    plt = _pyplot()
    if plt is None or out is None:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4), squeeze=False)
    for ax, (title, curves) in zip(axes[0], panels):
        for label, curve in curves:
            ax.plot(np.arange(1, len(curve) + 1), curve, label=label)
        ax.set_title(title, fontsize="medium")
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss (cross-entropy)")
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(suptitle)
    fig.tight_layout()
    path = _figure_path(out, name)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _fit(est, X, y):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        est.fit(X, y)
    return time.perf_counter() - t0


#: seed 000's three experiments: (title, difficulty, seed rate, [(label, optimizer args)])
_SEED000 = [
    ("first: easy set, rate 0.01", "easy", 0.01,
     [("no modifier", None), ("b=0.05 p=0.95 [0.1, 10]", (0.05, 0.95, (0.1, 10.0))),
      ("b=0.1 p=0.9 [0.01, 100]", (0.1, 0.9, (0.01, 100.0)))]),
    ("second: harder set, rate 0.01", "hard", 0.01,
     [("no modifier", None), ("b=0.05 p=0.95 [0.1, 10]", (0.05, 0.95, (0.1, 10.0)))]),
    ("third: harder set, rate 0.001", "hard", 0.001,
     [("no modifier", None), ("b=0.005 p=0.995 [0.01, 100]", (0.005, 0.995, (0.01, 100.0)))]),
]


def seed000(quick=False, out=None, n_train=1040, n_test=1040, epochs=300):
    """Seed 000: local gains (per-weight learning-rate modifiers).

    The seed's network: 841 inputs (29×29 letter images), 100 sigmoid
    units, 26 softmax outputs, cross-entropy, full batch, the same uniform
    initial weights for every run, 300 epochs; three experiments with and
    without local gains.  The seed's rates (0.01, 0.001) apply to an error
    summed over its training set; gainprop, like scikit-learn, minimises the
    mean, so the rates here are the seed's times the number of training
    images.  Its images are not available: ``load_letters`` draws them
    (its 'easy' set for the first experiment, 'hard' for the others).
    """
    from . import MLPClassifier
    from .datasets import load_letters
    from .optimizers import SGD, LocalGain

    if quick:
        n_train, n_test, epochs = 260, 260, 20
    sets = {}
    for difficulty in ("easy", "hard"):
        X, y = load_letters(n_train + n_test, random_state=0, difficulty=difficulty,
                            return_X_y=True)
        sets[difficulty] = (X[:n_train], y[:n_train], X[n_train:], y[n_train:])
    print(f"seed 000: 841-100-26 sigmoid/softmax, full batch, {epochs} epochs, {n_train} "
          f"training and {n_test} test letters; rate = seed rate x {n_train}")
    rows, panels, results = [], [], []
    for title, difficulty, seed_rate, runs in _SEED000:
        X, y, Xt, yt = sets[difficulty]
        curves = []
        for label, gains in runs:
            solver = SGD(momentum=0.0) if gains is None else LocalGain(bonus=gains[0], penalty=gains[1],
                                                           gain_limits=gains[2])
            clf = MLPClassifier(hidden_layer_sizes=(100,), activation="logistic", solver=solver,
                                batch_size=n_train, learning_rate_init=seed_rate * n_train,
                                alpha=0.0, init=("uniform", 0.05), max_iter=epochs, tol=0.0,
                                n_iter_no_change=epochs + 1, random_state=0)
            seconds = _fit(clf, X, y)
            curve = np.asarray(clf.loss_curve_)
            rises = int((np.diff(curve) > 0).sum())
            train, test = clf.score(X, y), clf.score(Xt, yt)
            rows.append((title.split(":")[0], label, f"{clf.loss_:.4f}", rises,
                         f"{train:.2%}", f"{test:.2%}", f"{seconds:.1f}"))
            results.append(dict(experiment=title, setting=label, loss=clf.loss_, rises=rises,
                                train=train, test=test, seconds=seconds))
            curves.append((label, curve))
        panels.append((title, curves))
    _print_table(["exp.", "setting", "final loss", "loss rises", "train acc", "test acc",
                  "time [s]"], rows)
    figure = _plot_curves(panels, out, "seed000.png",
                          "seed 000: training loss with and without local gains")
    if figure:
        print(f"figure: {figure}")
    return {"results": results, "figures": [figure] if figure else []}


def seed002(quick=False, out=None, cifar=None, n_samples=10000, max_epochs=30,
            batch_sizes=(250, 500, 1000, 2000), target_loss=0.01, plain_rate=0.01):
    """Seed 002: mini-batch iRprop− against plain back-propagation.

    The seed's network: 3072 inputs (CIFAR-10, 10,000 images, ZCA-whitened),
    hidden layers of 2048, 1024 and 512 ReLU units with batch normalisation,
    10 softmax outputs, Kaiming-normal initial weights; mini-batch iRprop−
    (η+ = 1.2, η− = 0.5, Δ in [0.001, 0.006]) against plain back-propagation
    (SGD at ``plain_rate``, the seed does not give its rate) with batches of
    250, 500, 1000 and 2000, counting the epochs until the training loss is
    below 0.01 (at most ``max_epochs``).  Without ``cifar`` (a folder with the
    CIFAR-10 python batches) the data is :func:`gainprop.datasets.make_cifar_like`,
    a documented stand-in of the same shape.  ``quick``: a small network on
    a small stand-in, for tests.
    """
    from . import MLPClassifier
    from .datasets import load_cifar10, make_cifar_like
    from .optimizers import SGD, Rprop
    from .preprocessing import ZCAWhitener

    hidden = (2048, 1024, 512)
    if quick:
        n_samples, max_epochs, hidden, batch_sizes = 1000, 3, (64, 32, 16), (250, 500)
    if cifar is not None:
        X, y = load_cifar10(cifar, n_samples=n_samples, return_X_y=True)
        source = f"CIFAR-10 from {cifar}"
    else:
        X, y = make_cifar_like(n_samples, random_state=0)
        source = "the CIFAR-shaped stand-in (make_cifar_like; not CIFAR-10)"
    t0 = time.perf_counter()
    X = ZCAWhitener(epsilon=0.1).fit_transform(X)
    zca_seconds = time.perf_counter() - t0
    units = "-".join(str(u) for u in (X.shape[1],) + hidden + (10,))
    print(f"seed 002: {units} ReLU + batch norm, Kaiming normal, {X.shape[0]} images of "
          f"{source}, ZCA-whitened ({zca_seconds:.1f} s); epochs to loss < {target_loss} "
          f"(at most {max_epochs})")
    rows, results, panels = [], [], []
    for bs in batch_sizes:
        curves = []
        # Rprop's step sizes are its rates: it takes no learning_rate_init
        for label, solver, rate in [("mini-batch iRprop-", Rprop.seed002(), {}),
                                    ("plain back-propagation", SGD(momentum=0.0),
                                     {"learning_rate_init": plain_rate})]:
            clf = MLPClassifier(hidden_layer_sizes=hidden, solver=solver, batch_size=bs,
                                batch_norm=True, init="kaiming_normal", alpha=0.0,
                                max_iter=max_epochs, tol=0.0, n_iter_no_change=max_epochs + 1,
                                target_loss=target_loss, random_state=0, **rate)
            seconds = _fit(clf, X, y)
            reached = clf.loss_ < target_loss
            epochs = clf.n_iter_ if reached else None
            rows.append((bs, label, epochs if reached else f"> {max_epochs}",
                         f"{clf.loss_:.4f}", f"{clf.score(X, y):.2%}", f"{seconds:.1f}"))
            results.append(dict(batch_size=bs, method=label, epochs=epochs, loss=clf.loss_,
                                train=clf.score(X, y), seconds=seconds))
            curves.append((label, clf.loss_curve_))
        panels.append((f"batch size {bs}", curves))
    _print_table(["batch", "method", f"epochs to <{target_loss}", "final loss", "train acc",
                  "time [s]"], rows)
    figure = _plot_curves(panels, out, "seed002.png",
                          "seed 002: mini-batch iRprop- vs plain back-propagation")
    if figure:
        print(f"figure: {figure}")
    return {"results": results, "figures": [figure] if figure else []}


#: name -> (function, one-line description)
EXPERIMENTS = {
    "seed000": (seed000, "seed 000: local gains with and without, three settings, 300 epochs"),
    "seed002": (seed002, "seed 002: mini-batch iRprop- vs plain back-propagation by batch size"),
    "lr-sweep": (lr_sweep, "learning-rate sensitivity analysis after Brownlee (2019): the "
                          "'U' of final loss against rate"),
}


def run_experiment(name, quick=False, out=None, **kwargs):
    """Run the experiment called ``name`` (a key of :data:`EXPERIMENTS`)."""
    try:
        func = EXPERIMENTS[name][0]
    except KeyError:
        raise ValueError(f"unknown experiment {name!r}; choose from {sorted(EXPERIMENTS)}")
    return func(quick=quick, out=out, **kwargs)
