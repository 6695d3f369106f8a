"""Learning-rate sensitivity analysis.

Jason Brownlee, "How to Configure the Learning Rate When Training Deep
Learning Neural Networks" (Machine Learning Mastery, 2019), advises choosing
the learning rate with a sensitivity analysis: train the same model at rates
spread over several orders of magnitude and plot the final loss against the
rate on a log axis.  Too small a rate learns slowly, too large a rate
oscillates or diverges, and the curve takes a "U" shape whose floor is the
range to use.

:func:`learning_rate_sweep` runs that analysis on scikit-learn's
cross-validation machinery, so any estimator, parameter name, Pipeline,
DataFrame, cross-validation splitter and ``n_jobs`` work as they do in
scikit-learn.
"""

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import GridSearchCV, check_cv
from sklearn.pipeline import Pipeline

from ._training import NONFINITE_MESSAGE as _NONFINITE_MESSAGE
from .optimizers import get_optimizer

__all__ = ["learning_rate_sweep", "LearningRateSweepResult"]


def _final_step(estimator):
    """The model at the end of (possibly nested) Pipelines."""
    while isinstance(estimator, Pipeline):
        estimator = estimator[-1]
    return estimator


class _DivergenceAsNaN(MetaEstimatorMixin, BaseEstimator):
    """Fits ``estimator`` and records a diverged fit instead of raising.

    A fit that raises scikit-learn's "Solver produced non-finite parameter
    weights" error (the one gainprop and scikit-learn raise when training
    diverges) is recorded as ``diverged_ = True`` with a NaN loss; any other
    error propagates.  ``ConvergenceWarning`` is silenced: a sweep stops every
    rate after the same number of epochs on purpose.  The fitted attributes
    are what the sweep's scorers read, in whatever process the fit ran.
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y=None, **fit_params):
        self.estimator_ = clone(self.estimator)
        final = _final_step(self.estimator_)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                self.estimator_.fit(X, y, **fit_params)
        except ValueError as exc:
            if not str(exc).startswith(_NONFINITE_MESSAGE):
                raise
            self.diverged_ = True
            self.final_loss_ = np.nan
        else:
            self.diverged_ = False
            try:
                self.final_loss_ = float(final.loss_)
            except AttributeError:
                raise TypeError(
                    f"learning_rate_sweep reads the final training loss `loss_` of the fitted "
                    f"model; {type(final).__name__} has none"
                ) from None
        # epochs (iterations for lbfgs) completed; before the diverging one if it diverged
        self.n_iter_ = float(getattr(final, "n_iter_", np.nan))
        return self


class _Attribute:
    """Scorer that reads a fitted attribute of :class:`_DivergenceAsNaN`."""

    def __init__(self, name):
        self.name = name

    def __call__(self, estimator, X, y=None):
        return getattr(estimator, self.name)


class _ScoreUnlessDiverged:
    """The user's scorer on the fitted model; NaN for a diverged fit."""

    def __init__(self, scorer):
        self.scorer = scorer

    def __call__(self, estimator, X, y=None):
        if estimator.diverged_:
            return np.nan
        return self.scorer(estimator.estimator_, X, y)


