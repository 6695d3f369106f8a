"""The checked boundary (docs/RELIABILITY.md): every attack of issue 12 ends in a
clear Python exception or a correct result, and a call that fails leaves the
estimator exactly as it was (its pickle bytes and its predictions)."""

import copy
import os
import pickle
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from gainprop import MLPClassifier, MLPRegressor, _core
from gainprop import _multilayer_perceptron as mlp
from gainprop._engine import Engine, Layout, Matrix, check_sparse
from gainprop.optimizers import SGD, Adam, Rprop
from gainprop.schedules import BaseSchedule

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

POSIX = hasattr(os, "fork")
SANITIZED = os.environ.get("GAINPROP_SANITIZED") == "1"


def _data(n=60, d=5, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.rand(n, d)
    return X, (X[:, 0] * 3).astype(int) % 3


@pytest.fixture
def fitted_models():
    """Fitted models of the kinds a failing call must leave intact: a
    classifier (Adam), a regressor with batch norm and momentum, L-BFGS, and
    a classifier with dropout on unshuffled dense input (its dropout stream,
    gelu's pre-activation block and the gathered input block)."""
    X, y = _data()
    return {
        "adam": MLPClassifier(hidden_layer_sizes=(6,), max_iter=3, random_state=0).fit(X, y),
        "sgd-bn": MLPRegressor(hidden_layer_sizes=(6,), solver=SGD(momentum=0.9), batch_size=20,
                               batch_norm=True, max_iter=3, random_state=0).fit(X, X[:, :2]),
        "lbfgs": MLPClassifier(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=5,
                               random_state=0).fit(X, y),
        "dropout": MLPClassifier(hidden_layer_sizes=(6,), activation="gelu", dropout=0.3,
                                 input_dropout=0.2, shuffle=False, batch_size=16, max_iter=3,
                                 random_state=0).fit(X, y),
    }


def _outputs(est, X):
    if isinstance(est, MLPClassifier):
        return est.predict_proba(X)
    return est.predict(X)


def _assert_fails_unchanged(est, call, exc=(ValueError, TypeError, MemoryError), X=None):
    X = _data()[0] if X is None else X
    before, out = pickle.dumps(est), _outputs(est, X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exc) as info:
            call(est)
    assert str(info.value)
    assert pickle.dumps(est) == before, "the failed call changed the estimator"
    np.testing.assert_array_equal(_outputs(est, X), out)
    return info.value


# ---------------------------------------------------------------------------
# The transaction, as a property over calls that must fail
# ---------------------------------------------------------------------------
def _bad_csr(X):
    m = sp.csr_matrix(X)
    m.indices[3] = X.shape[1] + 7
    return m


class _ShortRates(BaseSchedule):
    """A per-iteration schedule that gives one rate too few."""

    per_iteration = True

    def _iteration_rates(self, state, iterations):
        return np.full(max(1, len(iterations) - 1), 1e-3)


class _BadBegin:
    def on_fit_begin(self, info):
        raise TypeError("this callback refuses to start")


class _BadEnd:
    def on_fit_end(self, info, reason):
        raise TypeError("this callback refuses to end")


def _y_for(est, X, y):
    return y if isinstance(est, MLPClassifier) else X[:, :est.n_outputs_]


def _fit(est, X, y=None, **kw):
    return est.fit(X, _y_for(est, X, _data(len(X))[1]) if y is None else y, **kw)


def _partial(est, X, y=None, **kw):
    return est.partial_fit(X, _y_for(est, X, _data(len(X))[1]) if y is None else y, **kw)


def _with(call, **params):
    """call after set_params(**params) (the parameters are part of what must
    come back unchanged, so they are set before the 'before' snapshot)."""
    def prepared(est):
        return call(est)
    prepared.params = params
    return prepared


X60, _ = _data()
X60_NAN = X60.copy()
X60_NAN[3, 2] = np.nan
X60_INF = X60.copy()
X60_INF[0, 0] = np.inf

FAILING_CALLS = {
    "fit: sample_weight too long": lambda e: _fit(e, X60, sample_weight=np.ones(61)),
    "fit: NaN in X": lambda e: _fit(e, X60_NAN),
    "fit: inf in X": lambda e: _fit(e, X60_INF),
    "fit: all-zero sample_weight": lambda e: _fit(e, X60, sample_weight=np.zeros(60)),
    "fit: NaN sample_weight": lambda e: _fit(e, X60, sample_weight=np.r_[np.nan, np.ones(59)]),
    "fit: malformed CSR": lambda e: _fit(e, _bad_csr(X60)),
    "fit: bad parameter": _with(lambda e: _fit(e, X60), alpha=-1.0),
    "fit: unknown solver": _with(lambda e: _fit(e, X60), solver="nope"),
    "fit: hidden layer of 0": _with(lambda e: _fit(e, X60), hidden_layer_sizes=(0,)),
    "fit: early stopping without validation rows": _with(
        lambda e: _fit(e, X60[:6], _y_for(e, X60[:6], np.arange(6) % 2)),
        early_stopping=True, validation_fraction=0.01),
    "fit: a network too large": lambda e: _fit(e, X60),  # (memory patched below)
    "fit: a callback that is not callable": _with(lambda e: _fit(e, X60), callbacks=[3]),
    "fit: on_fit_begin raises": _with(lambda e: _fit(e, X60), callbacks=[_BadBegin()]),
    "fit: a schedule with too few rates": _with(lambda e: _fit(e, X60), batch_size=10,
                                                learning_rate=_ShortRates(), solver="sgd"),
    "warm start: other width": _with(lambda e: _fit(e, np.hstack([X60, X60])), warm_start=True),
    "warm start: NaN in X": _with(lambda e: _fit(e, X60_NAN), warm_start=True),
    "partial_fit: other width": lambda e: _partial(e, X60[:, :3]),
    "partial_fit: NaN in X": lambda e: _partial(e, X60_NAN),
    "partial_fit: sample_weight too short": lambda e: _partial(e, X60, sample_weight=[1.0]),
    "partial_fit: malformed CSR": lambda e: _partial(e, _bad_csr(X60)),
    "partial_fit: early stopping": _with(lambda e: _partial(e, X60), early_stopping=True),
    "partial_fit: a bad loop parameter": _with(lambda e: _partial(e, X60), tol=-1.0),
    "partial_fit: a schedule with too few rates": _with(lambda e: _partial(e, X60), batch_size=10,
                                                        learning_rate=_ShortRates()),
    "partial_fit: on_fit_end raises": _with(lambda e: _partial(e, X60), callbacks=[_BadEnd()]),
    "partial_fit: dropout of the wrong length": _with(lambda e: _partial(e, X60),
                                                      dropout=[0.1, 0.2]),
    "partial_fit: dropout switched on, then a schedule with too few rates": _with(
        lambda e: _partial(e, X60), dropout=0.5, input_dropout=0.5, batch_size=10,
        learning_rate=_ShortRates()),
    "warm start: dropout switched on, then on_fit_begin raises": _with(
        lambda e: _fit(e, X60), warm_start=True, dropout=0.5, callbacks=[_BadBegin()]),
    "unpickling a tampered state": lambda e: e.__setstate__(
        dict(e.__getstate__(), n_features_in_=99)),
}
CLASSIFIER_CALLS = {
    "partial_fit: new classes": lambda e: e.partial_fit(X60, np.arange(60) % 5),
    "partial_fit: classes that differ": lambda e: e.partial_fit(X60, np.arange(60) % 3,
                                                                classes=[0, 1, 2, 3]),
    "warm start: new classes": _with(lambda e: e.fit(X60, np.arange(60) % 4), warm_start=True),
}


@pytest.mark.parametrize("kind", ["adam", "sgd-bn", "lbfgs", "dropout"])
@pytest.mark.parametrize("name", sorted(FAILING_CALLS) + sorted(CLASSIFIER_CALLS))
def test_a_failing_call_leaves_the_estimator_exactly_as_it_was(fitted_models, kind, name,
                                                               monkeypatch):
    est = fitted_models[kind]
    call = FAILING_CALLS.get(name) or CLASSIFIER_CALLS[name]
    if name in CLASSIFIER_CALLS and not isinstance(est, MLPClassifier):
        pytest.skip("classes belong to classifiers")
    if name.startswith("partial_fit") and kind == "lbfgs":
        pytest.skip("L-BFGS has no partial_fit")
    if ("schedule" in name or "early stopping" in name) and kind == "lbfgs":
        pytest.skip("L-BFGS has no schedule and no early stopping")
    if name == "fit: a network too large":
        monkeypatch.setattr(mlp, "_available_memory", lambda n_threads=1: (1000, "in this test"))
        monkeypatch.setattr(mlp, "_SMALL_FIT", 0)  # checked however small
    est.set_params(**getattr(call, "params", {}))
    _assert_fails_unchanged(est, call, exc=Exception)


def test_a_given_random_state_is_not_advanced_by_a_failing_fit():
    rs = np.random.RandomState(0)
    X, y = _data(6)
    clf = MLPClassifier(hidden_layer_sizes=(3,), random_state=rs, early_stopping=True,
                        validation_fraction=0.01)
    state = rs.get_state()[1].copy()
    with pytest.raises(ValueError):
        clf.fit(X, y % 2)  # fails after drawing the weights
    np.testing.assert_array_equal(rs.get_state()[1], state)


def test_a_fit_stopped_in_training_keeps_a_model_of_the_epochs_trained():
    X, y = _data()

    class StopAfterTwo:
        def on_epoch_end(self, record):
            if record.epoch == 2:
                raise RuntimeError("stop here")

    clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=5, random_state=0,
                        callbacks=[StopAfterTwo()])
    with pytest.raises(RuntimeError, match="stop here"):
        clf.fit(X, y)
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    ref = MLPClassifier(hidden_layer_sizes=(6,), max_iter=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf._params, ref._params)
    np.testing.assert_array_equal(clf.predict_proba(X), ref.predict_proba(X))


