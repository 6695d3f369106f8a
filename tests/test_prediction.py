"""Predictions: the fast path for plain arrays against scikit-learn's
validation, label decoding, one row against many, the cached network."""

import pickle
import threading
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.validation import validate_data

from gainprop import MLPClassifier, MLPRegressor
from gainprop._engine import Matrix
from gainprop._labels import decode

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def fitted(_digits_arrays):
    X, y = _digits_arrays
    return {dtype: MLPClassifier(hidden_layer_sizes=(30,), max_iter=5, random_state=0).fit(
        X.astype(dtype), y) for dtype in (np.float32, np.float64)}


def _slow(est, X):
    """What the fast path must equal: validate_data, then the network."""
    return est._forward_pass_fast(validate_data(est, X, accept_sparse=["csr", "csc"],
                                                reset=False), check_input=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", [
    lambda X: X,                                 # the fast path
    lambda X: np.asfortranarray(X),              # F-ordered: fast path, copied
    lambda X: X.astype(np.float16),              # validate_data's path
    lambda X: (X * 16).astype(np.int64),
    lambda X: X.tolist(),
    lambda X: sp.csr_matrix(X),
])
def test_every_input_gives_what_validate_data_gives(fitted, digits, dtype, make):
    est = fitted[dtype]
    X = make(digits[0][:50].astype(dtype))
    np.testing.assert_array_equal(est.predict_proba(X),
                                  np.maximum(_slow(est, X), np.finfo(dtype).tiny))


@pytest.mark.parametrize("bad", [
    lambda X: X[:1, :5],                          # wrong width
    lambda X: np.where(np.arange(64) == 3, np.nan, X[:1]),
    lambda X: np.where(np.arange(64) == 3, np.inf, X[:1]),
    lambda X: X[:0],                              # no rows
    lambda X: X[0],                               # 1-D
    lambda X: X[:1].astype(np.complex128),
    lambda X: np.array([["a"] * 64], dtype=object),
])
def test_errors_are_scikit_learns(fitted, digits, bad):
    est = fitted[np.float64]
    X = bad(digits[0])
    with pytest.raises(ValueError) as expected:
        validate_data(est, X, accept_sparse=["csr", "csc"], reset=False)
    for method in (est.predict, est.predict_proba, est.predict_log_proba):
        with pytest.raises(ValueError) as got:
            method(X)
        assert str(got.value) == str(expected.value)


def test_assume_finite_lets_non_finite_values_through(fitted, digits):
    est = fitted[np.float64]
    X = np.where(np.arange(64) == 3, np.nan, digits[0][:2])
    with sklearn.config_context(assume_finite=True):
        assert np.isnan(est.predict_proba(X)).all()
    # a finite array whose sum overflows is finite: both fast checks take it
    big = np.full((1, 64), 1e307)
    assert est._predict_input(big) is big
    net = est._predictor().net
    assert net.forward_rows(big, est._params, est._running, False, True) is not None


def test_feature_name_warnings_are_scikit_learns(digits):
    X, y = digits
    names = [f"pixel{i}" for i in range(64)]
    with_names = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(
        pd.DataFrame(X, columns=names), y)
    without = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)
    for est, data in ((with_names, X[:3]), (without, pd.DataFrame(X[:3], columns=names))):
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            est.predict(data)
        with warnings.catch_warnings(record=True) as expected:
            warnings.simplefilter("always")
            validate_data(est, data, reset=False)
        assert [str(w.message) for w in got] == [str(w.message) for w in expected] != []


@pytest.mark.parametrize("y", [
    lambda y: y,                                   # multiclass, integers
    lambda y: np.array(["zero", "one", "two"] * 600)[:len(y)],  # multiclass, strings
    lambda y: y % 2,                               # binary
    lambda y: np.where(y % 2 == 0, "even", "odd"),  # binary, strings
    lambda y: np.stack([y % 2, y > 4, y == 3], axis=1).astype(int),  # multi-label
])
def test_decoding_equals_the_label_binarizers(digits, y):
    X, labels = digits
    target = y(labels)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X[:600],
                                                                               target[:600])
    out = clf._forward_pass_fast(X)
    expected = clf._label_binarizer.inverse_transform(out.ravel() if out.shape[1] == 1 else out)
    got = decode(clf._label_binarizer, out)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(clf.predict(X), expected)


