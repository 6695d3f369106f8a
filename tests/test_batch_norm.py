"""Batch normalisation (Ioffe & Szegedy): gradients, running statistics,
prediction, persistence."""

import pickle
import numpy as np
import pytest

from gainprop import MLPClassifier, MLPRegressor, _core
from gainprop._engine import Engine, Layout, Matrix

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_batch_norm_gradient_matches_finite_differences(activation, weighted):
    rng = np.random.RandomState(1)
    n, d, k = 12, 5, 3
    X = rng.randn(n, d)
    Y = np.eye(k)[rng.randint(k, size=n)]
    sw = rng.uniform(0.5, 2, n) if weighted else None
    layout = Layout([d, 7, 6, k], batch_norm=True)
    eng = Engine(layout, activation, "softmax", "log_loss", 0.1, 1, n, np.float64, d, False)
    params = rng.uniform(-0.8, 0.8, layout.n_params)
    for gamma, beta in layout.bn_views(params):
        gamma += 1.0  # scales around 1
    Xm = Matrix(X, np.float64)

    def objective(p):
        data, l2 = eng.loss_grad(Xm, Y, sw, p)
        return data + l2

    objective(params)
    grad = eng.grad.copy()
    h = 1e-6
    numeric = np.empty_like(params)
    for i in range(layout.n_params):
        p = params.copy()
        p[i] += h
        up = objective(p)
        p[i] -= 2 * h
        numeric[i] = (up - objective(p)) / (2 * h)
    assert np.linalg.norm(grad - numeric) / np.linalg.norm(numeric) < 1e-6
    # the bias before a batch norm has no effect: its gradient is zero
    for off, u in zip(layout.intercept_offset[:-1], layout.units[1:-1]):
        np.testing.assert_allclose(grad[off:off + u], 0, atol=1e-12)


def _manual_forward(clf, X, running=True):
    a = X
    for i, (W, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
        z = a @ W + b
        if i < len(clf.coefs_) - 1:
            if running:
                mean, var = clf.bn_running_mean_[i], clf.bn_running_var_[i]
            else:
                mean, var = z.mean(axis=0), z.var(axis=0)
            z = clf.bn_gamma_[i] * (z - mean) / np.sqrt(var + 1e-5) + clf.bn_beta_[i]
            a = np.maximum(z, 0)
        else:
            z = np.exp(z - z.max(axis=1, keepdims=True))
            a = z / z.sum(axis=1, keepdims=True)
    return a


def test_running_statistics_update_and_predict_uses_them(digits):
    X, y = digits[0][:300], digits[1][:300]
    clf = MLPClassifier(hidden_layer_sizes=(20, 10), batch_norm=True, solver="sgd",
                        batch_size=300, shuffle=False, max_iter=1, learning_rate_init=1e-300,
                        random_state=0).fit(X, y)
    # one step on the full batch: running = 0.9 * initial + 0.1 * batch statistics
    z = X @ clf.coefs_[0] + clf.intercepts_[0]
    np.testing.assert_allclose(clf.bn_running_mean_[0], 0.1 * z.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(clf.bn_running_var_[0], 0.9 + 0.1 * z.var(axis=0, ddof=1),
                               rtol=1e-10)
    assert all(np.shares_memory(v, clf._running) for v in clf.bn_running_var_)
    assert all(np.shares_memory(g, clf._params) for g in clf.bn_gamma_ + clf.bn_beta_)

    clf.set_params(max_iter=30, learning_rate_init=0.05, warm_start=True, batch_size=50,
                   shuffle=True).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba, _manual_forward(clf, X), rtol=1e-9, atol=1e-12)
    # batch statistics would give something else
    assert np.abs(proba - _manual_forward(clf, X, running=False)).max() > 1e-6


def test_batch_norm_learns_and_pickles(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(64, 32), batch_norm=True, init="kaiming_normal",
                        batch_size=64, max_iter=15, random_state=0).fit(X[:1400], y[:1400])
    assert clf.score(X[1400:], y[1400:]) > 0.9
    assert any(np.abs(g - 1).max() > 1e-3 for g in clf.bn_gamma_)  # γ is trained
    twin = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(twin.predict_proba(X), clf.predict_proba(X))
    assert np.shares_memory(twin.bn_running_mean_[0], twin._running)
    clf.partial_fit(X, y)
    twin.partial_fit(X, y)
    np.testing.assert_array_equal(twin._running, clf._running)
    np.testing.assert_array_equal(twin._params, clf._params)


def test_batch_norm_float32_and_regressor():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 6).astype(np.float32)
    y = (X[:, 0] * 2 + X[:, 1] ** 2).astype(np.float32)
    reg = MLPRegressor(hidden_layer_sizes=(32,), batch_norm=True, batch_size=32, max_iter=100,
                       learning_rate_init=0.01, random_state=0).fit(X, y)
    assert reg._running.dtype == np.float32 and reg.bn_gamma_[0].dtype == np.float32
    assert reg.score(X, y) > 0.8


@pytest.mark.skipif(not _core.openmp_enabled(),
                    reason="a serial build lets BLAS thread itself, whose results depend on it")
def test_batch_norm_results_do_not_depend_on_threads():
    rng = np.random.RandomState(0)
    X = rng.randn(512, 100)
    y = rng.randint(0, 5, 512)
    runs = []
    for n_threads in (1, 2):
        clf = MLPClassifier(hidden_layer_sizes=(256, 128), batch_norm=True, batch_size=256,
                            max_iter=2, random_state=0, n_threads=n_threads).fit(X, y)
        runs.append((clf._params.copy(), clf._running.copy()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_batch_norm_bad_settings(digits):
    X, y = digits
    with pytest.raises(ValueError, match="stochastic solver"):
        MLPClassifier(batch_norm=True, solver="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="at least 2 samples"):
        MLPClassifier(batch_norm=True, batch_size=1, max_iter=1).fit(X, y)
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=1, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="batch_norm cannot change"):
        clf.set_params(batch_norm=True).fit(X, y)
