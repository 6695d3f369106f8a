"""Hostile and odd input, property-based: the only outcomes allowed are a
correct result or a ValueError/TypeError with a message — never a crash, a
hang or silent garbage.  The same for tampered pickled states and malformed
sparse matrices.  More examples: HYPOTHESIS_PROFILE=long (tools/fuzz_long.sh)."""

import copy
import os
import pickle
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


def _check_outcome(fn, allowed=(ValueError, TypeError)):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    except allowed as exc:
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


# ---------------------------------------------------------------------------
# Tampered pickled states: every field cut, retyped, NaN'd, removed or swapped
# with another model's.  Loading raises ValueError, or the model loaded
# predicts and trains (a correct result, or an exception), never a crash.
# ---------------------------------------------------------------------------
#: Fields whose value predictions depend on: tampering with any other field
#: must leave the predictions of a model that loads exactly as they were.
PREDICTION_FIELDS = {"_params", "_running", "_layout", "activation", "out_activation_",
                     "classes_", "_label_binarizer", "loss", "n_outputs_"}


def _fitted_zoo():
    """A few small fitted models that between them have every kind of state
    field (made once, copied by pickling for each example)."""
    if not _ZOO:
        from gainprop.optimizers import LocalGain, Rprop
        from gainprop.schedules import Cyclic

        rng = np.random.RandomState(0)
        X = rng.rand(40, 4)
        y = np.arange(40) % 3
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _ZOO.extend([
                MLPClassifier(hidden_layer_sizes=(5,), solver=Rprop(variant="irprop+"),
                              batch_norm=True, early_stopping=True, max_iter=2,
                              random_state=0).fit(X, y),
                MLPClassifier(hidden_layer_sizes=(5, 3), solver="sgd", max_iter=2,
                              learning_rate=Cyclic(step_size=2), batch_size=10,
                              random_state=0).fit(X, y % 2),
                MLPRegressor(hidden_layer_sizes=(5,), solver=LocalGain(), max_iter=2,
                             random_state=0).fit(X, X[:, :2]),
                MLPClassifier(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=3,
                              random_state=0).fit(X, y),
            ])
    return _ZOO, np.random.RandomState(1).rand(40, 4)


_ZOO = []


def _paths(state):
    """Every field of a state: top-level keys and the fields of the objects
    that hold the training state (optimizer, its rule and slots, schedule,
    layout, label binarizer)."""
    paths = [(k,) for k in state]
    for key in ("_optimizer", "_schedule_state", "_layout", "_label_binarizer"):
        obj = state.get(key)
        if obj is not None:
            paths += [(key, a) for a in vars(obj)]
    if state.get("_optimizer") is not None:
        paths += [("_optimizer", "slots", s) for s in state["_optimizer"].slots]
        paths += [("_optimizer", "rule", a) for a in vars(state["_optimizer"].rule)]
    return paths


def _get(obj, path):
    for p in path:
        obj = obj[p] if isinstance(obj, dict) else getattr(obj, p)
    return obj


def _tamper(value, op, other, draw):
    if op == "swap":
        return other
    if op == "cut":
        if isinstance(value, np.ndarray) and value.ndim:
            return value[: draw(st.integers(0, max(0, len(value) - 1)))].copy()
        if isinstance(value, (list, tuple, str)):
            return value[: draw(st.integers(0, max(0, len(value) - 1)))]
        if isinstance(value, dict):
            return dict(list(value.items())[:-1])
        return None
    if op == "retype":
        if isinstance(value, np.ndarray):
            return value.astype(draw(st.sampled_from([np.float32, np.float64, np.int64, object,
                                                      np.bool_])))
        return draw(st.sampled_from([str(value), None, [value], 1.5, -1, 2**70, True]))
    # op == "nan"
    if isinstance(value, np.ndarray) and value.size and value.dtype.kind == "f":
        value = value.copy()
        value.flat[draw(st.integers(0, value.size - 1))] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf]))
        return value
    return float("nan")


@st.composite
def tampered_states(draw):
    zoo, X = _fitted_zoo()
    i = draw(st.integers(0, len(zoo) - 1))
    model, other = zoo[i], zoo[(i + draw(st.integers(1, len(zoo) - 1))) % len(zoo)]
    state = pickle.loads(pickle.dumps(model)).__getstate__()
    path = draw(st.sampled_from(_paths(state)))
    op = draw(st.sampled_from(["cut", "retype", "nan", "remove", "swap"]))
    try:
        other_value = copy.deepcopy(_get(other.__getstate__(), path))
    except (KeyError, AttributeError):
        other_value = None
    parent = _get(state, path[:-1])
    if op == "remove":
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
        else:
            vars(parent).pop(path[-1], None)
    else:
        new = _tamper(_get(state, path), op, other_value, draw)
        if isinstance(parent, dict):
            parent[path[-1]] = new
        else:
            setattr(parent, path[-1], new)
    return model, state, path, X