def test_decoding_of_a_fitted_label_binarizer_with_one_class():
    lb = LabelBinarizer().fit([7, 7, 7])
    out = np.array([[0.2], [0.9]])
    np.testing.assert_array_equal(decode(lb, out), lb.inverse_transform(out))


@pytest.mark.parametrize("est", [
    MLPClassifier(hidden_layer_sizes=(30, 20), max_iter=3, random_state=0),
    MLPClassifier(hidden_layer_sizes=(30,), max_iter=3, random_state=0, batch_norm=True),
    MLPRegressor(hidden_layer_sizes=(30,), max_iter=3, random_state=0),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_row_gives_the_same_bits_by_either_path_and_any_thread_count(digits, est, dtype):
    # (a row predicted alone and inside a batch can differ in the last bits:
    # OpenBLAS's results depend on the rows of a call - measured; see
    # docs/RELIABILITY.md)
    X, y = digits
    X = X.astype(dtype)
    est.fit(X, y)
    method = est.predict_proba if hasattr(est, "predict_proba") else est.predict
    for rows in (X[:1], X[:300]):
        fast = method(rows)
        assert est._predict_input(rows) is rows  # the fast path was taken
        np.testing.assert_array_equal(method(rows.tolist()), fast)  # validate_data's
        for n_threads in (1, 2):
            est.set_params(n_threads=n_threads)
            np.testing.assert_array_equal(method(rows), fast)
        est.set_params(n_threads=None)


def test_the_cached_network_follows_the_model_and_its_settings(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(20,), max_iter=3, random_state=0).fit(X, y)
    relu = clf.predict_proba(X[:5])
    clf.set_params(activation="tanh")  # as scikit-learn: predictions use the setting
    tanh = clf.predict_proba(X[:5])
    assert not np.allclose(relu, tanh)
    clf.set_params(activation="relu")
    np.testing.assert_array_equal(clf.predict_proba(X[:5]), relu)
    clf.set_params(hidden_layer_sizes=(7,)).fit(X, y)  # a new network, a new cache
    assert clf.predict_proba(X[:5]).shape == (5, 10) and clf.coefs_[0].shape == (64, 7)
    assert "_gp_predictor" not in vars(clf)  # the cache is no attribute


# -- the one-call fast path of the core (Net.forward_rows) ----------------------
@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_rows_gives_the_bits_of_the_general_pass(digits, dtype, batch_norm):
    X, y = digits
    X = X.astype(dtype)
    est = MLPClassifier(hidden_layer_sizes=(30, 20), max_iter=3, random_state=0,
                        batch_norm=batch_norm).fit(X, y)
    predictor = est._predictor()
    many = np.concatenate([X, X])  # 3,594 rows: blocks of 1,024 and a partial one
    for n in (1, 7, 1024, 1025, len(many)):
        rows = many[:n]
        for apply_output in (True, False):
            fast = predictor.net.forward_rows(rows, est._params, est._running, apply_output,
                                              True)
            general = predictor.forward(Matrix(rows, dtype), est._params, est._running,
                                        apply_output)
            assert fast.dtype == dtype and fast.flags.c_contiguous and fast.flags.writeable
            np.testing.assert_array_equal(fast, general)
    rows = many[:5].copy()
    rows.flags.writeable = False  # read-only input is read, not refused
    np.testing.assert_array_equal(
        predictor.net.forward_rows(rows, est._params, est._running, True, True),
        predictor.forward(Matrix(rows, dtype), est._params, est._running))


class _Subclass(np.ndarray):
    pass


@pytest.mark.parametrize("make", [
    lambda X: X.tolist(),
    lambda X: np.asfortranarray(X[:5]),          # not C-contiguous
    lambda X: X[:10:2],                          # strided rows
    lambda X: X[:5].astype(np.float32),          # another dtype than the model's
    lambda X: X[:5].astype(np.int64),
    lambda X: X[:0],                             # no rows
    lambda X: X[0],                              # 1-D
    lambda X: X[:2, :63].copy(),                 # too narrow
    lambda X: np.hstack([X[:2], X[:2, :1]]),     # too wide
    lambda X: X[:2, :, None].copy(),             # 3-D
    lambda X: X[:2].view(np.matrix),             # a subclass
    lambda X: X[:2].copy().view(_Subclass),      # a subclass
])
def test_forward_rows_declines_anything_but_a_plain_array_of_the_model(fitted, digits, make):
    est = fitted[np.float64]
    net = est._predictor().net
    assert net.forward_rows(make(digits[0]), est._params, est._running, True, True) is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_rows_finds_every_non_finite_value(digits, dtype):
    X, y = digits
    X = X[:, :61].astype(dtype)  # 3 rows of 61: 183 values, past the 8-value blocks
    est = MLPClassifier(hidden_layer_sizes=(10,), max_iter=2, random_state=0).fit(X, y)
    net, params = est._predictor().net, est._params
    rows = X[:3].copy()
    rows[0, 0] = np.finfo(dtype).max  # large finite values are finite
    rows[2, 60] = -np.finfo(dtype).max
    assert net.forward_rows(rows, params, None, True, True) is not None
    for position in range(rows.size):
        for bad in (np.nan, np.inf, -np.inf):
            hostile = rows.copy()
            hostile.flat[position] = bad
            assert net.forward_rows(hostile, params, None, True, True) is None
            # assume_finite: the values go through (as scikit-learn's)
            assert net.forward_rows(hostile, params, None, True, False) is not None


def test_forward_rows_checks_the_model_as_forward_does(digits):
    X, y = digits
    plain = MLPClassifier(hidden_layer_sizes=(10,), max_iter=2, random_state=0).fit(X, y)
    bn = MLPClassifier(hidden_layer_sizes=(10,), max_iter=2, random_state=0,
                       batch_norm=True).fit(X, y)
    rows = X[:2].copy()
    for est, params, running in (
            (plain, plain._params[:-1], None),                      # too short
            (plain, np.concatenate([plain._params, [0.0]]), None),  # too long
            (plain, plain._params[::-1], None),                     # not contiguous
            (plain, plain._params.astype(np.int64), None),
            (plain, plain._params, np.zeros(4)),                    # running without bn
            (bn, bn._params, None),                                 # bn without running
            (bn, bn._params, bn._running[:-1]),
            (bn, bn._params, bn._running.astype(np.float32))):
        with pytest.raises(ValueError):
            est._predictor().net.forward_rows(rows, params, running, True, True)
    # a model of another dtype than X: declined (the general path converts X)
    assert plain._predictor().net.forward_rows(rows, plain._params.astype(np.float32), None,
                                               True, True) is None


def test_a_plain_array_takes_the_one_call_path(fitted, digits, monkeypatch):
    est = fitted[np.float32]
    rows = digits[0][:3].astype(np.float32)
    expected = est.predict_proba(rows)

    def validation(X):
        raise AssertionError("the fast path went through validation")

    monkeypatch.setattr(est, "_predict_input", validation)
    np.testing.assert_array_equal(est.predict_proba(rows), expected)
    est.predict(rows)

@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_assigned_weights_are_predicted_with_on_a_plain_array(digits, dtype, batch_norm):
    # rows the fast path would take (the model's dtype and width): assigned
    # weights must send them through the general path, which writes them
    # into the buffer; otherwise the prediction uses the old weights
    X, y = digits
    X = X.astype(dtype)
    rows = X[:5].copy()
    clf = MLPClassifier(hidden_layer_sizes=(10,), max_iter=2, random_state=0,
                        batch_norm=batch_norm).fit(X, y)
    assignments = [
        lambda: setattr(clf, "coefs_", [c * 2 for c in clf.coefs_]),       # the list
        lambda: clf.intercepts_.__setitem__(0, clf.intercepts_[0] + 1),   # an item
        lambda: setattr(clf, "coefs_", tuple(c * 0.5 for c in clf.coefs_)),
    ]
    if batch_norm:
        assignments += [
            lambda: setattr(clf, "bn_gamma_", [g * 2 for g in clf.bn_gamma_]),
            lambda: clf.bn_running_mean_.__setitem__(0, clf.bn_running_mean_[0] + 0.25),
        ]
    for assign in assignments:
        before = clf.predict_proba(rows)
        assign()
        after = clf.predict_proba(rows)
        assert not np.array_equal(before, after)
        expected = _slow(clf, rows)  # (writes the assigned weights: after `after`)
        np.testing.assert_array_equal(after, np.maximum(expected, np.finfo(dtype).tiny))
        np.testing.assert_array_equal(clf.predict_proba(rows), after)  # now the fast path


@pytest.mark.parametrize("make", [
    lambda X: X[:2, :5].copy(),                                   # wrong width
    lambda X: np.where(np.arange(64) == 3, np.nan, X[:2]),        # NaN
])
def test_errors_of_x_come_before_those_of_invalid_assigned_weights(digits, make):
    # as for any other input (a list), X is checked first, whatever its type
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(10,), max_iter=2, random_state=0).fit(X, y)
    clf.coefs_ = clf.coefs_[:1]  # invalid: one array of two
    bad = make(X)
    with pytest.raises(ValueError) as as_list:
        clf.predict(bad.tolist())
    with pytest.raises(ValueError) as as_array:
        clf.predict(bad)
    assert str(as_array.value) == str(as_list.value)
    assert "coefs_" not in str(as_array.value)


def _unaligned(a):
    """A copy of a whose data starts one byte past an aligned address."""
    raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
    out = np.frombuffer(raw.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned and out.flags.c_contiguous
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unaligned_arrays_are_copied_before_c_reads_them(digits, dtype):
    X, y = digits
    X = X[:300].astype(dtype)
    w = np.linspace(0.5, 1.5, 300)
    est = MLPRegressor(hidden_layer_sizes=(10,), max_iter=3, random_state=0)
    expected = est.fit(X, y[:300].astype(dtype), sample_weight=w).predict(X)
    net = est._predictor().net
    assert net.forward_rows(_unaligned(X), est._params, None, True, True) is None  # declined
    np.testing.assert_array_equal(est.predict(_unaligned(X)), expected)
    again = MLPRegressor(hidden_layer_sizes=(10,), max_iter=3, random_state=0).fit(
        _unaligned(X), _unaligned(y[:300].astype(dtype)), sample_weight=_unaligned(w))
    np.testing.assert_array_equal(again.predict(X), expected)
    # the core's own check refuses an unaligned buffer handed to it directly
    predictor = est._predictor()
    with pytest.raises(ValueError, match="got unaligned"):
        predictor.net.forward(Matrix(X, dtype), _unaligned(est._params), None,
                              np.empty((300, 1), dtype), True,
                              np.empty(predictor.net.forward_work_size(300, 300), dtype), 300)



@pytest.mark.parametrize("batch_norm", [False, True])
def test_a_model_loaded_from_unaligned_buffers_predicts_and_trains_on(digits, batch_norm):
    # pickle protocol 5 hands the arrays' memory out of band; a transport
    # that lays the buffers out back to back (shared memory, a message) can
    # give them back at odd addresses, and numpy then views them unaligned
    X, y = digits
    X = X[:300]
    est = MLPClassifier(hidden_layer_sizes=(10,), max_iter=3, random_state=0, solver="adam",
                        batch_norm=batch_norm).fit(X, y[:300])
    buffers = []
    data = pickle.dumps(est, protocol=5, buffer_callback=buffers.append)
    raws = [b.raw() for b in buffers]
    blob = bytearray(1 + sum(r.nbytes for r in raws))
    views, at = [], 1  # every buffer one byte past an aligned address
    for raw in raws:
        blob[at:at + raw.nbytes] = raw
        views.append(memoryview(blob)[at:at + raw.nbytes])
        at += raw.nbytes
    assert all(np.frombuffer(v, np.uint8).ctypes.data % 2 for v in views)
    loaded = pickle.loads(data, buffers=views)
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(loaded.partial_fit(X, y[:300]).predict_proba(X),
                                  est.partial_fit(X, y[:300]).predict_proba(X))


# -- blocks of rows side by side (more rows than one block) ----------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sparse", [False, True])
def test_several_blocks_give_the_same_bits_for_any_thread_count(digits, dtype, sparse):
    X, y = digits
    X = np.concatenate([X, X[::-1]]).astype(dtype)  # 3,594 rows: 4 blocks of up to 1,024
    est = MLPClassifier(hidden_layer_sizes=(40, 30), max_iter=3, random_state=0).fit(X, np.r_[y, y])
    rows = sp.csr_matrix(X) if sparse else X
    by_threads = []
    for n_threads in (1, 2):
        est.set_params(n_threads=n_threads)
        by_threads.append(est.predict_proba(rows))
    np.testing.assert_array_equal(by_threads[0], by_threads[1])
    # each row as a float64 reference computes it
    a = X.astype(np.float64)
    for W, b in zip(est.coefs_[:-1], est.intercepts_[:-1]):
        a = np.maximum(a @ W + b, 0)
    z = a @ est.coefs_[-1] + est.intercepts_[-1]
    reference = np.exp(z - z.max(axis=1, keepdims=True))
    reference /= reference.sum(axis=1, keepdims=True)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(by_threads[0], reference, rtol=tol, atol=tol)


def test_the_work_of_several_blocks_is_counted_and_checked(digits):
    X, y = digits
    est = MLPClassifier(hidden_layer_sizes=(20,), max_iter=2, random_state=0, n_threads=2).fit(X, y)
    net = est._predictor().net
    one = net.forward_work_size(1024, 1024)  # one block: the threads share it
    # training's blocks of 128 to 511 rows (a batch's last block) run as two
    # halves, the second with a gradient of its own (csrc gp_splits_rows;
    # a block of 1,024 rows shares its products out instead), so its work
    # holds that gradient (gp_splits_some_rows); a prediction needs no gradient
    assert net.work_size(False, 1024) == one + est._layout.n_params
    assert net.forward_work_size(1025, 1024) == min(2, net.n_threads) * one  # side by side
    assert net.forward_work_size(10**6, 1024) == net.n_threads * one  # one per thread
    rows = np.concatenate([X, X])
    out = np.empty((len(rows), 10))
    if net.n_threads > 1:
        with pytest.raises(ValueError, match="work must hold"):
            net.forward(Matrix(rows, np.float64), est._params, None, out, True, np.empty(one),
                        1024)
    work = np.empty(net.forward_work_size(len(rows), 1024))
    net.forward(Matrix(rows, np.float64), est._params, None, out, True, work, 1024)
    np.testing.assert_array_equal(out, est.predict_proba(rows))


def test_a_validation_set_of_several_blocks_is_scored_as_score_scores(digits):
    X, y = digits
    X_val, y_val = np.concatenate([X, X])[:1500], np.concatenate([y, y])[:1500]
    est = MLPClassifier(hidden_layer_sizes=(20,), max_iter=1, random_state=0, n_threads=2,
                        early_stopping=True).fit(X, y, X_val=X_val, y_val=y_val)
    assert est.validation_scores_[0] == est.score(X_val, y_val)


def _in_thread(fn):
    """fn() run on a new Python thread (another calling thread)."""
    box = []
    thread = threading.Thread(target=lambda: box.append(fn()))
    thread.start()
    thread.join()
    return box[0]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(activation=st.sampled_from(["identity", "logistic", "tanh", "relu", "leaky_relu", "elu",
                                   "gelu", "softplus", "silu"]),
       batch_norm=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]),
       kind=st.sampled_from(["regressor", "binary", "multiclass", "multilabel"]),
       n_rows=st.sampled_from([1, 1024, 1025, 2048, 2049, 5000]), sparse=st.booleans())
