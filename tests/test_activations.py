"""The hidden activations: each one's values and derivatives in the core
against its definition and against torch's module, the network's gradient
against finite differences and against torch's autograd (with and without
batch normalisation), the Kaiming gains, and the estimators with each."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import erfc
from activation_reference import DERIVATIVE, EXISTING, NEW, VALUE
from sklearn.exceptions import ConvergenceWarning

from gainprop import MLPClassifier, MLPRegressor, _core
from gainprop._engine import BN_EPS, Engine, Layout, Matrix
from gainprop._multilayer_perceptron import KAIMING_GAIN
from gainprop._persistence import HIDDEN_ACTIVATIONS

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ACTIVATIONS = EXISTING + NEW
DTYPES = [np.float32, np.float64]


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="torch is not installed: the torch oracle tests "
                                               "need `pip install torch==2.13.0`")


def _torch_module(torch, activation):
    nn = torch.nn
    return {"identity": nn.Identity, "logistic": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU,
            "leaky_relu": lambda: nn.LeakyReLU(0.01), "elu": nn.ELU, "gelu": nn.GELU,
            "softplus": nn.Softplus, "silu": nn.SiLU}[activation]()


def test_the_estimators_take_exactly_the_cores_hidden_activations():
    assert sorted(HIDDEN_ACTIVATIONS) == sorted(ACTIVATIONS)
    assert set(KAIMING_GAIN) == set(ACTIVATIONS)


# ----------------------------------------------------------------------
# One activation at a time: x -> f(x) and f(x) f'(x)
# ----------------------------------------------------------------------
# 2048 points (a power of two, so that undoing the mean over samples is exact)
# from -12 to 12 with both signs of 0 and tiny values; kinks of relu-like
# functions at 0 are included.
_X = np.concatenate([np.linspace(-12, 12, 2041), [0.0, -0.0, 1e-30, -1e-30, 1e-3, -1e-3, 20.0]])


def _elementwise(activation, dtype, x=_X):
    """(f(x), f(x) f'(x)) from the core, one sample per x: a network
    [n, 1, 1] with one-hot inputs (CSR) and W1 = x, so that sample r's hidden
    unit has pre-activation x[r]; with W2 = 1, an identity output and squared
    error against 0, y[r] = f(x[r]) and dL/dW1[r] = f(x[r]) f'(x[r]) / n."""
    n = len(x)
    layout = Layout([n, 1, 1])
    eng = Engine(layout, activation, "identity", "squared_error", 0.0, 1, n, dtype, n, False)
    params = np.zeros(layout.n_params, dtype=dtype)
    W1, W2 = layout.coef_views(params)
    W1[:, 0], W2[...] = x, 1.0
    X = Matrix(sp.identity(n, format="csr", dtype=dtype), dtype)
    values = eng.forward(X, params)[:, 0]
    eng.loss_grad(X, np.zeros((n, 1), dtype=dtype), None, params)
    return values, layout.coef_views(eng.grad)[0][:, 0] * n


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_values_and_derivatives_match_the_definitions(activation, dtype):
    x = _X.astype(dtype)
    values, products = _elementwise(activation, dtype, x)
    f = VALUE[activation](x.astype(np.float64))
    df = DERIVATIVE[activation](x.astype(np.float64))
    assert values.dtype == products.dtype == dtype
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(values, f, **tol)
    np.testing.assert_allclose(products, f * df, **tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_values_and_derivatives_match_torch_modules(torch, activation, dtype):
    x = _X[np.abs(_X) < 20].astype(dtype)  # torch's Softplus switches to x above 20
    values, products = _elementwise(activation, dtype, x)
    xt = torch.tensor(x, requires_grad=True)
    y = _torch_module(torch, activation)(xt)
    (0.5 * (y * y).sum()).backward()  # x.grad = f(x) f'(x)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(values, y.detach().numpy(), **tol)
    np.testing.assert_allclose(products, xt.grad.numpy(), **tol)


def test_gelu_and_softplus_are_accurate_in_their_tails():
    """gelu from erfc, softplus without threshold: no cancellation to 0 (1 +
    erf(x / √2) is 0 below -8.3) nor rounding up to x (torch above 20)."""
    x = np.array([-30.0, -10.0, 25.0, 40.0])
    expected = {"gelu": x * 0.5 * erfc(-x / np.sqrt(2.0)),
                "softplus": np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))}
    assert expected["gelu"][0] < 0 and expected["softplus"][2] > 25
    for activation in ("gelu", "softplus"):
        values, _ = _elementwise(activation, np.float64, x)
        # (erfc at 21 amplifies the rounding of its argument 900-fold)
        np.testing.assert_allclose(values, expected[activation], rtol=1e-12)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_nan_stays_visible(activation):
    values, products = _elementwise(activation, np.float64, np.array([np.nan, 1.0]))
    assert np.isnan(values[0]) and np.isnan(products[0])
    assert np.isfinite(values[1])


# ----------------------------------------------------------------------
# Networks: finite differences and torch's autograd
# ----------------------------------------------------------------------
def _network(activation, batch_norm, rng, n=12, units=(5, 7, 6, 3)):
    layout = Layout(list(units), batch_norm=batch_norm)
    params = rng.uniform(-0.8, 0.8, layout.n_params)
    for gamma, _ in layout.bn_views(params):
        gamma += 1.0  # scales around 1
    X = rng.randn(n, units[0])
    Y = np.eye(units[-1])[rng.randint(units[-1], size=n)]
    return layout, params, X, Y