@given(tampered_states())
def test_tampered_states_load_with_a_value_error_or_work(case):
    model, state, path, X = case
    new = object.__new__(type(model))
    try:
        new.__setstate__(state)
    except ValueError as exc:
        assert "gainprop" in str(exc)
        return
    predict = new.predict_proba if isinstance(new, MLPClassifier) else new.predict
    out = _check_outcome(lambda: predict(X), allowed=Exception)
    if out is not None:
        assert out.shape[0] == X.shape[0] and np.isfinite(out).all()
        if path[0] not in PREDICTION_FIELDS:
            expected = (model.predict_proba if isinstance(model, MLPClassifier)
                        else model.predict)(X)
            np.testing.assert_array_equal(out, expected)
    y = (model.classes_[np.arange(len(X)) % len(model.classes_)]
         if isinstance(model, MLPClassifier) else np.zeros((len(X), model.n_outputs_)))
    if getattr(model, "solver", None) != "lbfgs":
        if _check_outcome(lambda: new.partial_fit(X, y), allowed=Exception) is not None:
            assert np.isfinite(new._params).all()
    if _check_outcome(lambda: new.set_params(warm_start=True).fit(X, y),
                      allowed=Exception) is not None:
        assert np.isfinite(new._params).all()


# ---------------------------------------------------------------------------
# Malformed sparse matrices: whatever is corrupted, fit, partial_fit, predict
# and predict_proba raise ValueError (or, when the corruption happens to leave
# a sound matrix, give a correct result); scipy never gets to read it.
# ---------------------------------------------------------------------------
@st.composite
def malformed_sparse(draw):
    n = draw(st.integers(1, 8))
    dense = np.array(draw(st.lists(st.sampled_from([0.0, 0.0, 1.0, -2.5]), min_size=n * 4,
                                   max_size=n * 4))).reshape(n, 4)
    fmt = draw(st.sampled_from(["csr", "csc", "coo"]))
    X = {"csr": sp.csr_matrix, "csc": sp.csc_matrix, "coo": sp.coo_matrix}[fmt](dense)
    minor = 4 if fmt == "csr" else n
    bad = st.sampled_from([-1, -(2**31), minor, minor + 3, 2**31 - 1, 2**40])
    what = draw(st.sampled_from(["index", "indptr", "indptr end", "indptr start", "data length",
                                 "index dtype"]))
    if fmt == "coo":
        coords = [c.astype(np.int64) for c in X.coords]
        if X.nnz:
            k = draw(st.integers(0, 1))
            coords[k][draw(st.integers(0, X.nnz - 1))] = draw(
                st.sampled_from([-1, X.shape[k], X.shape[k] + 5, 2**40]))
        X.coords = tuple(coords)
        return X, dense
    if what == "index" and X.nnz:
        X.indices = X.indices.astype(np.int64)
        X.indices[draw(st.integers(0, X.nnz - 1))] = draw(bad)
    elif what == "indptr" and len(X.indptr) > 2:
        X.indptr[draw(st.integers(1, len(X.indptr) - 2))] = draw(st.integers(-3, X.nnz + 3))
    elif what == "indptr end":
        X.indptr[-1] += draw(st.sampled_from([-1, 1, 5]))
    elif what == "indptr start":
        X.indptr[0] = draw(st.sampled_from([1, -1]))
    elif what == "data length" and X.nnz:
        X.data = X.data[:-1]
    elif what == "index dtype":
        X.indices = X.indices.astype(draw(st.sampled_from([np.uint64, np.int8, np.float64])))
    return X, dense


_SPARSE_MODEL = []


@given(malformed_sparse(), st.sampled_from(["fit", "partial_fit", "predict", "predict_proba"]))
def test_malformed_sparse_matrices_are_refused(case, method):
    X, dense = case
    if not _SPARSE_MODEL:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _SPARSE_MODEL.append(MLPClassifier(hidden_layer_sizes=(3,), max_iter=2,
                                               random_state=0).fit(np.eye(4), [0, 1, 0, 1]))
    clf = pickle.loads(pickle.dumps(_SPARSE_MODEL[0]))
    if method in ("fit", "partial_fit"):
        before = pickle.dumps(clf)
        y = np.arange(X.shape[0]) % 2
        if _check_outcome(lambda: getattr(clf, method)(X, y)) is None:
            assert pickle.dumps(clf) == before
    else:
        out = _check_outcome(lambda: getattr(clf, method)(X))
        if out is not None:  # the corruption left a sound matrix: read as it is
            np.testing.assert_allclose(out, getattr(clf, method)(_dense(X)), rtol=1e-12)


def _dense(X):
    """A sound CSR, CSC or COO matrix as a dense array, in NumPy alone (scipy
    refuses some index dtypes the estimators accept)."""
    out = np.zeros(X.shape)
    if X.format == "coo":
        np.add.at(out, tuple(c.astype(np.int64) for c in X.coords), X.data)
        return out
    major = np.repeat(np.arange(len(X.indptr) - 1), np.diff(X.indptr.astype(np.int64)))
    minor = X.indices.astype(np.int64)
    np.add.at(out, (major, minor) if X.format == "csr" else (minor, major), X.data)
    return out