def test_any_network_predicts_its_blocks_with_the_same_bits_on_any_threads(
        activation, batch_norm, dtype, kind, n_rows, sparse):
    rng = np.random.default_rng(n_rows)
    X = rng.normal(size=(n_rows, 9)).astype(dtype)
    X[X < 0.2] = 0
    rows = sp.csr_matrix(X) if sparse else X
    fit_rows = rng.normal(size=(64, 9)).astype(dtype)
    settings_ = dict(hidden_layer_sizes=(23, 17), activation=activation, batch_norm=batch_norm,
                     max_iter=2, random_state=0)
    if kind == "regressor":
        est = MLPRegressor(**settings_).fit(fit_rows, rng.normal(size=(64, 2)))
        predict = est.predict
    else:
        y = {"binary": rng.integers(0, 2, 64), "multiclass": rng.integers(0, 4, 64),
             "multilabel": rng.integers(0, 2, (64, 3))}[kind]
        est = MLPClassifier(**settings_).fit(fit_rows, y)
        predict = est.predict_proba
    results = []
    for n_threads in (1, 2):
        est.set_params(n_threads=n_threads)
        results += [predict(rows), _in_thread(lambda: predict(rows))]
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])
    assert results[0].dtype == dtype and np.isfinite(results[0]).all()
    # each block alone (a single block shares its products among the threads,
    # so the last bits may differ): every row lands where it belongs
    pieces = np.concatenate([predict(rows[s:s + 1024]) for s in range(0, n_rows, 1024)])
    tol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(results[0], pieces, rtol=tol, atol=tol)