def _over_folds(values, reduce):
    """``reduce`` (np.nanmean, np.nanstd) over the folds that did not diverge."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a rate where every fold diverged
        return reduce(values, axis=1)


@dataclass
class LearningRateSweepResult:
    """What :func:`learning_rate_sweep` measured: one row per rate.

    Per-fold arrays have shape ``(n_rates, n_splits)``; a fold whose training
    diverged holds NaN in ``train_losses``, ``train_scores`` and
    ``test_scores``.  The per-rate summaries (properties) are means and
    standard deviations over the folds that did not diverge (NaN when all
    did); ``diverged`` says how many did.

    Parameters
    ----------
    param_name : str
        The parameter the rates were set to (e.g. ``'learning_rate_init'`` or
        ``'mlpclassifier__learning_rate_init'``).
    rates : ndarray of shape (n_rates,)
        The learning rates, in the order given.
    train_losses : ndarray of shape (n_rates, n_splits)
        Final training loss ``loss_`` of each fold's model: the objective
        the optimizer minimised (``loss_name`` plus the L2 penalty) after the
        last epoch, on that fold's training data.  This is the "U" of the
        sensitivity analysis.
    train_scores, test_scores : ndarray of shape (n_rates, n_splits)
        ``score_name`` of each fold's model on its training data and on the
        held-out part.  Without cross-validation (``cv=None``) there is no
        held-out part and ``test_scores`` is all NaN.
    n_iters : ndarray of shape (n_rates, n_splits)
        Epochs (iterations for lbfgs) each fold trained; for a fold that
        diverged, the epochs completed before the one that diverged.
    diverged_folds : ndarray of bool, shape (n_rates, n_splits)
        Whether training raised scikit-learn's "Solver produced non-finite
        parameter weights" error in that fold.
    fit_time : ndarray of shape (n_rates,)
        Mean seconds per fit.
    score_name : str
        What ``train_scores`` and ``test_scores`` measure (``'accuracy'``,
        ``'R2'``, the ``scoring`` string, or ``'score'`` for a callable).
    loss_name : str
        What ``loss_`` measures (``'cross-entropy'``, ``'half squared
        error'``, ...).
    """

    param_name: str
    rates: np.ndarray
    train_losses: np.ndarray
    train_scores: np.ndarray
    test_scores: np.ndarray
    n_iters: np.ndarray
    diverged_folds: np.ndarray
    fit_time: np.ndarray
    score_name: str
    loss_name: str

    @property
    def n_splits(self):
        """Number of fits per rate (1 without cross-validation)."""
        return self.train_losses.shape[1]

    @property
    def final_loss(self):
        """Mean final training loss per rate over the folds that did not diverge."""
        return _over_folds(self.train_losses, np.nanmean)

    @property
    def final_loss_std(self):
        """Standard deviation of the final training loss over the folds."""
        return _over_folds(self.train_losses, np.nanstd)

    @property
    def train_score(self):
        """Mean training score per rate."""
        return _over_folds(self.train_scores, np.nanmean)

    @property
    def train_score_std(self):
        """Standard deviation of the training score over the folds."""
        return _over_folds(self.train_scores, np.nanstd)

    @property
    def test_score(self):
        """Mean held-out score per rate (NaN without cross-validation)."""
        return _over_folds(self.test_scores, np.nanmean)

    @property
    def test_score_std(self):
        """Standard deviation of the held-out score over the folds."""
        return _over_folds(self.test_scores, np.nanstd)

    @property
    def diverged(self):
        """Fraction of the folds whose training diverged, per rate."""
        return self.diverged_folds.mean(axis=1)

    @property
    def n_iter(self):
        """Mean number of epochs trained per rate."""
        return self.n_iters.mean(axis=1)

    def to_frame(self):
        """The per-rate summary as a pandas DataFrame.

        Returns
        -------
        frame : pandas.DataFrame
            One row per rate, columns ``rate``, ``final_loss``,
            ``final_loss_std``, ``train_score``, ``train_score_std``,
            ``test_score``, ``test_score_std``, ``diverged``, ``n_iter`` and
            ``fit_time``, as documented on the attributes of the same names.
        """
        import pandas as pd

        columns = ("final_loss", "final_loss_std", "train_score", "train_score_std",
                   "test_score", "test_score_std", "diverged", "n_iter", "fit_time")
        return pd.DataFrame({"rate": self.rates, **{c: getattr(self, c) for c in columns}})

    def to_display(self):
        """The scores as scikit-learn's validation-curve display.

        Returns
        -------
        display : sklearn.model_selection.ValidationCurveDisplay
            ``train_scores`` and ``test_scores`` against the rates; call its
            ``plot()`` to draw them.  It has no loss:
            :func:`gainprop.plotting.plot_learning_rate_sweep` draws both.
        """
        from sklearn.model_selection import ValidationCurveDisplay

        return ValidationCurveDisplay(param_name=self.param_name, param_range=self.rates,
                                      train_scores=self.train_scores,
                                      test_scores=self.test_scores, score_name=self.score_name)

    def plot(self, **kwargs):
        """Draw the sweep: :func:`gainprop.plotting.plot_learning_rate_sweep`.

        Parameters
        ----------
        **kwargs : dict
            Keyword arguments of ``plot_learning_rate_sweep`` (``ax``,
            ``log_loss``, ``score``, ``title``).

        Returns
        -------
        ax : matplotlib Axes
            The loss axes.
        """
        from .plotting import plot_learning_rate_sweep

        return plot_learning_rate_sweep(self, **kwargs)


def _ignores_learning_rate(model):
    """Does ``model``'s ``solver`` ignore ``learning_rate_init``?"""
    solver = model.get_params(deep=False).get("solver") if hasattr(model, "get_params") else None
    if solver is None:
        return False
    if isinstance(solver, str) and solver == "lbfgs":
        return True
    try:
        return not get_optimizer(solver).uses_learning_rate
    except ValueError:  # not one of ours: the fit reports it
        return False


def _loss_name(model):
    if is_classifier(model):
        return "cross-entropy"
    return {"squared_error": "half squared error",
            "poisson": "half Poisson deviance"}.get(getattr(model, "loss", None), "loss")


def _score_name(model, scoring):
    if isinstance(scoring, str):
        return scoring
    if scoring is None:
        return "accuracy" if is_classifier(model) else "R2"
    return "score"


def learning_rate_sweep(estimator, X, y, rates=None, *, param_name=None, cv=None, scoring=None,
                        groups=None, n_jobs=None):
    """Learning-rate sensitivity analysis: final training loss and scores per rate.

    Trains ``estimator`` at each rate (on each cross-validation fold) for its
    usual number of epochs and records the final training loss (the "U" of the
    analysis described by Jason Brownlee, "How to Configure the Learning Rate
    When Training Deep Learning Neural Networks", Machine Learning Mastery,
    2019) and the score on the training and held-out data.  The fits run
    through scikit-learn's cross-validation (``GridSearchCV`` with
    ``refit=False``: the same fit-and-score step as ``validation_curve``, with
    several metrics of one fit), in parallel over rates x folds with
    ``n_jobs``.

    Parameters
    ----------
    estimator : estimator
        An MLPClassifier or MLPRegressor (gainprop's or scikit-learn's), or a
        Pipeline ending in one; cloned for every fit, its own rate is ignored.
        The final training loss is read from ``loss_`` of the fitted model (of
        the final step of a Pipeline).
    X : array-like or DataFrame of shape (n_samples, n_features)
        Training data.
    y : array-like or Series of shape (n_samples,) or (n_samples, n_outputs)
        Targets.
    rates : array-like of shape (n_rates,), default=np.logspace(-6, -1, 6)
        Learning rates to try; positive and finite.
    param_name : str, default=None
        The parameter the rates are set to.  None means
        ``'learning_rate_init'``, and for a Pipeline
        ``'<name of its final step>__learning_rate_init'``.
    cv : int, cross-validation generator, iterable or None, default=None
        As in scikit-learn's ``cross_validate``.  None trains once per rate on
        all of X: training loss and training score only (``test_scores`` are
        NaN).
    scoring : str, callable or None, default=None
        As in scikit-learn; None uses the estimator's ``score`` (accuracy for
        a classifier, R² for a regressor).  One metric.
    groups : array-like of shape (n_samples,), default=None
        Group labels for a group splitter.
    n_jobs : int, default=None
        Fits run in parallel (joblib, as in scikit-learn): over rates x folds.

    Returns
    -------
    result : LearningRateSweepResult
        Per-fold arrays and per-rate summaries: ``final_loss`` (mean final
        training loss), ``train_score``, ``test_score`` (with ``_std``),
        ``diverged`` (fraction of folds), ``n_iter``; ``to_frame()`` gives a
        pandas DataFrame, ``to_display()`` a scikit-learn
        ``ValidationCurveDisplay``, ``plot()`` the figure.  Picklable.

    Warns
    -----
    UserWarning
        When the model's solver ignores the learning rate (``'lbfgs'``, or
        an optimizer such as Rprop whose ``uses_learning_rate`` is False) and
        the rate swept is ``learning_rate_init``: every rate then trains the
        same model.

    See Also
    --------
    gainprop.plotting.plot_learning_rate_sweep : Draws the result.
    sklearn.model_selection.validation_curve : One score against any parameter.

    Notes
    -----
    A fit whose training diverges (scikit-learn's "Solver produced non-finite
    parameter weights" error) is recorded as diverged, with NaN loss and
    scores; any other error in a fit is raised.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from gainprop import MLPClassifier
    >>> from gainprop.model_selection import learning_rate_sweep
    >>> X, y = load_digits(return_X_y=True)
    >>> est = MLPClassifier(hidden_layer_sizes=(16,), solver="sgd", max_iter=5, random_state=0)
    >>> res = learning_rate_sweep(est, X / 16, y, rates=[1e-4, 1e-1], cv=3)
    >>> for rate, loss, score in zip(res.rates, res.final_loss, res.test_score):
    ...     print(f"rate {rate:g}: final training loss {loss:.2f}, held-out accuracy {score:.2f}")
    rate 0.0001: final training loss 2.42, held-out accuracy 0.15
    rate 0.1: final training loss 0.82, held-out accuracy 0.80
    """
    rates = np.logspace(-6, -1, 6) if rates is None else np.array(rates, dtype=float)
    if rates.ndim != 1 or rates.size == 0 or not np.all(np.isfinite(rates) & (rates > 0)):
        raise ValueError(f"rates must be a non-empty 1-d array of positive numbers; got {rates}")
    if param_name is None:
        param_name = "learning_rate_init"
        if isinstance(estimator, Pipeline):
            param_name = f"{estimator.steps[-1][0]}__{param_name}"
    *path, leaf = param_name.split("__")
    owner = estimator.get_params().get("__".join(path)) if path else estimator
    if leaf == "learning_rate_init" and _ignores_learning_rate(owner):
        warnings.warn(
            f"{type(owner).__name__}(solver={owner.solver!r}) does not use the learning rate: "
            f"every rate in this sweep trains the same model",
            UserWarning, stacklevel=2)

    model = _final_step(estimator)
    if cv is None:
        everything = np.arange(X.shape[0] if hasattr(X, "shape") else len(X))
        splits = [(everything, everything)]
    else:
        splits = check_cv(cv, y, classifier=is_classifier(estimator))
    scorers = {
        "score": _ScoreUnlessDiverged(check_scoring(estimator, scoring=scoring)),
        "loss": _Attribute("final_loss_"),
        "n_iter": _Attribute("n_iter_"),
        "diverged": _Attribute("diverged_"),
    }
    # validation_curve fits the same way but scores one metric; a grid over one
    # parameter with refit=False gives every metric of each fit, in one joblib
    # Parallel over rates x folds.
    search = GridSearchCV(_DivergenceAsNaN(estimator),
                          {f"estimator__{param_name}": [float(r) for r in rates]},
                          scoring=scorers, refit=False, cv=splits, n_jobs=n_jobs,
                          return_train_score=True, error_score="raise")
    with warnings.catch_warnings():
        # diverged folds are NaN on purpose; the result counts them
        warnings.filterwarnings("ignore", message="One or more of the .* scores are non-finite",
                                category=UserWarning)
        search.fit(X, y, groups=groups)

    results = search.cv_results_

    def per_fold(key):
        return np.column_stack([results[f"split{k}_{key}"] for k in range(search.n_splits_)])

    test_scores = per_fold("test_score")
    if cv is None:
        test_scores[:] = np.nan  # scored on the training data: there is no held-out part
    return LearningRateSweepResult(
        param_name=param_name, rates=rates, train_losses=per_fold("train_loss"),
        train_scores=per_fold("train_score"), test_scores=test_scores,
        n_iters=per_fold("train_n_iter"), diverged_folds=per_fold("train_diverged") > 0,
        fit_time=np.asarray(results["mean_fit_time"], dtype=float),
        score_name=_score_name(model, scoring), loss_name=_loss_name(model))
