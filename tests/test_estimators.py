"""Behaviour of the estimators beyond scikit-learn's generic checks: the flat
buffer, persistence, dtypes, sparse input, threads, bad input, Ctrl-C."""

import os
import pickle
import signal
import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import neural_network as sknn
from sklearn.datasets import make_multilabel_classification
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import gainprop
from gainprop import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _weights(est):
    return [a.copy() for a in est.coefs_ + est.intercepts_]


def _assert_weights_equal(a, b, atol=0.0):
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=0, atol=atol)


def test_coefs_and_intercepts_are_views_of_one_buffer(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(8, 5), max_iter=2, random_state=0).fit(X, y)
    buf = clf._params
    assert buf.ndim == 1 and buf.flags.c_contiguous
    for arr in clf.coefs_ + clf.intercepts_:
        assert np.shares_memory(arr, buf)
    # weights first, then biases: scikit-learn's packing order
    assert clf.coefs_[0].__array_interface__["data"][0] == buf.__array_interface__["data"][0]
    clf.coefs_[1][0, 0] = 123.0
    assert 123.0 in buf


def test_assigned_coefs_are_used_by_warm_start_and_partial_fit(digits):
    """scikit-learn users set coefs_ by hand; both libraries then continue
    from the assigned values."""
    X, y = digits[0][:300], digits[1][:300]
    params = dict(hidden_layer_sizes=(10,), solver="sgd", max_iter=3, random_state=0,
                  warm_start=True)
    sk = sknn.MLPClassifier(**params).fit(X, y)
    gp = MLPClassifier(**params).fit(X, y)
    rng = np.random.RandomState(5)
    new_coefs = [rng.uniform(-0.3, 0.3, c.shape) for c in gp.coefs_]
    new_inter = [rng.uniform(-0.3, 0.3, b.shape) for b in gp.intercepts_]
    for est in (sk, gp):
        est.coefs_ = [c.copy() for c in new_coefs]
        est.intercepts_ = [b.copy() for b in new_inter]
        est.fit(X, y)
    _assert_weights_equal(_weights(gp), _weights(sk), atol=1e-10)
    assert np.shares_memory(gp.coefs_[0], gp._params)

    for est in (sk, gp):
        est.coefs_[0] = new_coefs[0].copy()  # replace one element of the list
        est.partial_fit(X, y)
    _assert_weights_equal(_weights(gp), _weights(sk), atol=1e-10)


def test_assigning_wrong_shape_is_a_clear_error(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=2, random_state=0).fit(X, y)
    clf.coefs_[0] = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"coefs_\[0\] has shape \(3, 3\), expected \(64, 6\)"):
        clf.partial_fit(X, y)


def test_pickle_predicts_same_and_continues_identically(digits):
    X, y = digits
    a = MLPClassifier(hidden_layer_sizes=(12,), solver="sgd", max_iter=3, random_state=0)
    a.fit(X, y)
    b = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(b.predict_proba(X), a.predict_proba(X))
    assert np.shares_memory(b.coefs_[0], b._params)
    for _ in range(3):
        a.partial_fit(X, y)
        b.partial_fit(X, y)
    _assert_weights_equal(_weights(a), _weights(b))
    assert a.loss_curve_ == b.loss_curve_


def test_float32_trains_in_float32_and_agrees_with_float64(digits):
    X, y = digits
    params = dict(hidden_layer_sizes=(20,), solver="sgd", batch_size=len(X), shuffle=False,
                  max_iter=10, learning_rate_init=0.1, random_state=0)
    c64 = MLPClassifier(**params).fit(X, y)
    c32 = MLPClassifier(**params).fit(X.astype(np.float32), y)
    assert all(c.dtype == np.float32 for c in c32.coefs_ + c32.intercepts_)
    assert c32.predict_proba(X).dtype == np.float32
    for a, b in zip(c64.coefs_, c32.coefs_):
        np.testing.assert_allclose(b, a, atol=2e-5)
    np.testing.assert_allclose(c32.loss_curve_, c64.loss_curve_, rtol=1e-5)


def test_lbfgs_on_float32_input_keeps_a_float32_model(digits):
    # documented difference: scikit-learn's lbfgs returns float64 weights here
    X, y = digits
    X32 = X[:200].astype(np.float32)
    params = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=5, random_state=0)
    c32 = MLPClassifier(**params).fit(X32, y[:200])
    assert all(c.dtype == np.float32 for c in c32.coefs_ + c32.intercepts_)
    c64 = MLPClassifier(**params).fit(X32.astype(np.float64), y[:200])
    assert all(c.dtype == np.float64 for c in c64.coefs_ + c64.intercepts_)
    sk = sknn.MLPClassifier(**params).fit(X32.astype(np.float64), y[:200])
    for a, b in zip(sk.coefs_ + sk.intercepts_, c64.coefs_ + c64.intercepts_):
        np.testing.assert_allclose(b, a, rtol=1e-7, atol=1e-9)


