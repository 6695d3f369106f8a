"""Plots of training diagnostics (matplotlib, an optional dependency:
``pip install gainprop[plot]``)."""

import numpy as np

__all__ = ["plot_learning_curves", "plot_learning_rate_sweep"]


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
    """Loss per epoch of several fitted models on one figure (as the seeds'
    figures compare training with and without local gains).

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
        _, ax = plt.subplots(figsize=(7, 4.5))
    val_ax = None
    for i, (est, label) in enumerate(zip(estimators, labels)):
        curve = getattr(est, "loss_curve_", None)
        if curve is None:
            raise ValueError(f"{label}: no loss_curve_ (not fitted, or fitted with lbfgs)")
        color = f"C{i}"
        epochs = np.arange(1, len(curve) + 1)
        ax.plot(epochs, curve, color=color, label=f"{label} loss")
        scores = getattr(est, "validation_scores_", None)
        if validation and scores:
            if val_ax is None:
                val_ax = ax.twinx()
                val_ax.set_ylabel("validation score")
            val_ax.plot(np.arange(1, len(scores) + 1), scores, color=color, linestyle="--",
                        label=f"{label} validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    if log_y:
        ax.set_yscale("log")
    handles, names = ax.get_legend_handles_labels()
    if val_ax is not None:
        h2, n2 = val_ax.get_legend_handles_labels()
        handles, names = handles + h2, names + n2
    ax.legend(handles, names, loc="best")
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.validation_axes = val_ax
    return ax


def plot_learning_rate_sweep(result, ax=None, score=True, title=None):
    """Final loss against learning rate on a log axis: seed 003's
    sensitivity analysis, from :func:`gainprop.model_selection.learning_rate_sweep`.

    Parameters
    ----------
    result : Bunch
        What ``learning_rate_sweep`` returned (needs ``rates`` and
        ``final_loss``; ``final_loss_std``, ``test_score`` used when present).
    ax : matplotlib Axes, default=None
    score : bool, default=True
        Also draw the test (or train) score on a second y axis.
    title : str, default=None

    Returns
    -------
    ax : matplotlib Axes
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    rates = np.asarray(result["rates"], dtype=float)
    loss = np.asarray(result["final_loss"], dtype=float)
    std = result.get("final_loss_std") if hasattr(result, "get") else None
    ax.plot(rates, loss, "o-", color="C0", label="final training loss")
    if std is not None and np.any(np.isfinite(std)):
        ax.fill_between(rates, loss - std, loss + std, color="C0", alpha=0.2)
    diverged = ~np.isfinite(loss)
    if diverged.any():
        top = np.nanmax(loss) if np.isfinite(loss).any() else 1.0
        ax.plot(rates[diverged], np.full(diverged.sum(), top), "x", color="C3",
                label="diverged")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("final training loss")
    handles, names = ax.get_legend_handles_labels()
    if score:
        test = np.asarray(result.get("test_score", []), dtype=float)
        values, name = (test, "test score") if test.size and np.isfinite(test).any() else (
            np.asarray(result.get("train_score", []), dtype=float), "train score")
        if values.size and np.isfinite(values).any():
            ax2 = ax.twinx()
            ax2.plot(rates, values, "s--", color="C1", label=name)
            ax2.set_ylabel(name)
            h2, n2 = ax2.get_legend_handles_labels()
            handles, names = handles + h2, names + n2
    ax.legend(handles, names, loc="best")
    ax.grid(True, which="both", alpha=0.3)
    if title:
        ax.set_title(title)
    return ax
