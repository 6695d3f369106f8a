"""Class weights, dropout, the five newer activations and early stopping on
validation data passed to fit, each through every way of fitting: fit, warm
start, pickling mid-training, partial_fit (or its refusal where scikit-learn's
conventions refuse it), GridSearchCV, in float32 and float64, on dense and
sparse input, with results that do not depend on the thread count.

The features' own definitions are checked in test_class_weight.py,
test_dropout.py, test_activations.py and test_validation_set.py; here each
one goes through the same matrix."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import GridSearchCV

from gainprop import MLPClassifier, MLPRegressor, _core

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# name: (estimator, its parameters, a second value of one of them for a grid
# search, fit takes validation data, what partial_fit says or None)
FEATURES = {
    "class_weight-balanced": (MLPClassifier, dict(class_weight="balanced"),
                              ("class_weight", None), False,
                              "'balanced' is not supported for partial_fit"),
    "class_weight-dict": (MLPClassifier, dict(class_weight={0: 3.0, 1: 0.5, 7: 2.0}),
                          ("class_weight", None), False, None),
    "dropout": (MLPClassifier, dict(dropout=[0.3, 0.2], input_dropout=0.1),
                ("dropout", 0.0), False, None),
    "dropout-regressor": (MLPRegressor, dict(dropout=0.2, input_dropout=0.1),
                          ("dropout", 0.0), False, None),
    **{activation: (MLPClassifier, dict(activation=activation), ("activation", "relu"), False,
                    None)
       for activation in ("leaky_relu", "elu", "gelu", "softplus", "silu")},
    "validation-data": (MLPClassifier, dict(early_stopping=True, scoring="loss"),
                        ("scoring", None), True,
                        "partial_fit does not support early_stopping"),
    "validation-data-regressor": (MLPRegressor,
                                  dict(early_stopping=True, scoring="neg_mean_absolute_error",
                                       dropout=0.1),
                                  ("scoring", "loss"), True,
                                  "partial_fit does not support early_stopping"),
}
DTYPES = [np.float64, np.float32]
SPARSE = [False, True]


def _data(_digits_arrays, estimator, dtype, sparse, n_train=400, n_val=200):
    """Training data and fit's keyword arguments for validation data."""
    X, y = _digits_arrays
    X = X.astype(dtype)
    if estimator is MLPRegressor:  # a pixel from the others
        X, y = np.delete(X, 36, axis=1), X[:, 36]
    if sparse:
        X = sp.csr_matrix(X)
    train, val = slice(0, n_train), slice(n_train, n_train + n_val)
    return X[train], y[train], dict(X_val=X[val], y_val=y[val])


def _estimator(feature, **params):
    cls, feature_params, _, _, _ = FEATURES[feature]
    base = dict(hidden_layer_sizes=(16, 8), max_iter=2, batch_size=64, n_iter_no_change=100,
                random_state=0)
    return cls(**{**base, **feature_params, **params})


def _assert_same_model(a, b):
    np.testing.assert_array_equal(a._params, b._params)
    for history in ("loss_curve_", "validation_scores_", "validation_loss_curve_"):
        np.testing.assert_array_equal(np.asarray(getattr(a, history), dtype=float),
                                      np.asarray(getattr(b, history), dtype=float))


matrix = pytest.mark.parametrize("feature,dtype,sparse", [
    (feature, dtype, sparse) for feature in FEATURES for dtype in DTYPES for sparse in SPARSE],
    ids=lambda v: getattr(v, "__name__", None) or ({True: "csr", False: "dense"}.get(v, v)))


@matrix
def test_fit_warm_start_and_pickling(_digits_arrays, feature, dtype, sparse):
    cls, _, _, with_val, _ = FEATURES[feature]
    X, y, val = _data(_digits_arrays, cls, dtype, sparse)
    fit_kw = val if with_val else {}
    a = _estimator(feature, warm_start=True).fit(X, y, **fit_kw)
    assert all(p.dtype == dtype for p in a.coefs_ + a.intercepts_)
    b = pickle.loads(pickle.dumps(a))  # pickled mid-training
    a.fit(X, y, **fit_kw)
    b.fit(X, y, **fit_kw)
    _assert_same_model(a, b)
    assert len(a.loss_curve_) == 4  # the warm start went on from the first fit
    assert a.predict(X).shape[0] == X.shape[0]
    if sparse:  # sparse input trains the model dense input trains
        dense, _, dense_val = _data(_digits_arrays, cls, dtype, False)
        c = _estimator(feature).fit(dense, y, **(dense_val if with_val else {}))
        d = _estimator(feature).fit(X, y, **fit_kw)
        tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(d._params, c._params, **tol)


@matrix
def test_partial_fit_or_its_refusal(_digits_arrays, feature, dtype, sparse):
    cls, _, _, _, refusal = FEATURES[feature]
    X, y, _ = _data(_digits_arrays, cls, dtype, sparse)
    kw = dict(classes=np.unique(y)) if cls is MLPClassifier else {}
    est = _estimator(feature)
    if refusal is not None:  # as scikit-learn's SGDClassifier and MLPs refuse
        with pytest.raises(ValueError, match=refusal):
            est.partial_fit(X, y, **kw)
        assert not hasattr(est, "coefs_")
        return
    a, b = est, _estimator(feature)
    half = X.shape[0] // 2
    for model in (a, b):
        model.partial_fit(X[:half], y[:half], **kw)
    b = pickle.loads(pickle.dumps(b))
    for model in (a, b):
        model.partial_fit(X[half:], y[half:])
    _assert_same_model(a, b)
    assert a.coefs_[0].dtype == dtype
    # partial_fit over the whole data is one epoch of fit without shuffling
    whole = _estimator(feature, max_iter=1, shuffle=False, batch_size=half).fit(X, y)
    c = _estimator(feature, shuffle=False, batch_size=half)
    c.partial_fit(X, y, **kw)
    np.testing.assert_array_equal(c._params, whole._params)


@matrix
def test_grid_search(_digits_arrays, feature, dtype, sparse):
    cls, feature_params, (name, other), with_val, _ = FEATURES[feature]
    X, y, val = _data(_digits_arrays, cls, dtype, sparse)
    fit_kw = val if with_val else {}
    search = GridSearchCV(_estimator(feature), {name: [feature_params[name], other]},
                          cv=2).fit(X, y, **fit_kw)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    # the refit model is the one a direct fit with the best value gives
    best = search.best_params_[name]
    direct = _estimator(feature, **{name: best}).fit(X, y, **fit_kw)
    _assert_same_model(search.best_estimator_, direct)
    # and the two values gave two models (or, for scoring, two score histories)
    with_it = _estimator(feature).fit(X, y, **fit_kw)
    without = _estimator(feature, **{name: other}).fit(X, y, **fit_kw)
    with pytest.raises(AssertionError):
        _assert_same_model(with_it, without)


@pytest.mark.skipif(not _core.openmp_enabled(),
                    reason="a serial build lets BLAS thread itself, whose results depend on it")
@matrix
def test_results_do_not_depend_on_the_thread_count(_digits_arrays, feature, dtype, sparse):
    # layers and batches large enough for the kernels to split their loops
    cls, _, _, with_val, _ = FEATURES[feature]
    X, y, val = _data(_digits_arrays, cls, dtype, sparse, n_train=600)
    fit_kw = val if with_val else {}
    runs = [_estimator(feature, hidden_layer_sizes=(256, 128), batch_size=300,
                       n_threads=n_threads).fit(X, y, **fit_kw)
            for n_threads in (1, 2)]
    _assert_same_model(*runs)