def test_integer_input_trains_in_float64(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=2, random_state=0)
    clf.fit((X * 16).astype(np.int32), y)
    assert clf.coefs_[0].dtype == np.float64


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_equals_dense(digits, fmt):
    X, y = digits
    params = dict(hidden_layer_sizes=(16,), solver="sgd", batch_size=50, max_iter=4,
                  random_state=0)
    dense = MLPClassifier(**params).fit(X, y)
    sparse = MLPClassifier(**params).fit(sp.csr_matrix(X).asformat(fmt), y)
    _assert_weights_equal(_weights(sparse), _weights(dense), atol=1e-12)
    np.testing.assert_allclose(sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X),
                               atol=1e-12)


@pytest.mark.skipif(not gainprop._core.openmp_enabled(),
                    reason="a serial build lets BLAS thread itself, whose results depend on it")
def test_results_do_not_depend_on_thread_count():
    """Large enough for every OpenMP loop to run in parallel."""
    rng = np.random.RandomState(0)
    X = rng.randn(600, 120)
    y = rng.randint(0, 7, 600)
    results = []
    for n_threads in (1, 2, 4):
        clf = MLPClassifier(hidden_layer_sizes=(300, 150), solver="sgd", batch_size=600,
                            max_iter=3, random_state=0, n_threads=n_threads).fit(X, y)
        results.append(_weights(clf))
    for other in results[1:]:
        _assert_weights_equal(other, results[0])


def test_multilabel(digits):
    X, Y = make_multilabel_classification(n_samples=200, n_features=10, n_classes=4,
                                          random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(30,), max_iter=300, random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic"
    pred = clf.predict(X)
    assert pred.shape == Y.shape
    assert (pred == Y).mean() > 0.8  # chance (most frequent per label) is about 0.6
    assert (pred == Y).mean() > (Y == (Y.mean(axis=0) > 0.5)).mean() + 0.15
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape and np.all((proba > 0) & (proba <= 1))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-9)


def test_predict_log_proba_is_finite_for_extreme_logits(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=2, random_state=0).fit(X, y)
    clf.coefs_[-1] *= 1e5  # logits of order 1e4
    logp = clf.predict_log_proba(X)
    assert np.isfinite(logp).all()
    proba = clf.predict_proba(X)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("kind", ["multilabel", "multiclass", "binary"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict_log_proba_is_log_of_predict_proba(digits, kind, dtype):
    # On saturated outputs the log-sigmoid of a logit of 80 is -1.8e-35 where
    # the probability is exactly 1.0, so the largest log-probability of a row
    # could sit elsewhere than the largest probability.  Now log_proba is
    # log(proba) wherever proba is normal; the log-softmax / log-sigmoid only
    # where proba underflows, and then below log(tiny).
    if kind == "multilabel":
        X, y = make_multilabel_classification(n_samples=200, n_features=10, n_classes=4,
                                              random_state=0)
    else:
        X, y = digits
        y = y % 2 if kind == "binary" else y
    X = X.astype(dtype)
    clf = MLPClassifier(hidden_layer_sizes=(12,), max_iter=30, random_state=0).fit(X, y)
    clf.coefs_[-1] *= 300  # logits of a few hundred: saturated and underflowing outputs
    clf.intercepts_[-1] *= 300
    proba, log_proba = clf.predict_proba(X), clf.predict_log_proba(X)
    tiny = np.finfo(dtype).tiny
    assert log_proba.dtype == proba.dtype == dtype
    assert np.isfinite(log_proba).all()
    normal = proba > tiny
    assert (proba == 1.0).any() and (~normal).any()  # the case is exercised
    np.testing.assert_array_equal(log_proba[normal], np.log(proba[normal]))
    assert np.all(log_proba[~normal] <= np.log(tiny))
    np.testing.assert_array_equal(np.argmax(log_proba, axis=1), np.argmax(proba, axis=1))


def test_partial_fit_not_available_for_lbfgs():
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    assert hasattr(MLPRegressor(solver="sgd"), "partial_fit")


def _model_state(est):
    return _weights(est), est.n_iter_, list(getattr(est, "loss_curve_", []))


@pytest.mark.parametrize(
    "bad_X,match",
    [
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X), "NaN"),
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 7, np.inf, X), "infinity"),
        (lambda X: X[:, :10], "features"),
        (lambda X: X.astype(str).astype(object) + "x", "could not convert|string"),
    ],
    ids=["nan", "inf", "n_features", "strings"],
)
def test_bad_input_is_a_clear_error_and_changes_nothing(digits, bad_X, match):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=2, random_state=0).fit(X, y)
    before = _model_state(clf)
    Xb = bad_X(X)
    for call in (lambda: clf.partial_fit(Xb, y), lambda: clf.predict(Xb)):
        with pytest.raises(ValueError, match=match):
            call()
    after = _model_state(clf)
    _assert_weights_equal(after[0], before[0])
    assert after[1:] == before[1:]


