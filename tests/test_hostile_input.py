"""Hostile and odd input, property-based: the only outcomes allowed are a
correct result or a ValueError/TypeError with a message — never a crash, a
hang or silent garbage.  More examples: HYPOTHESIS_PROFILE=long (tools/fuzz_long.sh)."""

import os
import warnings

import numpy as np
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gainprop import MLPClassifier, MLPRegressor

settings.register_profile("ci", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DTYPES = ["float64", "float32", "float16", "int64", "int8", "bool", "object", "complex128"]


@st.composite
def inputs(draw):
    n = draw(st.integers(0, 6))
    d = draw(st.integers(0, 4))
    dtype = draw(st.sampled_from(DTYPES))
    values = draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=n * d,
                           max_size=n * d))
    X = np.array(values, dtype=np.float64).reshape(n, d)
    special = draw(st.sampled_from([None, np.nan, np.inf, -np.inf, 1e300]))
    if special is not None and X.size:
        X.flat[draw(st.integers(0, X.size - 1))] = special
    if dtype == "object":
        X = X.astype(object)
    elif dtype == "complex128":
        X = X.astype(np.complex128)
    elif dtype in ("int64", "int8", "bool"):
        with np.errstate(invalid="ignore", over="ignore"):
            X = np.nan_to_num(X, posinf=0, neginf=0).astype(dtype)
    else:
        with np.errstate(over="ignore"):
            X = X.astype(dtype)
    layout = draw(st.sampled_from(["c", "f", "readonly", "sparse", "sparse-zeros"]))
    if layout == "f":
        X = np.asfortranarray(X)
    elif layout == "readonly":
        X = np.array(X)
        X.setflags(write=False)
    elif layout.startswith("sparse") and X.dtype.kind in "fiub" and X.dtype != np.float16:
        X = sp.csr_matrix(X)
        if layout == "sparse-zeros" and X.shape[0] and X.shape[1]:
            X = sp.csr_matrix((np.zeros(1), ([0], [0])), shape=X.shape) + X  # explicit zero
    labels = draw(st.sampled_from(["int", "str", "mixed", "float", "bool", "none", "2d"]))
    if labels == "int":
        y = np.arange(n) % 3
    elif labels == "str":
        y = np.array(["a", "b", "c"] * 3)[:n]
    elif labels == "mixed":
        y = np.array([1, "a", 2.5] * 3, dtype=object)[:n]
    elif labels == "float":
        y = np.linspace(0, 1, n)
    elif labels == "bool":
        y = (np.arange(n) % 2).astype(bool)
    elif labels == "none":
        y = np.array([None] * n, dtype=object)
    else:
        y = (np.arange(2 * n).reshape(n, 2) % 2)
    return X, y


def _check_outcome(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    except (ValueError, TypeError) as exc:
        assert str(exc), "errors must say what is wrong"
        return None


@given(inputs(), st.sampled_from(["classifier", "regressor"]))
def test_fit_partial_fit_predict_never_crash(data, kind):
    X, y = data
    est = (MLPClassifier if kind == "classifier" else MLPRegressor)(
        hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    fitted = _check_outcome(lambda: est.fit(X, y))
    if fitted is not None:
        assert all(np.isfinite(c).all() for c in est.coefs_ + est.intercepts_)
        pred = _check_outcome(lambda: est.predict(X))
        if pred is not None:
            assert len(pred) == X.shape[0]
            if kind == "regressor":
                assert np.isfinite(pred).all()
        if kind == "classifier":
            proba = _check_outcome(lambda: est.predict_proba(X))
            if proba is not None:
                assert np.isfinite(proba).all()
                np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-3) if np.ndim(
                    y) == 1 else None
    est2 = (MLPClassifier if kind == "classifier" else MLPRegressor)(
        hidden_layer_sizes=(3,), random_state=0)
    if kind == "classifier" and np.ndim(y) == 1:
        try:
            classes = np.unique(y)
        except TypeError:  # labels numpy cannot sort (mixed types): the user's classes
            classes = np.array(list(dict.fromkeys(y.tolist())), dtype=object)
        _check_outcome(lambda: est2.partial_fit(X, y, classes=classes))
    else:
        _check_outcome(lambda: est2.partial_fit(X, y))


def test_memmap_input(tmp_path):
    X = np.memmap(tmp_path / "x.dat", dtype=np.float64, mode="w+", shape=(30, 4))
    X[:] = np.random.RandomState(0).rand(30, 4)
    X.flush()
    Xr = np.memmap(tmp_path / "x.dat", dtype=np.float64, mode="r", shape=(30, 4))
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(Xr, np.arange(30) % 2)
    assert clf.predict(Xr).shape == (30,)