def test_a_changed_loss_neither_breaks_predictions_nor_reaches_training():
    # prediction reads no loss; a warm start or partial_fit with a loss that
    # does not go with the fitted output activation is a ValueError (not a
    # KeyError from the engine) that leaves the model as it was
    X, _ = _data()
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, X[:, 0])
    out = reg.predict(X)
    reg.set_params(loss="poisson")
    np.testing.assert_array_equal(reg.predict(X), out)
    assert np.isfinite(reg.score(X, X[:, 0]))
    error = _assert_fails_unchanged(reg, lambda e: e.partial_fit(X, X[:, 0]), exc=ValueError)
    assert "loss='poisson'" in str(error)
    reg.set_params(warm_start=True)
    error = _assert_fails_unchanged(reg, lambda e: e.fit(X, X[:, 0]), exc=ValueError)
    assert "loss='poisson'" in str(error)


# ---------------------------------------------------------------------------
# 1. A failed re-fit, then predict
# ---------------------------------------------------------------------------
def test_failed_refit_then_predict_uses_the_old_model():
    rng = np.random.RandomState(0)
    X = rng.randn(50, 2000)
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, X[:, 0])
    X1 = rng.randn(200, 1)
    _assert_fails_unchanged(reg, lambda r: r.fit(X1, X1[:, 0], sample_weight=np.ones(201)), X=X)
    assert reg.n_features_in_ == 2000
    with pytest.raises(ValueError, match="2000 features"):
        reg.predict(X1)
    assert reg.predict(X).shape == (50,)


