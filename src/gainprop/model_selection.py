"""Learning-rate sensitivity analysis (seed 003).

Seed 003 advises choosing the learning rate with a sensitivity analysis: train
the same model at rates spread over several orders of magnitude and plot the
final loss against the rate on a log axis.  Too small a rate learns slowly,
too large a rate oscillates or diverges, and the curve takes a "U" shape
whose floor is the range to use.
"""

import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import check_cv
from sklearn.utils import Bunch

__all__ = ["learning_rate_sweep"]


def learning_rate_sweep(estimator, X, y, rates=None, cv=None, scoring=None,
                        param="learning_rate_init"):
    """Train ``estimator`` at each rate and report final loss and scores.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The model to analyse (cloned for every fit; its own rate is ignored).
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    rates : array-like, default=np.logspace(-6, -1, 6)
        Learning rates to try.
    cv : int, cross-validation generator or None, default=None
        None trains once on all of X and reports the training score only;
        otherwise every rate is cross-validated and the mean and standard
        deviation over the folds are reported.
    scoring : callable or None, default=None
        ``scoring(estimator, X, y)``; None uses ``estimator.score``.
    param : str, default='learning_rate_init'
        The parameter the rates are set to.

    Returns
    -------
    result : Bunch
        ``rates``, ``final_loss`` (mean over folds; NaN where training
        diverged), ``final_loss_std``, ``train_score``, ``test_score`` (NaN
        without cv), ``test_score_std``, ``diverged`` (fraction of folds),
        ``n_iter`` and ``loss_curves`` (the loss curve of each rate's first
        fold).  ``result.to_frame()`` gives a pandas DataFrame when pandas is
        installed.  :func:`gainprop.plotting.plot_learning_rate_sweep` draws it.

    Examples
    --------
    >>> from gainprop import MLPClassifier
    >>> from gainprop.model_selection import learning_rate_sweep
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> res = learning_rate_sweep(MLPClassifier(max_iter=5, random_state=0), X / 16, y,
    ...                           rates=[1e-4, 1e-2])  # doctest: +SKIP
    """
    rates = np.logspace(-6, -1, 6) if rates is None else np.asarray(rates, dtype=float)
    X = X if hasattr(X, "shape") else np.asarray(X)
    y = np.asarray(y)
    if cv is None:
        splits = [(np.arange(X.shape[0]), None)]
    else:
        from sklearn.base import is_classifier

        splits = list(check_cv(cv, y, classifier=is_classifier(estimator)).split(X, y))
    score = scoring or (lambda est, Xs, ys: est.score(Xs, ys))

    cols = {k: [] for k in ("final_loss", "final_loss_std", "train_score", "test_score",
                            "test_score_std", "diverged", "n_iter")}
    curves = []
    for rate in rates:
        losses, train_scores, test_scores, n_iters, diverged = [], [], [], [], 0
        first_curve = None
        for train, test in splits:
            est = clone(estimator).set_params(**{param: float(rate)})
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    est.fit(X[train], y[train])
            except ValueError as exc:
                if "non-finite" not in str(exc):
                    raise
                diverged += 1
                losses.append(np.nan)
                train_scores.append(np.nan)
                test_scores.append(np.nan)
                n_iters.append(getattr(est, "n_iter_", 0))
                continue
            losses.append(est.loss_)
            train_scores.append(score(est, X[train], y[train]))
            test_scores.append(np.nan if test is None else score(est, X[test], y[test]))
            n_iters.append(est.n_iter_)
            if first_curve is None:
                first_curve = list(getattr(est, "loss_curve_", [est.loss_]))
        curves.append(first_curve or [])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN folds
            cols["final_loss"].append(np.nanmean(losses) if diverged < len(splits) else np.nan)
            cols["final_loss_std"].append(np.nanstd(losses) if diverged < len(splits) else np.nan)
            cols["train_score"].append(np.nanmean(train_scores) if diverged < len(splits)
                                       else np.nan)
            cols["test_score"].append(np.nanmean(test_scores) if cv is not None and
                                      diverged < len(splits) else np.nan)
            cols["test_score_std"].append(np.nanstd(test_scores) if cv is not None and
                                          diverged < len(splits) else np.nan)
        cols["diverged"].append(diverged / len(splits))
        cols["n_iter"].append(float(np.mean(n_iters)))

    result = Bunch(rates=rates, loss_curves=curves,
                   **{k: np.asarray(v, dtype=float) for k, v in cols.items()})

    def to_frame():
        import pandas as pd

        return pd.DataFrame({k: result[k] for k in ("rates", *cols)})

    result.to_frame = to_frame
    return result
