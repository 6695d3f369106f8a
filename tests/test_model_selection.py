"""learning_rate_sweep: the learning-rate sensitivity analysis on scikit-learn's
cross-validation, and its plot."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, ValidationCurveDisplay
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from gainprop import MLPClassifier, MLPRegressor
from gainprop.model_selection import LearningRateSweepResult, learning_rate_sweep
from gainprop.optimizers import Rprop

RATES = [1e-4, 1e-2, 0.3]


@pytest.fixture
def small_digits(digits):
    X, y = digits
    return X[:300], y[:300]


def _sgd(**kwargs):
    return MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", max_iter=4, random_state=0,
                         **kwargs)


def _fold_losses(estimator, X, y, rates, cv, param_name="learning_rate_init"):
    """Final training loss of each (rate, fold), by fitting every model here."""
    losses = np.empty((len(rates), cv.get_n_splits()))
    for j, (train, _) in enumerate(cv.split(X, y)):
        for i, rate in enumerate(rates):
            model = clone(estimator).set_params(**{param_name: rate})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X[train], y[train])
            losses[i, j] = (model[-1] if hasattr(model, "steps") else model).loss_
    return losses


def _diverging_regression():
    rng = np.random.RandomState(0)
    X = rng.randn(300, 5)
    y = X @ rng.randn(5) + 0.1 * rng.randn(300)
    est = MLPRegressor(hidden_layer_sizes=(16,), solver="sgd", momentum=0.0, batch_size=20,
                       max_iter=10, random_state=0)
    return est, X, y


def test_sweep_table_has_the_u_and_records_divergence():
    est, X, y = _diverging_regression()
    res = learning_rate_sweep(est, X, y, rates=[1e-6, 1e-2, 1e2], cv=2)
    assert list(res.rates) == [1e-6, 1e-2, 1e2]
    # too small learns nothing, a good rate learns, too large diverges: the "U"
    assert res.final_loss[1] < res.final_loss[0] / 2
    assert res.test_score[1] > 0.5 > res.test_score[0]
    # the rate that diverges: NaN loss and scores in every fold, counted, no epoch completed
    assert res.diverged.tolist() == [0.0, 0.0, 1.0]
    assert res.diverged_folds.tolist() == [[False, False], [False, False], [True, True]]
    for values in (res.train_losses, res.train_scores, res.test_scores):
        assert np.isnan(values[2]).all() and np.isfinite(values[:2]).all()
    assert np.isnan(res.final_loss[2]) and np.isnan(res.test_score[2])
    assert res.n_iters.tolist() == [[10, 10], [10, 10], [0, 0]]
    assert res.score_name == "R2" and res.loss_name == "half squared error"
    # the per-rate columns are the fold means and standard deviations
    np.testing.assert_array_equal(res.final_loss[:2], res.train_losses[:2].mean(axis=1))
    np.testing.assert_array_equal(res.test_score_std[:2], res.test_scores[:2].std(axis=1))
    frame = res.to_frame()
    assert list(frame.columns) == ["rate", "final_loss", "final_loss_std", "train_score",
                                   "train_score_std", "test_score", "test_score_std",
                                   "diverged", "n_iter", "fit_time"]
    np.testing.assert_array_equal(frame["final_loss"], res.final_loss)
    assert list(frame["rate"]) == [1e-6, 1e-2, 1e2]


def test_losses_and_scores_are_those_of_the_folds_models(small_digits):
    X, y = small_digits
    cv = StratifiedKFold(3)
    res = learning_rate_sweep(_sgd(), X, y, rates=RATES, cv=cv)
    np.testing.assert_array_equal(res.train_losses, _fold_losses(_sgd(), X, y, RATES, cv))
    train, test = next(cv.split(X, y))
    model = _sgd(learning_rate_init=RATES[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X[train], y[train])
    assert res.test_scores[1, 0] == model.score(X[test], y[test])
    assert res.train_scores[1, 0] == model.score(X[train], y[train])
    assert res.n_iters[1, 0] == model.n_iter_ == 4
    assert res.score_name == "accuracy" and res.loss_name == "cross-entropy"


def test_without_cv_trains_once_on_all_data(small_digits):
    X, y = small_digits
    res = learning_rate_sweep(_sgd(), X, y, rates=RATES)
    assert res.n_splits == 1 and np.isnan(res.test_scores).all()
    model = _sgd(learning_rate_init=RATES[2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    assert res.train_losses[2, 0] == model.loss_
    assert res.train_scores[2, 0] == model.score(X, y)


def test_dataframe_input(small_digits):
    pd = pytest.importorskip("pandas")
    X, y = small_digits
    # an index that is not 0..n-1: positional folds must not be looked up as labels
    index = np.arange(len(y)) * 3 + 7
    frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(X.shape[1])], index=index)
    res = learning_rate_sweep(_sgd(), frame, pd.Series(y, index=index), rates=RATES, cv=3)
    plain = learning_rate_sweep(_sgd(), X, y, rates=RATES, cv=3)
    np.testing.assert_array_equal(res.train_losses, plain.train_losses)
    np.testing.assert_array_equal(res.test_scores, plain.test_scores)


@pytest.mark.parametrize("param_name", [None, "mlpclassifier__learning_rate_init"])
def test_pipeline(small_digits, param_name):
    X, y = small_digits
    pipe = make_pipeline(StandardScaler(), _sgd())
    res = learning_rate_sweep(pipe, X, y, rates=RATES, cv=3, param_name=param_name)
    assert res.param_name == "mlpclassifier__learning_rate_init"
    expected = _fold_losses(pipe, X, y, RATES, StratifiedKFold(3), res.param_name)
    np.testing.assert_array_equal(res.train_losses, expected)
    assert np.isfinite(res.test_scores).all()


def test_parallel_over_rates_and_folds_gives_the_same_result(small_digits):
    X, y = small_digits
    pipe = make_pipeline(StandardScaler(), _sgd())
    serial = learning_rate_sweep(pipe, X, y, rates=RATES, cv=2)
    parallel = learning_rate_sweep(pipe, X, y, rates=RATES, cv=2, n_jobs=2)
    for name in ("train_losses", "train_scores", "test_scores", "n_iters", "diverged_folds"):
        np.testing.assert_array_equal(getattr(parallel, name), getattr(serial, name))


def test_result_pickles():
    est, X, y = _diverging_regression()
    res = learning_rate_sweep(est, X, y, rates=[1e-2, 1e2], cv=2)
    back = pickle.loads(pickle.dumps(res))
    assert isinstance(back, LearningRateSweepResult)
    assert back.param_name == res.param_name and back.score_name == res.score_name
    for name in ("rates", "train_losses", "train_scores", "test_scores", "n_iters",
                 "diverged_folds", "fit_time"):
        np.testing.assert_array_equal(getattr(back, name), getattr(res, name))
    assert back.to_frame().equals(res.to_frame())


_NO_RATE = "does not use the learning rate"


@pytest.mark.parametrize("solver", ["lbfgs", "rprop", "irprop+", Rprop(step_init=0.01)])
def test_warns_when_the_solver_ignores_the_rate(small_digits, solver):
    X, y = small_digits
    est = MLPClassifier(hidden_layer_sizes=(4,), solver=solver, max_iter=2, random_state=0)
    with pytest.warns(UserWarning, match=_NO_RATE):
        learning_rate_sweep(est, X, y, rates=[1e-3, 1e-1])
    with pytest.warns(UserWarning, match=_NO_RATE):
        learning_rate_sweep(make_pipeline(StandardScaler(), est), X, y, rates=[1e-3, 1e-1])


def test_no_warning_for_solvers_that_use_the_rate(small_digits):
    X, y = small_digits
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        learning_rate_sweep(_sgd(), X, y, rates=[1e-3, 1e-1])
        learning_rate_sweep(make_pipeline(StandardScaler(), _sgd(momentum=0.5)), X, y,
                            rates=[1e-3, 1e-1])
        # Rprop's own step size is a rate it uses
        rprop = MLPClassifier(hidden_layer_sizes=(4,), solver=Rprop(), max_iter=2,
                              random_state=0)
        learning_rate_sweep(rprop, X, y, rates=[1e-3, 1e-1], param_name="solver__step_init")


def test_errors_other_than_divergence_are_raised(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        learning_rate_sweep(MLPClassifier(hidden_layer_sizes=(-1,)), X, y, rates=[1e-3], cv=2)
    # a NaN in the input is the caller's error, not a diverged rate
    X_bad = X.copy()
    X_bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        learning_rate_sweep(_sgd(), X_bad, y, rates=[1e-3], cv=2)
    with pytest.raises(ValueError, match="positive"):
        learning_rate_sweep(_sgd(), X, y, rates=[1e-3, -1.0])
    with pytest.raises(ValueError, match="Invalid parameter"):
        learning_rate_sweep(_sgd(), X, y, rates=[1e-3], param_name="no_such_rate")


def test_to_display(small_digits):
    X, y = small_digits
    res = learning_rate_sweep(_sgd(), X, y, rates=RATES, cv=3)
    display = res.to_display()
    assert isinstance(display, ValidationCurveDisplay)
    assert display.param_name == "learning_rate_init" and display.score_name == "accuracy"
    np.testing.assert_array_equal(display.param_range, RATES)
    np.testing.assert_array_equal(display.train_scores, res.train_scores)
    np.testing.assert_array_equal(display.test_scores, res.test_scores)


# ---------------------------------------------------------------- the plot
@pytest.fixture
def pyplot():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def _hand_made_result():
    """Four rates: fine, fine, one fold of two diverged, every fold diverged; the
    second rate ends at a huge loss (it would flatten the others on a linear axis)."""
    nan = np.nan
    return LearningRateSweepResult(
        param_name="learning_rate_init", rates=np.array([1e-4, 1e-2, 1.0, 10.0]),
        train_losses=np.array([[2.0, 2.2], [188.0, 190.0], [0.5, nan], [nan, nan]]),
        train_scores=np.array([[0.3, 0.4], [0.2, 0.1], [0.9, nan], [nan, nan]]),
        test_scores=np.array([[0.25, 0.35], [0.15, 0.1], [0.8, nan], [nan, nan]]),
        n_iters=np.array([[5, 5], [5, 5], [5, 2], [1, 0]], dtype=float),
        diverged_folds=np.array([[False, False], [False, False], [False, True], [True, True]]),
        fit_time=np.ones(4), score_name="accuracy", loss_name="cross-entropy")


def _tick_texts(axis):
    texts = [t.get_text() for t in axis.get_majorticklabels() + axis.get_minorticklabels()]
    return [t for t in texts if t]


def test_plot_draws_loss_on_log_axes_and_marks_divergence(pyplot):
    from gainprop.plotting import plot_learning_rate_sweep

    res = _hand_made_result()
    ax = plot_learning_rate_sweep(res, title="sweep")
    ax.figure.canvas.draw()
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "learning rate" in ax.get_xlabel()
    assert ax.get_ylabel() == "final training loss (cross-entropy, log scale)"
    loss_line, diverged, partly = ax.get_lines()
    np.testing.assert_array_equal(loss_line.get_xdata(), res.rates)
    np.testing.assert_array_equal(loss_line.get_ydata(), [2.1, 189.0, 0.5, np.nan])
    # every fold diverged: marked at the top edge (axes coordinates), not at a huge loss
    assert list(diverged.get_xdata()) == [10.0] and list(diverged.get_ydata()) == [0.97]
    assert diverged.get_transform() == ax.get_xaxis_transform()
    assert list(partly.get_xdata()) == [1.0] and list(partly.get_ydata()) == [0.5]
    assert 0.1 < ax.get_ylim()[0] and ax.get_ylim()[1] < 1000
    # scores on the second axis: training and held-out means over the folds
    train, test = ax.score_axes.get_lines()
    np.testing.assert_allclose(train.get_ydata(), [0.35, 0.15, 0.9, np.nan])
    np.testing.assert_allclose(test.get_ydata(), [0.3, 0.125, 0.8, np.nan])
    assert ax.score_axes.get_ylabel().startswith("accuracy")
    # plain tick labels, no powers of ten in mathtext
    for axis in (ax.xaxis, ax.yaxis):
        texts = _tick_texts(axis)
        assert texts and not any("$" in t or "times" in t for t in texts)
    assert "0.01" in _tick_texts(ax.xaxis) and "100" in _tick_texts(ax.yaxis)
    # the legend lies outside the data area
    legend = ax.get_legend()
    assert len(legend.get_texts()) == 6
    legend_box = legend.get_window_extent()
    assert not legend_box.overlaps(ax.get_window_extent())


def test_plot_linear_loss_axis_and_no_score(pyplot):
    from gainprop.plotting import plot_learning_rate_sweep

    ax = plot_learning_rate_sweep(_hand_made_result(), log_loss=False, score=False)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert ax.get_ylabel() == "final training loss (cross-entropy)"
    assert ax.score_axes is None and len(ax.figure.axes) == 1


def test_plot_of_a_real_sweep_and_its_display(pyplot, small_digits, tmp_path):
    from gainprop.plotting import plot_learning_rate_sweep

    X, y = small_digits
    res = learning_rate_sweep(_sgd(), X, y, rates=RATES, cv=3)
    ax = res.plot()
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), res.final_loss)
    path = tmp_path / "sweep.png"
    ax.figure.savefig(path)
    assert path.read_bytes()[:4] == b"\x89PNG"
    # a ValidationCurveDisplay has scores only: drawn on the given axes
    _, ax2 = pyplot.subplots()
    out = plot_learning_rate_sweep(res.to_display(), ax=ax2)
    assert out is ax2 and out.score_axes is ax2 and ax2.get_xscale() == "log"
    train, test = ax2.get_lines()
    np.testing.assert_allclose(test.get_ydata(), res.test_score)
    np.testing.assert_allclose(train.get_ydata(), res.train_score)
