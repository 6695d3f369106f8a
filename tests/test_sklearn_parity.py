"""Parity with scikit-learn's MLPClassifier / MLPRegressor: same data, same
random_state, same weights."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import neural_network as sknn
from sklearn.datasets import make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning

import gainprop


def _pair(cls_name, **params):
    return getattr(sknn, cls_name)(**params), getattr(gainprop, cls_name)(**params)


def _fit_both(sk, gp, *args, method="fit", **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        getattr(sk, method)(*args, **kwargs)
        getattr(gp, method)(*args, **kwargs)


def _assert_same_weights(sk, gp, tol):
    assert len(sk.coefs_) == len(gp.coefs_)
    for a, b in zip(sk.coefs_ + sk.intercepts_, gp.coefs_ + gp.intercepts_):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(b, a, rtol=0, atol=tol)


def test_initial_weights_equal_sklearn(digits_400):
    X, y = digits_400
    # (1100, 70): layers drawn in several blocks of rows (_draw_into)
    for activation, hidden in (("relu", (13, 7)), ("logistic", (13, 7)), ("relu", (1100, 70))):
        sk, gp = _pair("MLPClassifier", hidden_layer_sizes=hidden, activation=activation,
                       solver="sgd", max_iter=1, learning_rate_init=1e-300, random_state=3)
        _fit_both(sk, gp, X, y)
        _assert_same_weights(sk, gp, 1e-15)


@pytest.mark.parametrize("draw", ["uniform", "normal"])
def test_blockwise_draws_equal_one_draw(draw):
    from gainprop._multilayer_perceptron import _DRAW_BLOCK, _draw_into

    shape = (3 * _DRAW_BLOCK // 501 + 7, 501)  # blocks of an odd size: normal's cached pair
    one, blocks = np.random.RandomState(5), np.random.RandomState(5)
    expected = getattr(one, draw)(-0.2, 0.3, shape).astype(np.float32)
    out = np.empty(shape, dtype=np.float32)
    _draw_into(out, getattr(blocks, draw), -0.2, 0.3)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(one.uniform(size=3), blocks.uniform(size=3))


FULL_BATCH_CASES = [
    ("MLPClassifier", "multiclass", dict(activation="relu")),
    ("MLPClassifier", "multiclass", dict(activation="tanh", momentum=0.5,
                                         nesterovs_momentum=False)),
    ("MLPClassifier", "binary", dict(activation="logistic", alpha=0.01)),
    ("MLPClassifier", "multilabel", dict(activation="relu")),
    ("MLPRegressor", "regression", dict(activation="tanh")),
    ("MLPRegressor", "regression2", dict(activation="relu", momentum=0.0)),
    ("MLPRegressor", "poisson", dict(activation="logistic", loss="poisson")),
]


def _data(kind, digits_400):
    X, y = digits_400
    if kind == "multiclass":
        return X, y
    if kind == "binary":
        return X, (y > 4).astype(int)
    if kind == "multilabel":
        return make_multilabel_classification(n_samples=150, n_features=10, n_classes=4,
                                              random_state=0)
    if kind == "regression":
        X, y = make_regression(n_samples=150, n_features=8, noise=1.0, random_state=0)
        return X, y / 100
    if kind == "regression2":
        X, y = make_regression(n_samples=150, n_features=8, n_targets=3, random_state=0)
        return X, y / 100
    if kind == "poisson":
        rng = np.random.RandomState(0)
        X = rng.randn(150, 6)
        return X, rng.poisson(np.exp(0.3 * X[:, 0] + 0.5))
    raise ValueError(kind)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("cls_name,kind,extra", FULL_BATCH_CASES)
def test_sgd_full_batch_20_epochs_matches_sklearn(digits_400, cls_name, kind, extra, weighted):
    """The issue's parity test: sgd, full batch, no shuffle, 20 epochs, float64."""
    X, y = _data(kind, digits_400)
    sw = np.random.RandomState(1).uniform(0.5, 2, len(X)) if weighted else None
    params = dict(hidden_layer_sizes=(20, 10), solver="sgd", batch_size=len(X), shuffle=False,
                  max_iter=20, learning_rate_init=0.05, tol=0, n_iter_no_change=100,
                  random_state=0, **extra)
    sk, gp = _pair(cls_name, **params)
    _fit_both(sk, gp, X, y, sample_weight=sw)
    _assert_same_weights(sk, gp, 1e-10)
    np.testing.assert_allclose(gp.loss_curve_, sk.loss_curve_, rtol=1e-10)
    assert gp.n_iter_ == sk.n_iter_ == 20 and gp.t_ == sk.t_