@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "batch-norm"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("activation", NEW)
def test_gradient_matches_finite_differences(activation, sparse, batch_norm,
                                             finite_differences):
    rng = np.random.RandomState(7)
    layout, params, X, Y = _network(activation, batch_norm, rng)
    if activation == "leaky_relu":  # keep pre-activations away from the kink
        params[: layout.n_coef] += np.sign(params[: layout.n_coef]) * 0.05
    if sparse:
        X[rng.rand(*X.shape) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    n = X.shape[0]
    # without batch norm, blocks of 5 rows: the gradient accumulates over blocks
    eng = Engine(layout, activation, "softmax", "log_loss", 0.1, 1, n if batch_norm else 5,
                 np.float64, X.shape[1], False)
    Xm = Matrix(X, np.float64)
    sw = rng.uniform(0.5, 2.0, n)

    def objective(p):
        data, l2 = eng.loss_grad(Xm, Y, sw, p)
        return data + l2

    objective(params)
    grad = eng.grad.copy()
    numeric = finite_differences(objective, params)
    assert np.linalg.norm(grad - numeric) / np.linalg.norm(numeric) < 1e-7
    big = np.abs(numeric) > 1e-4
    np.testing.assert_allclose(grad[big], numeric[big], rtol=1e-5)


def _torch_net(torch, activation, batch_norm, layout, params):
    """The same network in torch (float64, training mode)."""
    nn = torch.nn
    layers = []
    coefs, intercepts = layout.coef_views(params), layout.intercept_views(params)
    bn = layout.bn_views(params)
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        linear = nn.Linear(*W.shape).double()
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.T.copy()))
            linear.bias.copy_(torch.from_numpy(b.copy()))
        layers.append(linear)
        if i < len(coefs) - 1:
            if batch_norm:
                norm = nn.BatchNorm1d(W.shape[1], eps=BN_EPS).double()
                with torch.no_grad():
                    norm.weight.copy_(torch.from_numpy(bn[i][0].copy()))
                    norm.bias.copy_(torch.from_numpy(bn[i][1].copy()))
                layers.append(norm)
            layers.append(_torch_module(torch, activation))
    return nn.Sequential(*layers)


@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "batch-norm"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_loss_and_gradient_match_torch_autograd(torch, activation, batch_norm):
    rng = np.random.RandomState(3)
    layout, params, X, Y = _network(activation, batch_norm, rng, n=16, units=(6, 9, 8, 4))
    eng = Engine(layout, activation, "softmax", "log_loss", 0.0, 1, 16, np.float64, 6, False)
    data_loss, _ = eng.loss_grad(Matrix(X, np.float64), Y, None, params)

    net = _torch_net(torch, activation, batch_norm, layout, params)
    loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(X)),
                                             torch.from_numpy(Y.argmax(axis=1)))
    loss.backward()
    assert data_loss == pytest.approx(loss.item(), rel=1e-12)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    norms = [m for m in net if isinstance(m, torch.nn.BatchNorm1d)]
    expected = np.empty_like(params)
    for view, m in zip(layout.coef_views(expected), linears):
        view[...] = m.weight.grad.numpy().T
    for view, m in zip(layout.intercept_views(expected), linears):
        view[...] = m.bias.grad.numpy()
    for (gamma, beta), m in zip(layout.bn_views(expected), norms):
        gamma[...], beta[...] = m.weight.grad.numpy(), m.bias.grad.numpy()
    np.testing.assert_allclose(eng.grad, expected, rtol=1e-9, atol=1e-13)


# ----------------------------------------------------------------------
# The estimators
# ----------------------------------------------------------------------
@pytest.mark.parametrize("activation", NEW)
def test_estimators_learn_predict_and_pickle_with_each(activation, digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(32,), activation=activation, max_iter=30,
                        learning_rate_init=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X[:1200], y[:1200])
    assert clf.score(X[1200:], y[1200:]) > 0.9
    twin = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(twin.predict_proba(X), clf.predict_proba(X))
    # predict's forward pass is the network with this activation
    a = X
    for i, (W, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
        a = a @ W + b
        if i < len(clf.coefs_) - 1:
            a = VALUE[activation](a)
    z = np.exp(a - a.max(axis=1, keepdims=True))
    np.testing.assert_allclose(clf.predict_proba(X), z / z.sum(axis=1, keepdims=True),
                               rtol=1e-10, atol=1e-14)
    reg = MLPRegressor(hidden_layer_sizes=(16,), activation=activation, max_iter=5,
                       random_state=0, solver="lbfgs")
    reg.fit(X[:300], X[:300, 20])
    assert np.isfinite(reg.predict(X[:10])).all()


def test_an_unknown_activation_is_refused(digits):
    X, y = digits
    with pytest.raises(ValueError, match="activation"):
        MLPClassifier(activation="swish", max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="hidden_activation"):
        Engine(Layout([3, 2, 2]), "softmax", "softmax", "log_loss", 0.0, 1, 4, np.float64, 3,
               False)
    assert _core.ACTIVATIONS["gelu"] in _core.HIDDEN_ACTIVATIONS.values()
