"""Plots of training diagnostics (matplotlib, an optional dependency:
``pip install gainprop[plot]``)."""

import functools

import numpy as np

from .model_selection import _over_folds

__all__ = ["plot_learning_curves", "plot_learning_rate_sweep", "log_axis"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "gainprop.plotting needs matplotlib: pip install 'gainprop[plot]'"
        ) from exc
    return plt


def plot_learning_curves(*estimators, labels=None, ax=None, validation=True, log_y=False,
                         title=None):
    """Plot the loss per epoch of several fitted models on one figure.

    Curves that coincide (the same model trained twice, or by scikit-learn
    and by gainprop) are drawn with distinct line styles and markers, so
    that every curve shows.

    Parameters
    ----------
    *estimators : fitted MLPClassifier or MLPRegressor
        Models trained by a stochastic solver (they have ``loss_curve_``).
    labels : list of str, default=None
        Legend labels; default ``"model 1"``, ``"model 2"``, ...
    ax : matplotlib Axes, default=None
        Where to draw the loss; a new figure when None.
    validation : bool, default=True
        Also draw ``validation_scores_`` (on a second y axis) for models
        trained with early stopping.
    log_y : bool, default=False
        Logarithmic loss axis.
    title : str, default=None
        Title of the axes.

    Returns
    -------
    ax : matplotlib Axes
        The loss axes; ``ax.validation_axes`` is the score axes, or None.
    """
    plt = _pyplot()
    if not estimators:
        raise ValueError("plot_learning_curves needs at least one fitted estimator")
    labels = list(labels) if labels is not None else [f"model {i + 1}"
                                                      for i in range(len(estimators))]
    if len(labels) != len(estimators):
        raise ValueError(f"{len(labels)} labels for {len(estimators)} estimators")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    val_ax = None
    for i, (est, label) in enumerate(zip(estimators, labels)):
        curve = getattr(est, "loss_curve_", None)
        if curve is None:
            raise ValueError(f"{label}: no loss_curve_ (not fitted, or fitted with lbfgs)")
        color = f"C{i}"
        epochs = np.arange(1, len(curve) + 1)
        ax.plot(epochs, curve, color=color, label=f"{label} loss",
                **_distinct_style(i, len(curve)))
        scores = getattr(est, "validation_scores_", None)
        if validation and scores:
            if val_ax is None:
                val_ax = ax.twinx()
                val_ax.set_ylabel("validation score")
            val_ax.plot(np.arange(1, len(scores) + 1), scores, color=color, linestyle="--",
                        label=f"{label} validation")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(_integer_locator())
    ax.set_ylabel("training loss (log scale)" if log_y else "training loss")
    if log_y:
        log_axis(ax, "y")
    handles, names = ax.get_legend_handles_labels()
    if val_ax is not None:
        h2, n2 = val_ax.get_legend_handles_labels()
        handles, names = handles + h2, names + n2
    if title:
        ax.set_title(title)
    _legend_below(ax, handles, names)
    ax.grid(True, alpha=0.3)
    ax.validation_axes = val_ax
    return ax


#: Line styles of successive curves: the first wide and pale, the others
#: dashed, dotted, ... with markers, so that curves that coincide all show.
_STYLES = [dict(linestyle="-", linewidth=3.5, alpha=0.5),
           dict(linestyle="--", marker="o"), dict(linestyle=":", marker="s"),
           dict(linestyle="-.", marker="^"), dict(linestyle=(0, (5, 1, 1, 1)), marker="v")]


def _distinct_style(i, n_points):
    """Keyword arguments of ``Axes.plot`` for the i-th of several curves of
    n_points points (about 15 markers per curve)."""
    style = dict(_STYLES[i % len(_STYLES)])
    if "marker" in style:
        style.update(markersize=4, markevery=max(1, n_points // 15))
    return style


def _integer_locator():
    """Ticks at whole numbers only (epochs)."""
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


@functools.cache
def _plain_log_formatter_class():
    from matplotlib.ticker import LogFormatter

    class PlainLogFormatter(LogFormatter):
        """Log-axis tick labels as plain numbers (``0.001``, ``0.3``, ``2``)
        rather than powers such as ``2.6×10⁰``; ``LogFormatter`` still decides
        which ticks get a label."""

        def __call__(self, x, pos=None):
            return f"{x:g}" if super().__call__(x, pos) else ""

    return PlainLogFormatter


def log_axis(ax, which="y"):
    """Put an axis on a log scale with plain-number tick labels.

    Labels read ``0.001``, ``0.3``, ``2`` rather than powers such as
    ``2.6×10⁰``; matplotlib's log formatter still decides which ticks get
    one.

    Parameters
    ----------
    ax : matplotlib Axes
        The axes.
    which : {'x', 'y'}, default='y'
        The axis to put on a log scale.

    Returns
    -------
    ax : matplotlib Axes
        The same axes.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from gainprop.plotting import log_axis
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([1, 2, 3], [2.0, 0.5, 0.1])
    >>> _ = log_axis(ax, "y")
    >>> plt.close(fig)
    """
    if which not in ("x", "y"):
        raise ValueError(f"which must be 'x' or 'y', got {which!r}")
    getattr(ax, f"set_{which}scale")("log")
    axis = getattr(ax, f"{which}axis")
    axis.set_major_formatter(_plain_log_formatter_class()())
    axis.set_minor_formatter(_plain_log_formatter_class()())
    return ax


def _legend_below(ax, handles, labels):
    """A legend under the x axis's labels, outside the data area."""
    get_renderer = getattr(ax.figure.canvas, "get_renderer", None)
    if get_renderer is None:  # a vector backend's canvas: below typical tick and axis labels
        y = -0.2
    else:
        bottom = ax.xaxis.get_tightbbox(get_renderer()).y0
        y = ax.transAxes.inverted().transform((0.0, bottom))[1]
    return ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, y),
                     ncols=min(2, len(handles)), frameon=False)