@pytest.mark.parametrize("sizes", [(10.5,), (8, 4.0), [np.float64(3)], (True,)])
def test_hidden_layer_sizes_must_be_integers(digits, sizes):
    # scikit-learn raises TypeError; a float used to be truncated silently
    X, y = digits
    with pytest.raises(TypeError, match="hidden_layer_sizes must hold integers"):
        MLPClassifier(hidden_layer_sizes=sizes, max_iter=1).fit(X[:20], y[:20])
    clf = MLPClassifier(hidden_layer_sizes=(np.int64(3), 2), max_iter=1).fit(X[:20], y[:20])
    assert [c.shape[1] for c in clf.coefs_] == [3, 2, 10]


def test_unseen_labels_in_partial_fit(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(6,), random_state=0)
    clf.partial_fit(X[y < 5], y[y < 5], classes=np.arange(5))
    before = _weights(clf)
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X, y)
    _assert_weights_equal(_weights(clf), before)


def test_empty_and_mismatched_data(digits):
    X, y = digits
    with pytest.raises(ValueError, match="0 sample"):
        MLPClassifier().fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MLPRegressor().fit(X, y[:-1])
    with pytest.raises(ValueError):
        MLPClassifier(n_threads=0).fit(X, y)
    with pytest.raises(ValueError, match="solver"):
        MLPClassifier(solver="nope").fit(X, y)


def test_divergence_raises_sklearn_message_and_keeps_finite_weights():
    rng = np.random.RandomState(0)
    X = rng.randn(100, 5) * 100
    y = X @ rng.randn(5) * 100
    reg = MLPRegressor(hidden_layer_sizes=(50,), solver="sgd", momentum=0.9,
                       learning_rate_init=10.0, max_iter=50, random_state=0)
    with pytest.raises(ValueError, match=r"^Solver produced non-finite parameter weights\. .*"
                                         r"epoch \d+.*smaller learning_rate_init"):
        reg.fit(X, y)
    assert np.isfinite(reg._params).all()


def test_ctrl_c_stops_a_long_fit_quickly_and_leaves_a_working_model():
    rng = np.random.RandomState(0)
    X = rng.randn(4000, 200)
    y = rng.randint(0, 5, 4000)
    max_iter = 2000  # minutes of work: only Ctrl-C ends this fit early
    clf = MLPClassifier(hidden_layer_sizes=(256, 256), batch_size=4000, solver="sgd",
                        max_iter=max_iter, tol=0, n_iter_no_change=10**9, random_state=0)
    sent = {}

    def interrupt():
        sent["t"] = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)

    # a process started in the background by a shell inherits SIGINT ignored;
    # Ctrl-C in a terminal reaches Python's default handler, so install it
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, interrupt)
    try:
        timer.start()
        with pytest.warns(UserWarning, match="Training interrupted by user"):
            clf.fit(X, y)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    elapsed = time.perf_counter() - sent["t"]
    assert elapsed < 1.5, elapsed
    assert 0 < clf.n_iter_ < max_iter
    assert np.isfinite(clf._params).all()
    assert clf.predict(X).shape == (4000,)


def test_early_stopping_restores_best_weights(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(10,), early_stopping=True, max_iter=40,
                        n_iter_no_change=3, random_state=0).fit(X, y)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    np.testing.assert_array_equal(clf._params, clf._best_params)


