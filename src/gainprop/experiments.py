"""The published experiments gainprop reproduces, one command each.

``python -m gainprop experiment NAME [--quick] [--out DIR]`` runs one of
:data:`EXPERIMENTS`, prints a table of what it measured and writes its
figure(s) as PNG into ``--out`` (when matplotlib is installed):

- ``local-gains`` (:func:`local_gains`): Hinton's per-weight local gains on
  29×29 letter images, in the three settings of the blog article "Local
  rate of training of neuron weights in the backpropagation algorithm";
- ``minibatch-rprop`` (:func:`minibatch_rprop`): Ndauka & Zheng's bounded
  mini-batch iRprop− against plain back-propagation by batch size;
- ``lr-sweep`` (:func:`lr_sweep`): Brownlee's learning-rate sensitivity
  analysis.

Each experiment function takes ``quick`` (a small, fast version for tests)
and ``out`` (a directory or None) and returns a dict of its results.
:func:`demo` is ``python -m gainprop demo``.
"""

import os
import sys
import time
import warnings

import numpy as np

__all__ = ["EXPERIMENTS", "run_experiment", "demo", "local_gains", "minibatch_rprop",
           "lr_sweep"]


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

    Parameters
    ----------
    quick : bool, default=False
        Every other rate, 20 epochs instead of 200.
    out : str or None, default=None
        Folder for the figures ``lr_sweep.png`` and ``lr_sweep_curves.png``;
        None draws none.

    Returns
    -------
    dict
        ``result``: the :class:`~gainprop.model_selection.LearningRateSweepResult`;
        ``figures``: the paths written; ``seconds``: the sweep's time.
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
        from .plotting import _integer_locator, log_axis, plot_learning_rate_sweep

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
        ax.xaxis.set_major_locator(_integer_locator())
        ax.set_ylabel("training loss (cross-entropy, log scale)")
        log_axis(ax, "y")
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
    """One subplot per panel -> PNG path (None without matplotlib or out).

    A panel is ``(title, curves)`` or ``(title, curves, ylabel)``; a curve is
    ``(label, values)`` or ``(label, values, style)``, ``style`` keyword
    arguments of ``Axes.plot`` (curves that coincide get distinct styles so
    that both show).  Epochs are integer ticks; the log axis has plain
    labels.
    """
    plt = _pyplot()
    if plt is None or out is None:
        return None
    from .plotting import _integer_locator, _legend_below, log_axis

    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), squeeze=False,
                             layout="constrained")
    for ax, (title, curves, *ylabel) in zip(axes[0], panels):
        for label, curve, *style in curves:
            ax.plot(np.arange(1, len(curve) + 1), curve, label=label, **(style[0] if style else {}))
        ax.set_title(title, fontsize="medium")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(_integer_locator())
        ax.set_ylabel(ylabel[0] if ylabel else "training loss (cross-entropy, log scale)")
        log_axis(ax, "y")
        ax.grid(True, alpha=0.3)
        _legend_below(ax, *ax.get_legend_handles_labels())
    fig.suptitle(suptitle)
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


