"""torch.optim as an independent oracle: where torch has the same rule, a
small network trained full batch from identical weights follows torch's
trajectory (float64).  torch is the ``oracle`` test extra, in its CPU build
(on Linux: ``pip install torch==2.13.0 --index-url
https://download.pytorch.org/whl/cpu``; PyPI's Linux wheel is the CUDA
build); these tests are skipped without it."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from gainprop import MLPClassifier
from gainprop.optimizers import SGD, AdaGrad, Adadelta, Adam, AdaMax, Rprop, RMSprop

torch = pytest.importorskip("torch", reason="torch is not installed: the torch.optim oracle "
                                            "tests need `pip install torch==2.13.0 "
                                            "--index-url https://download.pytorch.org/whl/cpu`")

N_STEPS = 30


def _data():
    rng = np.random.RandomState(0)
    X = rng.randn(120, 7)
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] > 0.8)
    return X, y


def _gainprop(solver, lr, activation, X, y, W0):
    clf = MLPClassifier(hidden_layer_sizes=(9,), activation=activation, solver=solver,
                        batch_size=len(X), shuffle=False, alpha=0.0, max_iter=1,
                        learning_rate_init=lr, random_state=0, warm_start=True, tol=0.0,
                        n_iter_no_change=10**6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)  # shapes and classes
        clf.coefs_ = [w.copy() for w in W0[0]]
        clf.intercepts_ = [b.copy() for b in W0[1]]
        clf.set_params(max_iter=N_STEPS).fit(X, y)  # warm start: fresh optimizer state
    return clf


def _torch(make_opt, activation, X, y, W0):
    torch.manual_seed(0)
    act = {"relu": torch.nn.ReLU(), "tanh": torch.nn.Tanh()}[activation]
    net = torch.nn.Sequential(torch.nn.Linear(7, 9), act, torch.nn.Linear(9, 3)).double()
    with torch.no_grad():
        for layer, W, b in zip((net[0], net[2]), W0[0], W0[1]):
            layer.weight.copy_(torch.from_numpy(W.T))
            layer.bias.copy_(torch.from_numpy(b))
    opt = make_opt(net.parameters())
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(N_STEPS):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(Xt), yt)
        loss.backward()
        opt.step()
    return [net[0].weight.detach().numpy().T, net[2].weight.detach().numpy().T], \
        [net[0].bias.detach().numpy(), net[2].bias.detach().numpy()]


CASES = [
    ("sgd", SGD(momentum=0.0), 0.1, lambda p: torch.optim.SGD(p, lr=0.1)),
    ("sgd-momentum", SGD(momentum=0.9, nesterov=False), 0.05,
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    ("sgd-nesterov", SGD(momentum=0.9, nesterov=True), 0.05,
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    ("adagrad", AdaGrad(), 0.05, lambda p: torch.optim.Adagrad(p, lr=0.05)),
    ("adagrad-init", AdaGrad(initial_accumulator=0.5, epsilon=1e-6), 0.1,
     lambda p: torch.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.5, eps=1e-6)),
    ("adadelta", Adadelta(), 1.0, lambda p: torch.optim.Adadelta(p, lr=1.0)),
    ("adadelta-rho", Adadelta(rho=0.95, epsilon=1e-5), 0.5,
     lambda p: torch.optim.Adadelta(p, lr=0.5, rho=0.95, eps=1e-5)),
    ("rmsprop", RMSprop(), 0.01, lambda p: torch.optim.RMSprop(p, lr=0.01)),
    ("rmsprop-centered-momentum", RMSprop(centered=True, momentum=0.9, alpha=0.9), 0.001,
     lambda p: torch.optim.RMSprop(p, lr=0.001, alpha=0.9, centered=True, momentum=0.9)),
    ("adam", Adam(), 0.01, lambda p: torch.optim.Adam(p, lr=0.01)),
    ("adam-amsgrad", Adam(amsgrad=True, beta_1=0.8), 0.01,
     lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.999), amsgrad=True)),
    ("adamax", AdaMax(), 0.002, lambda p: torch.optim.Adamax(p, lr=0.002)),
    ("rprop", Rprop(variant="irprop-", step_init=0.01), 0.001,  # (its lr is unused)
     lambda p: torch.optim.Rprop(p, lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 50))),
]


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("name,solver,lr,make_opt", CASES, ids=[c[0] for c in CASES])
def test_follows_torch_trajectory(name, solver, lr, make_opt, activation):
    X, y = _data()
    rng = np.random.RandomState(3)
    W0 = ([rng.uniform(-0.5, 0.5, (7, 9)), rng.uniform(-0.5, 0.5, (9, 3))],
          [rng.uniform(-0.5, 0.5, 9), rng.uniform(-0.5, 0.5, 3)])
    clf = _gainprop(solver, lr, activation, X, y, W0)
    coefs, intercepts = _torch(make_opt, activation, X, y, W0)
    moved = max(np.abs(a - b).max() for a, b in zip(clf.coefs_, W0[0]))
    assert moved > 1e-3  # the trajectories went somewhere
    for a, b in zip(clf.coefs_ + clf.intercepts_, coefs + intercepts):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