# ---------------------------------------------------------------------------
# 2. fork
# ---------------------------------------------------------------------------
def _run_in_fork(fn, timeout=60):
    """fn() in a child made by os.fork: its result through a pipe, or an
    AssertionError when it hangs past `timeout` seconds (killed) or dies."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(r)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = fn()
            os.write(w, pickle.dumps((result, [str(c.message) for c in caught])))
            code = 0
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            os.write(w, pickle.dumps((exc, [])))
        finally:
            os._exit(code)
    os.close(w)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(r)
            raise AssertionError(f"the forked child hung for {timeout} s")
        time.sleep(0.02)
    data = b""
    while chunk := os.read(r, 1 << 16):
        data += chunk
    os.close(r)
    assert data, f"the forked child died (status {status})"
    result, messages = pickle.loads(data)
    if isinstance(result, BaseException):
        raise result
    return result, messages


def _predict_sum(args):
    est, X = args
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "forked after ... threads"
        return float(est.predict_proba(X).sum())


@pytest.mark.skipif(not POSIX, reason="fork is POSIX")
def test_a_fork_pool_after_a_threaded_fit_predicts():
    import multiprocessing as mp

    X, y = _data(400, 20)
    clf = MLPClassifier(hidden_layer_sizes=(600,), max_iter=2, n_threads=2,
                        random_state=0).fit(X, y)
    expected = float(clf.predict_proba(X).sum())
    with mp.get_context("fork").Pool(2) as pool:
        sums = pool.map_async(_predict_sum, [(clf, X)] * 4).get(timeout=120)
    np.testing.assert_allclose(sums, expected, rtol=1e-12)


@pytest.mark.skipif(not POSIX, reason="fork is POSIX")
def test_os_fork_child_runs_the_kernels_serially_with_one_warning():
    X, y = _data(400, 20)
    clf = MLPClassifier(hidden_layer_sizes=(600,), max_iter=2, n_threads=2,
                        random_state=0).fit(X, y)
    expected = clf.predict_proba(X)

    def child():
        first = clf.predict_proba(X)
        clf.fit(X, y)  # training works there too, on one thread
        return first, _core.serial_after_fork(), clf.predict_proba(X)

    (proba, serial, after), messages = _run_in_fork(child)
    assert serial
    np.testing.assert_array_equal(proba, expected)
    np.testing.assert_array_equal(after, expected)  # the same fit, bit for bit
    assert sum("forked" in m for m in messages) == 1


@pytest.mark.skipif(not POSIX, reason="fork is POSIX")
def test_fork_while_another_thread_fits_neither_hangs_nor_uses_a_half_written_model():
    X, y = _data(2000, 50)
    busy = MLPClassifier(hidden_layer_sizes=(512, 512), batch_size=2000, solver="sgd",
                         max_iter=200, tol=0, n_iter_no_change=10**9, n_threads=2,
                         random_state=0)
    other = MLPClassifier(hidden_layer_sizes=(64,), max_iter=2, random_state=0).fit(X, y)
    expected = other.predict_proba(X)
    started, stop = threading.Event(), threading.Event()

    class Signal:
        def on_fit_begin(self, info):
            started.set()

        def on_epoch_end(self, record):
            return stop.is_set()

    busy.set_params(callbacks=[Signal()])
    fitter = threading.Thread(target=busy.fit, args=(X, y))
    fitter.start()
    try:
        assert started.wait(60)
        time.sleep(0.3)  # inside an epoch: a kernel holds the core's BLAS count

        def child():
            with pytest.raises(RuntimeError, match="being fitted by another thread"):
                busy.predict(X)
            return other.predict_proba(X)  # the kernels (and BLAS) still work here

        proba, _ = _run_in_fork(child)
        np.testing.assert_array_equal(proba, expected)
    finally:
        stop.set()
        fitter.join()


# ---------------------------------------------------------------------------
# 3. Tampered pickles (more in test_hostile_input.py's properties)
# ---------------------------------------------------------------------------
def _state_of(est):
    return pickle.loads(pickle.dumps(est)).__getstate__()


def _load(cls, state):
    new = object.__new__(cls)
    new.__setstate__(state)
    return new


def test_tampered_optimizer_states_are_refused():
    X, y = _data()
    clf = MLPClassifier(hidden_layer_sizes=(4,), solver=Rprop(variant="irprop-"),
                        max_iter=2, random_state=0).fit(X, y)
    state = _state_of(clf)
    state["_optimizer"].slots = {name: None for name in state["_optimizer"].slots}
    with pytest.raises(ValueError, match="Corrupted gainprop model: optimizer state"):
        _load(MLPClassifier, state)
    # a variant that reads a slot this state does not have
    state = _state_of(clf)
    state["_optimizer"].rule.variant = "irprop+"
    with pytest.raises(ValueError, match="Corrupted gainprop model: optimizer state"):
        _load(MLPClassifier, state)
    state = _state_of(clf)
    state["n_features_in_"] = 4
    with pytest.raises(ValueError, match="n_features_in_ must be 5"):
        _load(MLPClassifier, state)


def test_the_core_refuses_an_optimizer_state_that_slipped_past_the_loader():
    # the last line: a rule whose variant needs a slot the state lacks never
    # reaches the C step
    X, y = _data()
    clf = MLPClassifier(hidden_layer_sizes=(4,), solver=Rprop(variant="irprop-"),
                        max_iter=1, random_state=0).fit(X, y)
    state = copy.deepcopy(clf._optimizer)
    state.rule.variant = "irprop+"
    w = clf._params.copy()
    with pytest.raises(ValueError, match="reads a slot that is missing"):
        _core.optimizer_step(w, np.zeros_like(w), state)
    np.testing.assert_array_equal(w, clf._params)


def test_a_slot_aliasing_the_weights_is_refused():
    n = 1000
    w = np.zeros(n)
    state = Adam()._make_state(n, np.float64, 0.1)
    state.slots["exp_avg"] = w  # the weights themselves
    with pytest.raises(ValueError, match="params and optimizer slot 'exp_avg' share memory"):
        _core.optimizer_step(w, np.ones(n), state)
    state = Adam()._make_state(n, np.float64, 0.1)
    state.slots["exp_avg_sq"] = state.slots["exp_avg"]
    with pytest.raises(ValueError, match="share memory"):
        _core.optimizer_step(w, np.ones(n), state)
    assert not w.any()


# ---------------------------------------------------------------------------
# 4. One estimator, many threads
# ---------------------------------------------------------------------------
def test_two_threads_fitting_one_estimator_with_different_widths():
    rng = np.random.RandomState(0)
    wide, narrow = rng.rand(300, 60), rng.rand(300, 3)
    reg = MLPRegressor(hidden_layer_sizes=(32,), max_iter=5, random_state=0)
    errors = []

    def fit(X):
        try:
            for _ in range(3):
                reg.fit(X, X[:, 0])
                try:  # the other thread may have re-fitted it to its width since
                    assert reg.predict(X).shape == (300,)
                except ValueError:
                    assert reg.n_features_in_ != X.shape[1]
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=fit, args=(X,)) for X in (wide, narrow)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    X = wide if reg.n_features_in_ == 60 else narrow
    assert reg._layout.units[0] == reg.n_features_in_ == X.shape[1]
    ref = MLPRegressor(hidden_layer_sizes=(32,), max_iter=5, random_state=0).fit(X, X[:, 0])
    np.testing.assert_array_equal(reg._params, ref._params)


def test_a_prediction_during_a_refit_waits_and_sees_the_new_model():
    X, y = _data(200, 8)
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, random_state=0).fit(X, y)
    events, result = [], {}

    def predict():
        result["proba"] = clf.predict_proba(X)
        events.append("predict returned")

    class StartPredictionMidFit:
        def on_epoch_end(self, record):
            if record.epoch == 1:
                reader = threading.Thread(target=predict)
                reader.start()
                reader.join(0.5)  # it must wait for the fit, not read a half-trained model
                events.append("epoch 1 ended")
                result["reader"] = reader

    clf.set_params(random_state=1, callbacks=[StartPredictionMidFit()])
    clf.fit(X, y)
    result["reader"].join()
    assert events == ["epoch 1 ended", "predict returned"]
    np.testing.assert_array_equal(result["proba"], clf.predict_proba(X))


def test_a_prediction_sees_the_model_from_before_or_after_a_refit_never_a_mix():
    X, y = _data(300, 8)
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=4, random_state=0).fit(X, y)
    before = clf.predict_proba(X)
    after = clone(clf).set_params(random_state=1).fit(X, y).predict_proba(X)
    seen = []
    done = threading.Event()

    def predict():
        while not done.is_set():
            seen.append(clf.predict_proba(X))

    reader = threading.Thread(target=predict)
    reader.start()
    try:
        clf.set_params(random_state=1).fit(X, y)
    finally:
        done.set()
        reader.join()
    seen.append(clf.predict_proba(X))
    for proba in seen:
        assert np.array_equal(proba, before) or np.array_equal(proba, after)
    assert np.array_equal(seen[-1], after)


def test_predictions_run_at_the_same_time():
    # while one thread holds the model's read lock (a prediction in progress),
    # another thread's prediction completes: readers do not exclude each other
    X, y = _data(100, 8)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)
    out = {}
    with clf._model_lock().reading():
        reader = threading.Thread(target=lambda: out.setdefault("proba", clf.predict_proba(X)))
        reader.start()
        reader.join(60)
        assert not reader.is_alive(), "a second reader waited for the first"
    assert out["proba"].shape == (100, 3)


def test_a_waiting_fit_keeps_new_predictions_out_and_gets_its_turn():
    X, y = _data(100, 8)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)
    order = []
    lock = clf._model_lock()
    with lock.reading():
        fitter = threading.Thread(target=lambda: (clf.fit(X, y), order.append("fit")))
        fitter.start()
        while not lock._waiting_writers:
            time.sleep(0.01)
        reader = threading.Thread(target=lambda: (clf.predict(X), order.append("predict")))
        reader.start()
        reader.join(0.3)
        assert reader.is_alive()  # behind the waiting fit
    fitter.join()
    reader.join()
    assert order == ["fit", "predict"]


def test_a_callback_may_predict_with_its_own_estimator():
    X, y = _data(100, 8)
    seen = []
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    clf.set_params(callbacks=[lambda record: seen.append(clf.predict(X).shape)])
    clf.fit(X, y)
    assert seen == [(100,)] * 3


# ---------------------------------------------------------------------------
# 5. Malformed sparse input (properties in test_hostile_input.py)
# ---------------------------------------------------------------------------
def _malformed():
    X, _ = _data(30, 6)
    X[X < 0.5] = 0
    good = sp.csr_matrix(X)
    out = {}
    m = good.copy(); m.indices[2] = 6; out["column index = n_features"] = m  # noqa: E702
    m = good.copy(); m.indices[2] = -1; out["negative column index"] = m  # noqa: E702
    m = good.copy(); m.indptr[5] = m.nnz + 10**6; out["indptr past nnz"] = m  # noqa: E702
    m = good.copy(); m.indptr[-1] -= 1; out["indptr ends before nnz"] = m  # noqa: E702
    m = good.copy(); m.indptr[4], m.indptr[5] = m.indptr[5], m.indptr[4]  # noqa: E702
    out["indptr decreasing"] = m
    m = good.tocsc(copy=True); m.indices[0] = 30; out["CSC row index = n_rows"] = m  # noqa: E702
    m = good.tocoo(copy=True); m.coords[1][0] = 99; out["COO column out of range"] = m  # noqa: E702
    m = sp.bsr_matrix(good, blocksize=(3, 2)); m.indices[0] = 5  # noqa: E702
    out["BSR block column out of range"] = m
    m = good.tolil(); m.rows[0].append(40); m.data[0].append(1.0)  # noqa: E702
    out["LIL column out of range"] = m
    return out


MALFORMED = _malformed()


@pytest.mark.parametrize("name", sorted(MALFORMED))
@pytest.mark.parametrize("method", ["fit", "partial_fit", "predict", "predict_proba"])
def test_malformed_sparse_input_is_a_value_error(name, method):
    X = MALFORMED[name]
    y = np.arange(30) % 3
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(
        _data(30, 6)[0], y)
    if method in ("fit", "partial_fit"):
        _assert_fails_unchanged(est, lambda e: getattr(e, method)(X, y), X=_data(30, 6)[0])
    else:
        with pytest.raises(ValueError, match="not a sound"):
            getattr(est, method)(X)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_sparse_matrix_without_stored_values_is_all_zeros(solver):
    # (its index and data arrays are empty: the core took that for missing arrays)
    X, y = _data(30, 6)
    zeros = sp.csr_matrix((30, 6))
    kw = dict(hidden_layer_sizes=(4,), solver=solver, max_iter=2, random_state=0)
    est = MLPClassifier(**kw).fit(zeros, y)
    ref = MLPClassifier(**kw).fit(np.zeros((30, 6)), y)
    np.testing.assert_allclose(est._params, ref._params, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(est.predict_proba(zeros[:1]), ref.predict_proba(np.zeros((1, 6))),
                               rtol=1e-12)
    fitted = MLPClassifier(**kw).fit(X, y)
    np.testing.assert_allclose(fitted.predict_proba(sp.csr_matrix((3, 6))),
                               fitted.predict_proba(np.zeros((3, 6))), rtol=1e-12)


def test_check_sparse_accepts_what_scipy_builds():
    X, _ = _data(30, 6)
    X[X < 0.5] = 0
    for m in (sp.csr_matrix(X), sp.csc_matrix(X), sp.coo_matrix(X), sp.csr_array(X),
              sp.bsr_matrix(X, blocksize=(3, 2)), sp.csr_matrix((30, 6)), sp.lil_matrix(X)):
        check_sparse(m)


# ---------------------------------------------------------------------------
# 6. Determinism whichever thread fits
# ---------------------------------------------------------------------------
def test_results_do_not_depend_on_the_calling_thread():
    X, y = _data(600, 64)

    def fit():
        return MLPClassifier(hidden_layer_sizes=(300,), max_iter=3, n_threads=2,
                             random_state=0).fit(X, y)._params

    main = fit()
    out = {}
    worker = threading.Thread(target=lambda: out.setdefault("worker", fit()))
    worker.start()
    worker.join()
    np.testing.assert_array_equal(out["worker"], main)
    # and while another fit runs in a third thread
    busy = threading.Thread(target=lambda: [fit() for _ in range(2)])
    busy.start()
    worker = threading.Thread(target=lambda: out.__setitem__("concurrent", fit()))
    worker.start()
    worker.join()
    busy.join()
    np.testing.assert_array_equal(out["concurrent"], main)


# ---------------------------------------------------------------------------
# 7. A schedule with too few per-batch rates
# ---------------------------------------------------------------------------
def test_a_schedule_with_too_few_rates_is_a_value_error_naming_batch_lrs():
    X, y = _data()
    clf = MLPClassifier(hidden_layer_sizes=(5,), solver="sgd", batch_size=10,
                        learning_rate=_ShortRates(), max_iter=2, random_state=0)
    with pytest.raises(ValueError, match=r"batch_lrs: the schedule .* shape \(5,\) .* 6 mini"):
        clf.fit(X, y)
    assert not hasattr(clf, "coefs_")


def test_the_core_refuses_too_few_rates():
    layout = Layout([3, 4, 1])
    eng = Engine(layout, "relu", "identity", "squared_error", 0.0, 1, 10, np.float64, 3, False)
    X = np.random.RandomState(0).rand(30, 3)
    params = np.zeros(layout.n_params)
    state = SGD()._make_state(layout.n_params, np.float64, 0.1)
    with pytest.raises(ValueError, match="batch_lrs must be .* shape \\(3\\)"):
        eng.train_epoch(Matrix(X, np.float64), X[:, :1].copy(), None, None, 10,
                        np.full(2, 0.1), params, None, state)
    assert not params.any() and state.step == 0



def test_the_core_refuses_training_work_without_the_second_halfs_gradient():
    # blocks of 300 rows of this network run as two halves (csrc
    # gp_splits_rows), the second with a gradient in work memory of its own:
    # training's work is a forward pass's and n_params more, and the core
    # itself (past the Python checks) refuses a buffer one value short
    layout = Layout([20, 64, 48, 1])
    eng = Engine(layout, "tanh", "identity", "squared_error", 0.0, 2, 300, np.float64, 20, False)
    rng = np.random.RandomState(0)
    X, Y = rng.randn(300, 20), rng.randn(300, 1)
    params = rng.uniform(-0.3, 0.3, layout.n_params)
    need = eng.net.work_size(False)
    assert need == eng.net.forward_work_size(300) + layout.n_params
    for size in (need - 1, need - layout.n_params):
        work = np.full(size + 1, 7.0)
        with pytest.raises(ValueError, match="structural checks"):
            eng.net._loss_grad(X.ravel(), None, None, 300, Y, None, params, eng.grad,
                               work[:size], eng.scratch, 0, 0)
        assert (work == 7.0).all()
    loss, _ = eng.net._loss_grad(X.ravel(), None, None, 300, Y, None, params, eng.grad,
                                 np.empty(need), eng.scratch, 0, 0)
    assert loss > 0


@pytest.mark.parametrize("batch_size", [2**62 + 1, 2**63 - 1])
def test_a_batch_past_the_rows_near_int64_max_is_one_batch_of_them(batch_size):
    # (n_rows + batch_size overflowed int64: UBSan, and an epoch of no batch)
    layout = Layout([3, 4, 1])
    eng = Engine(layout, "relu", "identity", "squared_error", 0.0, 1, 10, np.float64, 3, False)
    X = np.random.RandomState(0).rand(30, 3)
    results = []
    for bs in (30, batch_size):
        params = np.full(layout.n_params, 0.1)
        state = SGD()._make_state(layout.n_params, np.float64, 0.1)
        loss, n_rows, _ = eng.train_epoch(Matrix(X, np.float64), X[:, :1].copy(), None, None, bs,
                                          np.full(1, 0.1), params, None, state)
        results.append((loss, n_rows, params))
    assert results[1][:2] == results[0][:2] == (results[0][0], 30)
    np.testing.assert_array_equal(results[1][2], results[0][2])


# ---------------------------------------------------------------------------
# 8. Thread counts
# ---------------------------------------------------------------------------
def test_n_threads_beyond_the_cpus_is_capped_with_a_warning(monkeypatch):
    from gainprop import _runtime

    X, y = _data()
    cpus = _runtime.available_cpus()
    with pytest.warns(UserWarning, match=f"n_threads=1000 is more than the {cpus} CPUs"):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=1, n_threads=1000).fit(X, y)
    monkeypatch.setenv("OMP_NUM_THREADS", "999")
    with pytest.warns(UserWarning, match="n_threads=999"):
        assert _runtime.n_threads(None) == cpus


@pytest.mark.skipif(SANITIZED or not sys.platform.startswith("linux"),
                    reason="needs a real address-space limit (ASan reserves terabytes)")
def test_a_thousand_threads_under_an_address_space_limit_do_not_end_the_process():
    code = textwrap.dedent("""
        import resource, warnings
        import numpy as np
        warnings.simplefilter("ignore")
        from gainprop import MLPRegressor
        from gainprop._multilayer_perceptron import _proc_status
        X = np.random.RandomState(0).rand(500, 50)
        resource.setrlimit(resource.RLIMIT_AS, (_proc_status("VmSize") + 200 * 2**20,
                                                resource.RLIM_INFINITY))
        for hidden in [(600,), (20000, 2000)]:
            try:
                MLPRegressor(hidden_layer_sizes=hidden, max_iter=2,
                             n_threads=1000).fit(X, X[:, 0])
                print("fitted")
            except MemoryError as exc:
                print("MemoryError:", exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("MemoryError:") and "ulimit -v" in lines[1]


# ---------------------------------------------------------------------------
# 9. Mini-batches whose sample weights are all zero
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("batch_norm", [False, True])
def test_a_zero_weight_batch_is_skipped(batch_norm):
    rng = np.random.RandomState(0)
    X, Y = rng.rand(40, 3), rng.rand(40, 2)
    sw = np.ones(40)
    sw[10:20] = 0  # the second batch of four
    keep = sw > 0
    layout = Layout([3, 5, 2], batch_norm=batch_norm)
    rates = np.array([0.1, 0.2, 0.3, 0.4])

    def epoch(Xe, Ye, swe, lrs):
        eng = Engine(layout, "tanh", "identity", "squared_error", 1e-3, 1, 10, np.float64, 3,
                     False)
        params = np.random.RandomState(1).uniform(-1, 1, layout.n_params)
        running = np.tile([0.0] * 5 + [1.0] * 5, 1) if batch_norm else None
        state = Adam()._make_state(layout.n_params, np.float64, 0.1)
        loss, rows, status = eng.train_epoch(Matrix(Xe, np.float64), Ye, swe, None, 10, lrs,
                                             params, running, state)
        return loss, rows, params, running, state

    loss, rows, params, running, state = epoch(X, Y, sw, rates)
    # the same epoch without that batch, the rates of the other batches' positions
    ref_loss, ref_rows, ref_params, ref_running, ref_state = epoch(
        X[keep], Y[keep], sw[keep], rates[[0, 2, 3]])
    assert rows == ref_rows == 30  # the rows of the batches stepped
    assert state.step == ref_state.step == 3
    assert loss == ref_loss
    np.testing.assert_array_equal(params, ref_params)
    for name in state.slots:
        np.testing.assert_array_equal(state.slots[name], ref_state.slots[name])
    if batch_norm:
        np.testing.assert_array_equal(running, ref_running)


def test_an_epoch_whose_every_batch_weighs_zero_is_a_value_error_before_any_change():
    # weights that cancel within every mini-batch: nothing to train on
    X, y = _data()
    clf = MLPClassifier(hidden_layer_sizes=(4,), batch_size=2, shuffle=False, max_iter=2,
                        random_state=0).fit(X, y)
    sw = np.tile([1.0, -1.0], 30)
    _assert_fails_unchanged(clf, lambda c: c.partial_fit(X, y, sample_weight=sw))
    _assert_fails_unchanged(clf, lambda c: c.fit(X, y, sample_weight=sw))


def test_an_all_zero_sample_weight_is_a_value_error():
    X, y = _data()
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2)
    with pytest.raises(ValueError, match="at least one non-zero"):
        clf.fit(X, y, sample_weight=np.zeros(60))
    assert not hasattr(clf, "coefs_")