def test_warm_start_can_turn_early_stopping_on_and_off(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(10,), max_iter=3, warm_start=True, random_state=0)
    clf.fit(X, y)
    clf.set_params(early_stopping=True).fit(X, y)
    assert len(clf.validation_scores_) == 3
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    np.testing.assert_array_equal(clf._params, clf._best_params)
    clf.set_params(early_stopping=False).fit(X, y)
    assert len(clf.loss_curve_) == 9 and np.isfinite(clf.best_loss_)
    assert clf._best_params is None
    # on again: a new validation history from the current weights, not the
    # best weights of the first early-stopping fit
    after_off = clf._params.copy()
    clf.set_params(early_stopping=True, learning_rate_init=1e-300).fit(X, y)
    assert len(clf.validation_scores_) == 3
    np.testing.assert_array_equal(clf._params, after_off)


def test_warm_start_from_lbfgs_to_a_stochastic_solver(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=20, warm_start=True,
                        random_state=0).fit(X, y)
    lbfgs_loss = clf.loss_
    clf.set_params(solver="adam", max_iter=3).fit(X, y)
    assert len(clf.loss_curve_) == 3 and clf.n_iter_ == 3
    # went on from lbfgs' weights (a fresh start's first epoch is near 2.4)
    assert clf.loss_curve_[0] < 1.1 * lbfgs_loss


def test_usable_in_pipeline_and_grid_search(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), max_iter=100,
                                                         random_state=0))
    cv = KFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1]}, cv=cv).fit(X, y)
    assert search.best_score_ > 0.9


def test_regressor_learns(digits):
    rng = np.random.RandomState(0)
    X = rng.randn(300, 4)
    y = np.sin(X[:, 0]) + X[:, 1] ** 2
    reg = MLPRegressor(hidden_layer_sizes=(50,), max_iter=500, random_state=0).fit(X, y)
    assert reg.score(X, y) > 0.9
    assert reg.predict(X).shape == (300,)


def test_show_config_reports_the_build(capsys):
    gainprop.show_config()
    out = capsys.readouterr().out
    assert gainprop.__version__ in out
    assert "OpenMP kernels:" in out


@pytest.mark.parametrize("y", [
    np.array([3, 1, 2, 3, 1]),
    np.array([0, 1, 1, 0]),
    np.array([True, False, True]),
    np.array(["b", "a", "c", "a"]),
    np.array(["yes", "no", "no"]),
    np.array(["ab", "c", "ab"], dtype="<U32"),  # classes_ as wide as the longest label
    np.array([1.0, 2.0, 2.0]),            # floats: LabelBinarizer itself
    np.array([7, 7, 7]),                  # one class: LabelBinarizer itself
    np.array(["x", "y", 3], dtype=object),
], ids=lambda y: f"{y.dtype}-{len(np.unique(y.astype(str)))}")
def test_label_lookup_matches_label_binarizer(y):
    from sklearn.preprocessing import LabelBinarizer

    from gainprop._labels import binarize as _binarize, fit_binarizer as _fit_binarizer

    try:
        ref = LabelBinarizer().fit(y)
    except (TypeError, ValueError) as e:  # mixed types: the same error from both
        with pytest.raises(type(e)):
            _fit_binarizer(y)
        return
    lb = _fit_binarizer(y)
    for attr in ("y_type_", "sparse_input_"):
        assert getattr(lb, attr) == getattr(ref, attr)
    assert lb.classes_.dtype == ref.classes_.dtype
    np.testing.assert_array_equal(lb.classes_, ref.classes_)
    for part in (y, y[:2]):
        np.testing.assert_array_equal(_binarize(lb, part), ref.transform(part).astype(bool))


# ------------------------------------------------- the redesign's review
def _reg_data():
    rng = np.random.RandomState(0)
    X = rng.randn(64, 3)
    return X, rng.randn(64)


def test_assigned_running_statistics_are_used_by_a_warm_start():
    # bn_running_* are views of the running-statistics buffer, not of the
    # parameters: a warm start copies the buffers and writes them through the
    # copies' views
    X, y = _reg_data()
    reg = MLPRegressor(hidden_layer_sizes=(4,), batch_norm=True, max_iter=1, batch_size=16,
                       random_state=0, warm_start=True).fit(X, y)
    weights = [c.copy() for c in reg.coefs_]
    reg.bn_running_mean_ = [np.full(4, 7.0)]
    reg.fit(X.astype(np.float32), y)  # a dtype change: new buffers
    # four batches of momentum 0.1 moved the running mean from 7 towards the
    # batches' (about 0): 7 * 0.9**4 = 4.6 and a little
    assert np.all((reg.bn_running_mean_[0] > 3) & (reg.bn_running_mean_[0] < 6))
    assert np.shares_memory(reg.bn_running_mean_[0], reg._running)
    assert reg.coefs_[0].dtype == np.float32 and not np.array_equal(reg.coefs_[0], weights[0])