def _sweep_data(result):
    """(rates, loss per fold or None, result or display fields) of what to draw."""
    from sklearn.model_selection import ValidationCurveDisplay

    if isinstance(result, ValidationCurveDisplay):
        return (np.asarray(result.param_range, dtype=float), None, result.train_scores,
                result.test_scores, result.score_name or "score", result.param_name, None)
    return (result.rates, result.train_losses, result.train_scores, result.test_scores,
            result.score_name, result.param_name, result.loss_name)


def plot_learning_rate_sweep(result, ax=None, *, log_loss=True, score=True, title=None):
    """Final training loss and score against the learning rate.

    The figure of the learning-rate sensitivity analysis (Jason Brownlee,
    "How to Configure the Learning Rate When Training Deep Learning Neural
    Networks", Machine Learning Mastery, 2019): the final training loss per
    rate on log-log axes (its "U"), with the training and held-out scores on a
    second y axis.

    Parameters
    ----------
    result : LearningRateSweepResult or sklearn.model_selection.ValidationCurveDisplay
        What :func:`gainprop.model_selection.learning_rate_sweep` returned,
        or a validation-curve display of scores against the rate (scikit-learn's
        ``ValidationCurveDisplay.from_estimator(..., param_name=
        'learning_rate_init')``, or ``result.to_display()``); a display has no
        loss, so only its scores are drawn (on ``ax`` itself).
    ax : matplotlib Axes, default=None
        Where to draw the loss; a new figure when None.
    log_loss : bool, default=True
        Logarithmic loss axis: a rate that ends at a huge loss does not
        flatten the others.
    score : bool, default=True
        Also draw the mean training and held-out scores (± one standard
        deviation over the folds) on a second y axis.
    title : str, default=None
        Title of the axes.

    Returns
    -------
    ax : matplotlib Axes
        The loss axes (the score axes for a display); ``ax.score_axes`` is
        the score axes, or None.

    Notes
    -----
    The loss line is the mean over the folds that did not diverge, the band
    the range over those folds.  A rate at which every fold diverged has no
    loss: it is marked by a red × at the top edge of the axes; a rate at which
    some folds diverged is circled in red.  Tick labels are plain numbers and
    the legend sits below the axes, so it covers no data.
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5), layout="constrained")
    rates, losses, train_scores, test_scores, score_name, param_name, loss_name = (
        _sweep_data(result))
    score_ax = None
    if losses is not None:
        loss, finite = _over_folds(losses, np.nanmean), np.isfinite(losses)
        ax.plot(rates, loss, "o-", color="C0", label="final training loss (mean over folds)")
        low = np.min(np.where(finite, losses, np.inf), axis=1)
        high = np.max(np.where(finite, losses, -np.inf), axis=1)
        some = finite.any(axis=1)
        if losses.shape[1] > 1 and some.any():
            ax.fill_between(rates, np.where(some, low, np.nan), np.where(some, high, np.nan),
                            color="C0", alpha=0.2, label="range over folds")
        every = ~some
        if every.any():
            ax.plot(rates[every], np.full(every.sum(), 0.97), "x", color="C3", markersize=10,
                    mew=2, clip_on=False, transform=ax.get_xaxis_transform(),
                    label="diverged (every fold)")
        partly = some & ~finite.all(axis=1)
        if partly.any():
            ax.plot(rates[partly], loss[partly], "o", mfc="none", mec="C3", markersize=12,
                    mew=1.5, label="diverged in some folds")
        log_loss = log_loss and np.any(loss[some] > 0)
        if log_loss:
            log_axis(ax, "y")
        ax.set_ylabel(f"final training loss ({loss_name}{', log scale' if log_loss else ''})")
        if score:
            score_ax = ax.twinx()
    elif score:
        score_ax = ax
    if score_ax is not None:
        for scores, name, style, color in ((train_scores, "training", "--", "C2"),
                                           (test_scores, "held-out", "-", "C1")):
            mean, std = _over_folds(scores, np.nanmean), _over_folds(scores, np.nanstd)
            if np.isnan(mean).all():
                continue
            score_ax.plot(rates, mean, "s" + style, color=color, markersize=4,
                          label=f"{name} {score_name}")
            score_ax.fill_between(rates, mean - std, mean + std, color=color, alpha=0.15)
        score_ax.set_ylabel(f"{score_name} (mean ± std over folds)")
        score_ax.yaxis.get_major_formatter().set_useOffset(False)
    log_axis(ax, "x")
    ax.set_xlabel(f"learning rate ({param_name}, log scale)")
    ax.grid(True, which="major", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if score_ax is not None and score_ax is not ax:
        more, names = score_ax.get_legend_handles_labels()
        handles, labels = handles + more, labels + names
    if title:
        ax.set_title(title)
    _legend_below(ax, handles, labels)
    ax.score_axes = score_ax
    return ax