# ---------------------------------------------------------------------------
# 10. The memory pre-check
# ---------------------------------------------------------------------------
def test_work_buffers_count_in_the_memory_check(monkeypatch):
    monkeypatch.setattr(mlp, "_available_memory",
                        lambda n_threads=1: (2 * 2**30, "available in this test"))
    X = np.random.RandomState(0).rand(5000, 10)
    reg = MLPRegressor(hidden_layer_sizes=(200000,), batch_size=4096, max_iter=1)
    with pytest.raises(MemoryError) as info:
        reg.fit(X, X[:, 0])
    need = float(re.search(r"needs about ([\d.,]+) GiB", str(info.value)).group(1))
    # act and delta of 4096 rows x 200,000 units in float64 alone are 12.2 GiB
    assert 12.2 < need < 14
    assert "more than the 2.00 GiB available in this test" in str(info.value)
    assert not hasattr(reg, "coefs_")


def test_a_work_size_past_64_bits_is_refused_not_wrapped():
    # 5 x 2**31 rows x 2**31 units would wrap int64 to a small buffer that the
    # kernels would then overrun
    net = _core.Net(Layout([3, 2**31 - 1, 2]), "relu", "identity", "squared", 0.0, 1.0, 1,
                    2**31 - 1)
    with pytest.raises(ValueError, match="cannot be addressed"):
        net.work_size(False)