def test_settings_changed_between_partial_fits_continue_from_where_training_is():
    X, y = _reg_data()
    reg = MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", learning_rate="invscaling",
                       learning_rate_init=0.1, random_state=0)
    for _ in range(3):
        reg.partial_fit(X, y)
    reg.set_params(power_t=0.25)
    reg.partial_fit(X, y)
    # as scikit-learn, the rate is set at each epoch's end: this epoch ran at
    # the old power's rate, the next runs at the new one's (no restart at 0.1)
    assert reg.learning_rate_curve_[-1] == pytest.approx(0.1 / (3 * 64 + 1) ** 0.5)
    assert reg._schedule_state.lr == pytest.approx(0.1 / (4 * 64 + 1) ** 0.25)
    reg.set_params(learning_rate="constant")  # another of scikit-learn's strings: same rate
    for _ in range(2):
        reg.partial_fit(X, y)
        assert reg.learning_rate_curve_[-1] == pytest.approx(0.1 / (4 * 64 + 1) ** 0.25)
    reg.set_params(momentum=0.5)  # a setting of the same rule takes effect
    reg.partial_fit(X, y)
    assert reg._optimizer.rule.momentum == 0.5 and reg._optimizer.step == 7  # 7 epochs of 1 batch


def test_a_failing_partial_fit_leaves_the_model_as_it_was(digits_500):
    X, y = digits_500

    def fail(record):
        raise RuntimeError("callback failure")

    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    clf.partial_fit(X, y, classes=np.arange(10))
    before = pickle.dumps(clf)
    clf.set_params(callbacks=[fail])
    with pytest.raises(RuntimeError, match="callback failure"):
        clf.partial_fit(X, y)
    clf.set_params(callbacks=None)
    assert pickle.dumps(clf) == before


def test_a_bad_callback_is_refused_before_the_fit_changes_anything():
    X, y = _reg_data()
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    before = pickle.dumps(reg)
    reg.set_params(callbacks=[object()], random_state=1)
    with pytest.raises(TypeError, match="callbacks must be"):
        reg.fit(X, y)
    reg.set_params(callbacks=None, random_state=0)
    assert pickle.dumps(reg) == before


def test_batches_of_weight_zero_are_skipped_and_leave_the_loss_alone():
    X, y = _reg_data()
    sw = np.r_[np.zeros(32), np.ones(32)]
    kw = dict(hidden_layer_sizes=(4,), solver="sgd", max_iter=2, random_state=0,
              batch_size=16, shuffle=False)
    weighted = MLPRegressor(**kw).fit(X, y, sample_weight=sw)
    alone = MLPRegressor(**kw).fit(X[32:], y[32:])
    np.testing.assert_array_equal(weighted._params, alone._params)
    assert weighted.loss_curve_ == alone.loss_curve_
    assert weighted._optimizer.step == alone._optimizer.step == 2 * 2


def test_sample_weights_without_a_positive_sum_are_refused_with_a_reason():
    X, y = _reg_data()
    with pytest.raises(ValueError, match="lbfgs.*positive sum"):
        MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=3).fit(
            X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="at least one non-zero"):
        MLPRegressor(hidden_layer_sizes=(4,), max_iter=3).fit(X, y, sample_weight=np.zeros(64))


def test_parameter_names_are_read_once_per_class_and_are_scikit_learns():
    import inspect

    from sklearn.base import BaseEstimator

    from gainprop import optimizers, schedules

    def signature_names(cls):  # scikit-learn's own reading, uncached
        return BaseEstimator._get_param_names.__func__(cls)

    classes = [MLPClassifier, MLPRegressor, optimizers.Adam, optimizers.Rprop,
               optimizers.LocalGain, schedules.StepDecay, schedules.LinearDecay]
    for cls in classes:
        assert cls._get_param_names() == signature_names(cls)
        assert cls._get_param_names() is not cls._get_param_names()  # a fresh list each time

    class Wider(MLPRegressor):  # a subclass with a parameter of its own reads its own
        def __init__(self, hidden_layer_sizes=(100,), extra=1.0):
            super().__init__(hidden_layer_sizes=hidden_layer_sizes)
            self.extra = extra

    MLPRegressor._get_param_names()
    assert Wider._get_param_names() == ["extra", "hidden_layer_sizes"]
    assert "extra" not in MLPRegressor._get_param_names()
    assert set(Wider(extra=2.0).get_params()) == set(inspect.signature(Wider).parameters)