def demo(quick=False, out=None):
    """What gainprop is for, in a few seconds: ``python -m gainprop demo``.

    Two comparisons, each printed as a table, and one figure:

    1. **The same model, faster.**  scikit-learn's ``MLPClassifier`` and
       gainprop's, with the same parameters and ``random_state``, trained by
       SGD with Nesterov momentum on mini-batches of 8 (``load_digits``, a
       64-64-10 ReLU network).  Both start from the same weights and follow
       the same trajectory (their loss curves agree to rounding); on
       mini-batches Python's per-batch work dominates scikit-learn's time,
       and gainprop runs each epoch in one call into C.
    2. **Local gains against plain gradient descent.**  Hinton's per-weight
       local gains (:class:`~gainprop.optimizers.LocalGain`, the settings of
       the first experiment of the article "Local rate of training of neuron
       weights in the backpropagation algorithm") against plain full-batch
       gradient descent at the same global rate, on generated 29×29 letter
       images (:func:`~gainprop.datasets.load_letters`, its 'easy' set) with
       an 841-100-26 sigmoid network, scored on as many held-out letters.

    Parameters
    ----------
    quick : bool, default=False
        Fewer epochs and letters (a second or two).
    out : str or None, default=None
        Folder for the figure ``demo.png``; None draws none.

    Returns
    -------
    dict
        ``speed``: per library, the fit's seconds, final loss and held-out
        accuracy, and ``max_curve_difference``, the largest difference
        between the two loss curves; ``local_gains``: per run, final loss,
        training and held-out accuracy; ``figures``: the paths written.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as ScikitLearnMLP

    from . import MLPClassifier, __version__
    from .callbacks import ProgressBar
    from .datasets import load_letters
    from .optimizers import SGD, LocalGain

    print(f"gainprop {__version__} demo")
    # 1. the same model as scikit-learn's, faster
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25,
                                                        random_state=0, stratify=y)
    epochs = 4 if quick else 12
    common = dict(hidden_layer_sizes=(64,), solver="sgd", batch_size=8, learning_rate_init=0.01,
                  max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1, random_state=0)
    print(f"\n1. The same model, faster: load_digits ({len(y_train)} training, {len(y_test)} "
          f"held-out images), 64-64-10 ReLU, SGD with Nesterov momentum, mini-batches of 8, "
          f"{epochs} epochs, the same parameters and random_state for both libraries")
    speed, curves = {}, []
    for name, est in (("scikit-learn", ScikitLearnMLP(**common)),
                      ("gainprop", MLPClassifier(**common))):
        seconds = _fit(est, X_train, y_train)
        speed[name] = dict(seconds=seconds, loss=est.loss_, test=est.score(X_test, y_test))
        curves.append(np.asarray(est.loss_curve_))
    difference = float(np.max(np.abs(curves[0] - curves[1])))
    speedup = speed["scikit-learn"]["seconds"] / speed["gainprop"]["seconds"]
    _print_table(["library", "time [s]", "final loss", "held-out acc"],
                 [(name, f"{r['seconds']:.3f}", f"{r['loss']:.6f}", f"{r['test']:.2%}")
                  for name, r in speed.items()])
    same = difference <= 1e-9 * max(1.0, float(curves[0].max()))
    print(f"gainprop {'follows' if same else 'does NOT follow'} scikit-learn's trajectory (the "
          f"loss curves differ by at most {difference:.1e}), {speedup:.1f}x faster in this run")

    # 2. local gains against plain gradient descent
    n_train = n_test = 260 if quick else 1040
    epochs = 10 if quick else 40
    rate = 0.01 * n_train  # the article's rate for its summed error, here for the mean
    X, y = load_letters(n_train + n_test, random_state=0, difficulty="easy", return_X_y=True)
    X_train, y_train, X_test, y_test = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    print(f"\n2. Local gains (Hinton) against plain gradient descent: {n_train} generated 29x29 "
          f"letter images ({n_test} held out), 841-100-26 sigmoid/softmax, full batch, "
          f"{epochs} epochs, global rate {rate:g} for both, the same initial weights")
    gains, letter_curves = {}, []
    for name, solver in (("plain gradient descent", SGD(momentum=0.0)),
                         ("local gains", LocalGain(bonus=0.05, penalty=0.95,
                                                   gain_limits=(0.1, 10.0)))):
        print(f"training: {name}", file=sys.stderr, flush=True)
        est = MLPClassifier(hidden_layer_sizes=(100,), activation="logistic", solver=solver,
                            batch_size=n_train, learning_rate_init=rate, alpha=0.0,
                            init=("uniform", 0.05), max_iter=epochs, tol=0.0,
                            n_iter_no_change=epochs + 1, random_state=0,
                            callbacks=[ProgressBar()])
        _fit(est, X_train, y_train)
        gains[name] = dict(loss=est.loss_, train=est.score(X_train, y_train),
                           test=est.score(X_test, y_test))
        letter_curves.append((name, est.loss_curve_))
    _print_table(["run", "final loss", "train acc", "held-out acc"],
                 [(name, f"{r['loss']:.4f}", f"{r['train']:.2%}", f"{r['test']:.2%}")
                  for name, r in gains.items()])
    plain, local = gains["plain gradient descent"], gains["local gains"]
    change = "raise" if local["test"] > plain["test"] else (
        "lower" if local["test"] < plain["test"] else "leave")
    print(f"after {epochs} epochs, local gains {change} held-out accuracy "
          f"({plain['test']:.2%} -> {local['test']:.2%}) and take the training loss from "
          f"{plain['loss']:.4f} to {local['loss']:.4f}")

    figure = _plot_curves(
        [(f"the same trajectory, gainprop {speedup:.1f}x faster",
          [("scikit-learn", curves[0], dict(color="C0", linewidth=4, alpha=0.45)),
           ("gainprop (coincides)", curves[1],
            dict(color="C3", linestyle="--", marker="o", markersize=3))]),
         ("letters: local gains against plain gradient descent", letter_curves)],
        out, "demo.png", "gainprop demo")
    print(f"\nfigure: {figure}" if figure else "\n(install matplotlib for the figure: "
          "pip install 'gainprop[plot]')")
    speed["max_curve_difference"] = difference
    return {"speed": speed, "local_gains": gains, "figures": [figure] if figure else []}


#: The three experiments of the local-gains article: (title, difficulty, its
#: rate for a summed error, [(label, (bonus, penalty, gain_limits) or None)])
_LOCAL_GAINS_SETTINGS = [
    ("first: easy set, rate 0.01", "easy", 0.01,
     [("no modifier", None), ("b=0.05 p=0.95 [0.1, 10]", (0.05, 0.95, (0.1, 10.0))),
      ("b=0.1 p=0.9 [0.01, 100]", (0.1, 0.9, (0.01, 100.0)))]),
    ("second: harder set, rate 0.01", "hard", 0.01,
     [("no modifier", None), ("b=0.05 p=0.95 [0.1, 10]", (0.05, 0.95, (0.1, 10.0)))]),
    ("third: harder set, rate 0.001", "hard", 0.001,
     [("no modifier", None), ("b=0.005 p=0.995 [0.01, 100]", (0.005, 0.995, (0.01, 100.0)))]),
]


def local_gains(quick=False, out=None, n_train=1040, n_test=1040, epochs=300):
    """Per-weight local gains on letter images, with and without.

    The blog article "Local rate of training of neuron weights in the
    backpropagation algorithm" tried Hinton's local gains (Neural Networks
    for Machine Learning, lecture 6d; :class:`~gainprop.optimizers.LocalGain`)
    on an 841-100-26 network: 29×29 letter images, 100 sigmoid units, 26
    softmax outputs, cross-entropy, full batch, the same uniform initial
    weights for every run, 300 epochs, in three settings.  Its rates (0.01,
    0.001) apply to an error summed over the training set; gainprop, like
    scikit-learn, minimises the mean, so the rates here are the article's
    times the number of training images.  Its images are not available:
    :func:`~gainprop.datasets.load_letters` draws them (its 'easy' set for the
    first experiment, 'hard' for the others).

    Parameters
    ----------
    quick : bool, default=False
        A small version (260 training and test images, 20 epochs).
    out : str or None, default=None
        Folder for the figure ``local_gains.png``; None draws none.
    n_train : int, default=1040
        Training images.
    n_test : int, default=1040
        Test images.
    epochs : int, default=300
        Epochs of every run.

    Returns
    -------
    dict
        ``results``: one dict per run (experiment, setting, loss, rises: the
        epochs whose loss rose, train and test accuracy, seconds);
        ``figures``: the paths written.
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
    print(f"local gains (Hinton, lecture 6d) on letter images: 841-100-26 sigmoid/softmax, "
          f"full batch, {epochs} epochs, {n_train} training and {n_test} test letters; "
          f"rate = the article's rate x {n_train}")
    rows, panels, results = [], [], []
    for title, difficulty, article_rate, runs in _LOCAL_GAINS_SETTINGS:
        X, y, Xt, yt = sets[difficulty]
        curves = []
        for label, gains in runs:
            solver = SGD(momentum=0.0) if gains is None else LocalGain(
                bonus=gains[0], penalty=gains[1], gain_limits=gains[2])
            clf = MLPClassifier(hidden_layer_sizes=(100,), activation="logistic", solver=solver,
                                batch_size=n_train, learning_rate_init=article_rate * n_train,
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
    figure = _plot_curves(panels, out, "local_gains.png",
                          "letter images: training loss with and without local gains")
    if figure:
        print(f"figure: {figure}")
    return {"results": results, "figures": [figure] if figure else []}


def minibatch_rprop(quick=False, out=None, cifar=None, n_samples=10000, max_epochs=30,
                    batch_sizes=(250, 500, 1000, 2000), target_loss=0.01, plain_rate=0.01):
    """Bounded mini-batch iRprop− against plain back-propagation, by batch size.

    Ndauka & Zheng ("Effect of Local Dynamic Learning Rate Adaptation on
    Mini-Batch Gradient Descent for Training Deep Learning Models with Back
    Propagation Algorithm") train a 3072-2048-1024-512-10 network on 10,000
    ZCA-whitened CIFAR-10 images (ReLU units with batch normalisation, 10
    softmax outputs, Kaiming-normal initial weights) with their mini-batch
    iRprop− (:meth:`Rprop.minibatch() <gainprop.optimizers.Rprop.minibatch>`:
    η+ = 1.2, η− = 0.5, Δ in [0.001, 0.006]) and with plain back-propagation
    (SGD at ``plain_rate``; the paper does not give its rate), with batches of
    250, 500, 1000 and 2000, counting the epochs until the training loss is
    below 0.01.

    Parameters
    ----------
    quick : bool, default=False
        A small network (64-32-16) on 1,000 stand-in images, 3 epochs,
        batches of 250 and 500.
    out : str or None, default=None
        Folder for the figure ``minibatch_rprop.png``; None draws none.
    cifar : str or None, default=None
        Folder with the CIFAR-10 python batches
        (:func:`~gainprop.datasets.load_cifar10`); None uses
        :func:`~gainprop.datasets.make_cifar_like`, a stand-in of the same
        shape that is not CIFAR-10.
    n_samples : int, default=10000
        Training images.
    max_epochs : int, default=30
        Epochs at most per run.
    batch_sizes : tuple of int, default=(250, 500, 1000, 2000)
        The batch sizes compared.
    target_loss : float, default=0.01
        Training stops once the loss is below it.
    plain_rate : float, default=0.01
        Learning rate of plain back-propagation.

    Returns
    -------
    dict
        ``results``: one dict per run (batch_size, method, epochs to the
        target or None, loss, train accuracy, seconds); ``figures``: the
        paths written.
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
    print(f"mini-batch iRprop- (Ndauka & Zheng): {units} ReLU + batch norm, Kaiming normal, "
          f"{X.shape[0]} images of {source}, ZCA-whitened ({zca_seconds:.1f} s); epochs to loss < {target_loss} "
          f"(at most {max_epochs})")
    rows, results, panels = [], [], []
    for bs in batch_sizes:
        curves = []
        # Rprop's step sizes are its rates: it takes no learning_rate_init
        for label, solver, rate in [("mini-batch iRprop-", Rprop.minibatch(), {}),
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
    figure = _plot_curves(panels, out, "minibatch_rprop.png",
                          "bounded mini-batch iRprop- against plain back-propagation")
    if figure:
        print(f"figure: {figure}")
    return {"results": results, "figures": [figure] if figure else []}


#: name -> (function, one-line description)
EXPERIMENTS = {
    "local-gains": (local_gains, "Hinton's local gains on letter images, with and without, in "
                                 "the three settings of the local-gains article, 300 epochs"),
    "minibatch-rprop": (minibatch_rprop, "Ndauka & Zheng's bounded mini-batch iRprop- against "
                                         "plain back-propagation by batch size"),
    "lr-sweep": (lr_sweep, "learning-rate sensitivity analysis after Brownlee (2019): the "
                          "'U' of final loss against rate"),
}


def run_experiment(name, quick=False, out=None, **kwargs):
    """Run the experiment called ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`EXPERIMENTS`: 'local-gains', 'minibatch-rprop' or
        'lr-sweep'.
    quick : bool, default=False
        Run the small, fast version.
    out : str or None, default=None
        Folder for the figures; None draws none.
    **kwargs : dict
        Further arguments of the experiment's function.

    Returns
    -------
    dict
        What the experiment's function returns.
    """
    try:
        func = EXPERIMENTS[name][0]
    except KeyError:
        raise ValueError(f"unknown experiment {name!r}; choose from {sorted(EXPERIMENTS)}")
    return func(quick=quick, out=out, **kwargs)