_PEAK = textwrap.dedent("""
    import json, sys, warnings
    import numpy as np
    warnings.simplefilter("ignore")
    from gainprop import MLPClassifier, MLPRegressor
    from gainprop import _multilayer_perceptron as mlp
    from gainprop._multilayer_perceptron import _proc_status

    estimated = []
    check = mlp._check_memory
    mlp._check_memory = lambda layout, need, *a: estimated.append(need) or check(layout, need, *a)
    rng = np.random.RandomState(0)
    X = rng.rand(2048, 20)
    y = rng.randint(0, 3, 2048)
    small, ys = X[:128], y[:128]
    cases = {  # about 100-200 MB each, little arithmetic
        "adam, work buffers": lambda: MLPRegressor(hidden_layer_sizes=(5000,), batch_size=2048,
                                                   max_iter=2).fit(X, X[:, 0]),
        "adam, parameters": lambda: MLPClassifier(hidden_layer_sizes=(1200, 1200),
                                                  max_iter=2).fit(small, ys),
        "sgd, early stopping": lambda: MLPClassifier(hidden_layer_sizes=(1200, 1200),
                                                     solver="sgd", early_stopping=True,
                                                     max_iter=2).fit(small, ys),
        "lbfgs": lambda: MLPClassifier(hidden_layer_sizes=(800, 800), solver="lbfgs",
                                       max_iter=2).fit(small, ys),
    }
    MLPClassifier(hidden_layer_sizes=(8,), max_iter=1).fit(X, y)  # warm up
    out = {}
    for name, fit in cases.items():
        before = _proc_status("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak
        fit()
        out[name] = (_proc_status("VmHWM") - before, estimated[-1])
    json.dump(out, sys.stdout)
""")