def test_partial_fit_matches_sklearn(digits_400):
    X, y = digits_400
    params = dict(hidden_layer_sizes=(15,), solver="sgd", batch_size=50, learning_rate_init=0.1,
                  random_state=0)
    sk, gp = _pair("MLPClassifier", **params)
    classes = np.unique(y)
    for i in range(5):
        rows = slice(80 * i, 80 * (i + 1))
        sk.partial_fit(X[rows], y[rows], classes=classes)
        gp.partial_fit(X[rows], y[rows], classes=classes)
    _assert_same_weights(sk, gp, 1e-10)
    assert gp.loss_ == pytest.approx(sk.loss_, rel=1e-10)


@pytest.mark.parametrize(
    "solver_params",
    [
        dict(solver="sgd"),
        dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.5, power_t=0.3),
        dict(solver="sgd", learning_rate="adaptive", n_iter_no_change=2, tol=0.05),
        dict(solver="adam"),
        dict(solver="adam", beta_1=0.8, beta_2=0.99, epsilon=1e-6),
        dict(solver="adam", early_stopping=True, validation_fraction=0.2),
        dict(solver="sgd", early_stopping=True, n_iter_no_change=3),
    ],
    ids=["sgd", "invscaling", "adaptive", "adam", "adam-params", "adam-es", "sgd-es"],
)
def test_shuffled_minibatches_match_sklearn(digits_400, solver_params):
    """Shuffling, batching, schedules and early stopping make the same draws
    and decisions as scikit-learn."""
    X, y = digits_400
    params = dict(hidden_layer_sizes=(16,), batch_size=32, max_iter=15, random_state=7)
    params.update(solver_params)
    sk, gp = _pair("MLPClassifier", **params)
    _fit_both(sk, gp, X, y)
    _assert_same_weights(sk, gp, 1e-9)
    np.testing.assert_allclose(gp.loss_curve_, sk.loss_curve_, rtol=1e-9)
    assert gp.n_iter_ == sk.n_iter_
    if params.get("early_stopping"):
        np.testing.assert_allclose(gp.validation_scores_, sk.validation_scores_)
        assert gp.best_validation_score_ == sk.best_validation_score_
        assert gp.best_loss_ is None and sk.best_loss_ is None
    else:
        assert gp.best_loss_ == pytest.approx(sk.best_loss_, rel=1e-9)


def test_sparse_input_matches_sklearn(digits_400):
    X, y = digits_400
    Xs = sp.csr_matrix(X)
    params = dict(hidden_layer_sizes=(12,), solver="sgd", batch_size=64, max_iter=5,
                  random_state=0)
    sk, gp = _pair("MLPClassifier", **params)
    _fit_both(sk, gp, Xs, y)
    _assert_same_weights(sk, gp, 1e-10)
    np.testing.assert_allclose(gp.predict_proba(Xs), sk.predict_proba(Xs), atol=1e-10)


@pytest.mark.parametrize("cls_name,kind", [("MLPClassifier", "multiclass"),
                                           ("MLPRegressor", "regression")])
def test_lbfgs_matches_sklearn(digits_400, cls_name, kind):
    X, y = _data(kind, digits_400)
    sk, gp = _pair(cls_name, hidden_layer_sizes=(10,), solver="lbfgs", max_iter=30,
                   random_state=0)
    _fit_both(sk, gp, X, y)
    assert gp.n_iter_ == sk.n_iter_
    assert gp.loss_ == pytest.approx(sk.loss_, rel=1e-6)
    _assert_same_weights(sk, gp, 1e-6)


def test_predictions_match_sklearn(digits_400):
    X, y = digits_400
    sk, gp = _pair("MLPClassifier", hidden_layer_sizes=(30,), max_iter=30, random_state=0)
    _fit_both(sk, gp, X, y)
    np.testing.assert_allclose(gp.predict_proba(X), sk.predict_proba(X), atol=1e-9)
    np.testing.assert_array_equal(gp.predict(X), sk.predict(X))
    assert gp.score(X, y) == sk.score(X, y)


def test_float32_parity_with_sklearn(digits_400):
    X, y = digits_400
    X32 = X.astype(np.float32)
    params = dict(hidden_layer_sizes=(16,), solver="sgd", batch_size=40, max_iter=10,
                  random_state=0)
    sk, gp = _pair("MLPClassifier", **params)
    _fit_both(sk, gp, X32, y)
    for a, b in zip(sk.coefs_, gp.coefs_):
        assert b.dtype == np.float32
        np.testing.assert_allclose(b, a, atol=1e-4)