@pytest.mark.skipif(SANITIZED or not os.path.exists("/proc/self/clear_refs"),
                    reason="needs Linux's peak resident memory (and no sanitizer's shadow)")
def test_fit_memory_estimate_covers_peak_memory():
    import json

    out = subprocess.run([sys.executable, "-c", _PEAK], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    for name, (peak, estimate) in json.loads(out.stdout).items():
        # honest: never less than what the fit really touched (small slack for
        # the allocator's and Python's own pages), and not a gross overcount
        assert peak <= estimate + 16 * 2**20, (name, peak / 2**20, estimate / 2**20)
        assert estimate <= 2 * peak + 64 * 2**20, (name, peak / 2**20, estimate / 2**20)


@pytest.mark.skipif(not POSIX, reason="fork is POSIX")
@pytest.mark.parametrize("sparse", [False, True])
def test_os_fork_child_predicts_several_blocks_of_rows_serially_with_the_parents_bits(sparse):
    # more rows than one block (1,024): the parent runs the blocks side by side
    # on two threads, each on a work region of its own; the forked child runs
    # them on its calling thread, in the first region, with the same bits
    X, y = _data(2500, 20)
    rows = sp.csr_matrix(np.where(X > 0.4, X, 0.0)) if sparse else X
    clf = MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=2, n_threads=2, batch_norm=True,
                        random_state=0).fit(X[:400], y[:400])
    expected = clf.predict_proba(rows)

    def child():
        return clf.predict_proba(rows), _core.serial_after_fork()

    (proba, serial), _ = _run_in_fork(child)
    assert serial
    np.testing.assert_array_equal(proba, expected)
