"""Every optimizer against its published rule (numpy), against torch.optim
where torch has the same rule, and through the estimator."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from gainprop import MLPClassifier, _core
from gainprop.optimizers import (
    OPTIMIZERS,
    SGD,
    AdaGrad,
    Adadelta,
    Adam,
    AdaMax,
    LocalGain,
    Rprop,
    RMSprop,
    get_optimizer,
)

from optim_reference import REGISTRY, row_id

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _gradients(rng, n, steps, dtype):
    """Random gradients with frequent sign flips and some exact zeros."""
    grads = []
    for _ in range(steps):
        g = rng.randn(n) * rng.choice([0.1, 1.0, 10.0], size=n)
        g[rng.rand(n) < 0.1] = 0.0
        grads.append(g.astype(dtype))
    return grads


def _run_c(opt, w0, grads, lr, losses, dtype, n_threads=1):
    w = w0.astype(dtype).copy()
    state = opt._make_state(len(w), dtype, lr)
    out = []
    for g, loss in zip(grads, losses):
        state.loss = loss
        _core.optimizer_step(w, g, state, n_threads)
        out.append(w.copy())
    assert state.step == len(grads)
    return out, state


@pytest.mark.parametrize("row", REGISTRY, ids=row_id)
def test_matches_published_rule_float64(row):
    opt, reference, lr = row
    opt = get_optimizer(opt)
    rng = np.random.RandomState(0)
    n, steps = 1000, 50
    w0 = rng.randn(n)
    grads = _gradients(rng, n, steps, np.float64)
    losses = list(rng.rand(steps))  # rises and falls (iRprop+)
    got, _ = _run_c(opt, w0, grads, lr, losses, np.float64)
    want = reference(opt, w0.copy(), grads, lr, losses)
    for t, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=f"step {t + 1}")


@pytest.mark.parametrize("row", REGISTRY, ids=row_id)
def test_float32_matches_to_float32_precision(row):
    opt, reference, lr = row
    opt = get_optimizer(opt)
    rng = np.random.RandomState(1)
    n, steps = 500, 50
    w0 = rng.randn(n).astype(np.float32)
    grads = _gradients(rng, n, steps, np.float32)
    losses = list(rng.rand(steps))
    got, state = _run_c(opt, w0, grads, lr, losses, np.float32)
    assert got[-1].dtype == np.float32
    assert all(s.dtype == np.float32 for s in state.state_dict().values())
    want = reference(opt, w0.astype(np.float64), [g.astype(np.float64) for g in grads], lr,
                     losses)
    # sign-based rules can take a different branch where a float32 product
    # rounds to zero; compare where the float64 run agrees on every sign
    np.testing.assert_allclose(got[-1], want[-1], rtol=2e-4, atol=2e-4 * np.abs(w0).max())


@pytest.mark.parametrize("row", REGISTRY, ids=row_id)
def test_thread_count_does_not_change_the_step(row):
    opt, _, lr = row
    opt = get_optimizer(opt)
    rng = np.random.RandomState(2)
    n = 200_000  # several chunks, run in parallel
    w0 = rng.randn(n)
    grads = _gradients(rng, n, 3, np.float64)
    one, _ = _run_c(opt, w0, grads, lr, [1.0, 2.0, 0.5], np.float64, n_threads=1)
    two, _ = _run_c(opt, w0, grads, lr, [1.0, 2.0, 0.5], np.float64, n_threads=2)
    np.testing.assert_array_equal(one[-1], two[-1])


def test_local_gain_rule_settings_of_the_article():
    """A weight whose gradient keeps its sign gains `bonus` per step up to the
    upper limit; one whose gradient alternates decays toward the lower one."""
    opt = LocalGain(bonus=0.05, penalty=0.95, gain_limits=(0.1, 10.0))
    state = opt._make_state(2, np.float64, 0.01)
    w = np.zeros(2)
    gains = []
    for t in range(400):
        g = np.array([1.0, (-1.0) ** t])
        _core.optimizer_step(w, g, state)
        gains.append(state.state_dict()["gain"].copy())
    gains = np.array(gains)
    # step 1 has no previous gradient: gains stay 1; then +0.05 per step
    np.testing.assert_allclose(gains[:5, 0], [1.0, 1.05, 1.10, 1.15, 1.20])
    assert gains[-1, 0] == 10.0 and gains[300, 0] == 10.0
    np.testing.assert_allclose(gains[:4, 1], [1.0, 0.95, 0.95**2, 0.95**3])
    assert gains[-1, 1] == pytest.approx(0.1)
    assert np.all(np.diff(gains[:, 1]) <= 0)


def test_string_names_and_sklearn_parameters():
    for name in OPTIMIZERS:
        opt = get_optimizer(name)
        assert opt.__class__.__name__ in {"SGD", "Adam", "LocalGain", "Rprop", "AdaGrad",
                                          "Adadelta", "RMSprop", "AdaMax"}
    assert get_optimizer("irprop+").variant == "irprop+"
    est = MLPClassifier(solver="sgd", momentum=0.3, nesterovs_momentum=False)
    assert get_optimizer("sgd", est).get_params() == {"momentum": 0.3, "nesterov": False}
    est = MLPClassifier(solver="adam", beta_1=0.7, beta_2=0.9, epsilon=1e-5)
    assert get_optimizer("adam", est).get_params() == dict(
        beta_1=0.7, beta_2=0.9, epsilon=1e-5, amsgrad=False, sklearn_form=True)


@pytest.mark.parametrize("solver,params", [
    ("sgd", dict(learning_rate_init=0.05)),
    ("adam", dict(learning_rate_init=1e-3)),
    (SGD(momentum=0.9, nesterov=True), dict(learning_rate_init=0.05)),
    (Adam(), dict(learning_rate_init=1e-3)),
    (Adam(amsgrad=True), dict(learning_rate_init=1e-3)),
    ("localgain", dict(learning_rate_init=0.1, max_iter=150)),
    ("rprop", dict(max_iter=100)),
    ("irprop+", dict(max_iter=100)),
    ("rprop+", dict(max_iter=100)),
    ("rprop-", dict(max_iter=100)),
    (Rprop.minibatch(), dict(batch_size=300, max_iter=60)),
    ("adagrad", dict(learning_rate_init=0.05)),
    ("adadelta", dict(learning_rate_init=1.0)),
    ("rmsprop", dict(learning_rate_init=1e-3)),
    (RMSprop(centered=True, momentum=0.5), dict(learning_rate_init=1e-3)),
    ("adamax", dict(learning_rate_init=2e-3, max_iter=80)),
], ids=lambda v: v if isinstance(v, str) else row_id((v,)) if not isinstance(v, dict) else "")
def test_each_optimizer_learns_digits(digits_split, solver, params):
    X_train, X_test, y_train, y_test = digits_split
    params = {"max_iter": 40, **params}
    clf = MLPClassifier(hidden_layer_sizes=(64,), solver=solver, random_state=0, tol=0.0,
                        n_iter_no_change=10**6, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # batch-size advice
        clf.fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.95


def test_full_batch_default_and_small_batch_warning(digits_split):
    X, _, y, _ = digits_split
    for solver in (LocalGain(), Rprop(), "rprop"):
        clf = MLPClassifier(hidden_layer_sizes=(8,), solver=solver, max_iter=2, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)  # default batch: the whole data set, one step per epoch
        assert clf._optimizer.step == 2
        with pytest.warns(UserWarning, match="sign of its gradient.*full batches"):
            clf.set_params(batch_size=32).fit(X, y)
    # Rprop.minibatch() is meant for mini-batches of 250 and more
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(hidden_layer_sizes=(8,), solver=Rprop.minibatch(), batch_size=250,
                      max_iter=1, random_state=0).fit(X, y)
    with pytest.warns(UserWarning, match="at least 250"):
        MLPClassifier(hidden_layer_sizes=(8,), solver=Rprop.minibatch(), batch_size=50,
                      max_iter=1, random_state=0).fit(X, y)


def test_rprop_ignores_learning_rate_and_warns_about_schedules(digits_split):
    from gainprop.schedules import StepDecay

    X, _, y, _ = digits_split
    a = MLPClassifier(hidden_layer_sizes=(8,), solver="rprop", learning_rate_init=1e-5,
                      max_iter=3, random_state=0).fit(X, y)
    b = MLPClassifier(hidden_layer_sizes=(8,), solver="rprop", learning_rate_init=0.5,
                      max_iter=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(a._params, b._params)
    with pytest.warns(UserWarning, match="does not use the learning rate"):
        MLPClassifier(hidden_layer_sizes=(8,), solver="rprop", learning_rate=StepDecay(),
                      max_iter=1, random_state=0).fit(X, y)


def test_rate_stats_diagnostics(digits_split):
    X, _, y, _ = digits_split
    clf = MLPClassifier(hidden_layer_sizes=(16,), solver=LocalGain(), learning_rate_init=0.1,
                        max_iter=10, random_state=0).fit(X, y)
    stats = clf.rate_stats_
    assert len(stats["mean"]) == len(stats["min"]) == len(stats["max"]) == 10
    gains = clf._optimizer.state_dict()["gain"]
    assert stats["max"][-1] == gains.max() and stats["min"][-1] == gains.min()
    assert stats["mean"][-1] == pytest.approx(gains.mean())
    assert 0.1 <= stats["min"][-1] <= stats["mean"][-1] <= stats["max"][-1] <= 10
    clf = MLPClassifier(hidden_layer_sizes=(16,), solver=Rprop(step_init=0.05), max_iter=5,
                        random_state=0).fit(X, y)
    assert clf.rate_stats_["max"][0] <= 0.05 * 1.2 + 1e-12
    assert not hasattr(MLPClassifier(max_iter=2).fit(X, y), "rate_stats_")


def test_clone_get_set_params():
    # (a grid search over optimizer objects: tests/test_solver_parameters.py)
    est = MLPClassifier(hidden_layer_sizes=(8,), solver=LocalGain(bonus=0.1), max_iter=3,
                        random_state=0)
    params = est.get_params()
    assert params["solver__bonus"] == 0.1
    twin = clone(est)
    assert twin.solver is not est.solver and twin.solver.bonus == 0.1
    est.set_params(solver__penalty=0.8)
    assert est.solver.penalty == 0.8


def test_bad_hyperparameters_are_clear_errors(digits_split):
    X, _, y, _ = digits_split
    bad = [
        (Rprop(eta_plus=0.9), "eta_plus"),
        (Rprop(eta_minus=1.5), "eta_minus"),
        (Rprop(step_init=100.0), "step_min <= step_init <= step_max"),
        (Rprop(variant="rprop++"), "variant"),
        (LocalGain(gain_limits=(2.0, 10.0)), "gain_limits"),
        (LocalGain(gain_limits="wide"), "gain_limits"),
        (LocalGain(penalty=1.5), "penalty"),
        (AdaGrad(epsilon=0.0), "epsilon"),
        (Adadelta(rho=1.5), "rho"),
        (RMSprop(momentum=-0.1), "momentum"),
        (AdaMax(beta_1=1.0), "beta_1"),
        (Adam(amsgrad=True, sklearn_form=True), "amsgrad"),
    ]
    for opt, match in bad:
        with pytest.raises(ValueError, match=match):
            MLPClassifier(solver=opt, max_iter=1).fit(X[:50], y[:50])


def test_state_survives_partial_fit_and_pickle_and_warm_start_resets(digits_split):
    X, _, y, _ = digits_split
    for solver in (Adam(), LocalGain(momentum=0.5), Rprop(variant="irprop+"), RMSprop(
            centered=True, momentum=0.9)):
        rate = {"learning_rate_init": 0.01} if solver.uses_learning_rate else {}
        a = MLPClassifier(hidden_layer_sizes=(16,), solver=solver, random_state=0, **rate)
        for _ in range(3):
            a.partial_fit(X, y, classes=np.arange(10))
        b = pickle.loads(pickle.dumps(a))
        assert b._optimizer.step == a._optimizer.step == 3 * (
            1 if solver.full_batch else int(np.ceil(len(X) / 200)))
        for _ in range(3):
            a.partial_fit(X, y)
            b.partial_fit(X, y)
        np.testing.assert_array_equal(a._params, b._params)
        assert a._optimizer.slots.keys() == b._optimizer.slots.keys()
        for name, slot in a._optimizer.slots.items():
            np.testing.assert_array_equal(slot, b._optimizer.slots[name])
        # a warm-start fit starts the optimizer afresh, as scikit-learn does
        a.set_params(warm_start=True, max_iter=1).fit(X, y)
        assert a._optimizer.step == (1 if solver.full_batch else int(np.ceil(len(X) / 200)))


def test_float32_epsilon_guard():
    state = AdaGrad(epsilon=1e-45).set_params()._make_state(10, np.float32, 0.1)
    assert state.hyper["epsilon"] == np.finfo(np.float32).tiny
    state = AdaGrad(epsilon=1e-45)._make_state(10, np.float64, 0.1)
    assert state.hyper["epsilon"] == 1e-45


def test_changing_solver_between_partial_fits_starts_fresh_state(digits_split):
    from gainprop.schedules import StepDecay

    X, _, y, _ = digits_split
    clf = MLPClassifier(hidden_layer_sizes=(8,), solver="adam", random_state=0)
    clf.partial_fit(X, y, classes=np.arange(10))
    clf.set_params(solver=Rprop(), learning_rate=StepDecay())
    with pytest.warns(UserWarning, match="does not use the learning rate"):
        clf.partial_fit(X, y)
    assert clf._optimizer.kind == Rprop._kind and clf._optimizer.step == 1
    assert len(clf.rate_stats_["mean"]) == 1
    clf.set_params(solver="adam", learning_rate="constant")
    clf.partial_fit(X, y)
    # a new state for the new rule, and a new (constant) schedule
    assert clf._optimizer.kind == Adam._kind
    assert clf._optimizer.step == int(np.ceil(len(X) / 200))  # one epoch's mini-batches
    assert clf._schedule_state.schedule.get_params() == {} and clf._schedule_state.epoch == 1


REPLAY_CASES = [(rule, "plain") for rule in ("adam", "sgd", "localgain", "rprop", "irprop+",
                                              "adagrad")]
REPLAY_CASES += [(rule, case) for rule in ("adam", "irprop+")
                 for case in ("weighted", "sparse", "shuffled")]


@pytest.mark.parametrize("rule,case", REPLAY_CASES, ids=lambda v: str(v))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_minibatch_loop_with_l2_in_the_step_matches_a_replay(rule, case, dtype):
    # In the C loop the L2 term goes into the optimizer step (gp_step_l2: the
    # step adds alpha/n * W to the data gradient, then leaves sum(W^2) for the
    # next batch's loss and zeros for its products).  Replayed batch by batch
    # with the core's full gradient (loss_grad: its own L2 pass) and the plain
    # step, the weights and the losses must agree.  200 hidden units: no
    # small-layer path; 15,010 parameters: several ranges of the step, the
    # last one part weights, part biases; 230 rows in batches of 50 and row
    # blocks of 20 (the last batch is short; several calls into C per epoch).
    # irprop+ steps on the loss (with its L2 term); sample weights set the
    # L2 coefficient (alpha / their sum); CSR input accumulates its first
    # layer's gradient onto the zeros.
    import scipy.sparse as sp

    from gainprop._engine import Engine, Layout, Matrix

    rng = np.random.RandomState(0)
    X = rng.rand(230, 64).astype(dtype)
    if case == "sparse":
        X[rng.rand(230, 64) < 0.7] = 0
        X = sp.csr_matrix(X)
    Y = np.eye(10, dtype=dtype)[rng.randint(0, 10, 230)]
    sw = rng.uniform(0.2, 3.0, 230).astype(dtype) if case == "weighted" else None
    order = rng.permutation(230).astype(np.int64) if case == "shuffled" else None
    rows_of = order if order is not None else np.arange(230)
    layout = Layout([64, 200, 10])
    opt = get_optimizer(rule, MLPClassifier(momentum=0.9, learning_rate_init=0.01))
    w0 = rng.uniform(-0.2, 0.2, layout.n_params).astype(dtype)
    dense_gather = order is not None and case != "sparse"

    eng = Engine(layout, "relu", "softmax", "log_loss", 0.05, 2, 20, dtype, 64, dense_gather)
    w, state = w0.copy(), opt._make_state(layout.n_params, dtype, 0.01)
    c_losses = []
    for _ in range(2):
        loss_sum, n_rows, status = eng.train_epoch(Matrix(X, dtype), Y, sw, order, 50, None, w,
                                                   None, state)
        assert status == _core.gp_status.GP_OK and n_rows == 230
        c_losses.append(loss_sum / 230)

    ref = Engine(layout, "relu", "softmax", "log_loss", 0.05, 2, 20, dtype, 64, False)
    v, rstate = w0.copy(), opt._make_state(layout.n_params, dtype, 0.01)
    losses = []
    for _ in range(2):
        total = 0.0
        for r0 in range(0, 230, 50):
            rows = rows_of[r0:r0 + 50]
            data, l2 = ref.loss_grad(Matrix(X[rows], dtype), np.ascontiguousarray(Y[rows]),
                                     None if sw is None else np.ascontiguousarray(sw[rows]), v)
            rstate.loss = data + l2
            total += (data + l2) * len(rows)
            _core.optimizer_step(v, ref.grad, rstate, 2)
        losses.append(total / 230)
    assert state.step == rstate.step == 10
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(c_losses, losses, rtol=tol)
    np.testing.assert_allclose(w, v, rtol=tol, atol=tol)
    assert not np.array_equal(w, w0)


@pytest.mark.parametrize("hyper,match", [
    ({"momentum": 0.9, "nesterov": 0, "dampening": 0.5}, "has the hyperparameters"),
    ({"momentum": 0.9}, "has the hyperparameters"),
    ({"momentum": 0.9, "nesterov": 1.7}, "integer flag"),
    ({"momentum": 0.9, "nesterov": 10**30}, "integer flag"),
    ({"momentum": float("nan"), "nesterov": 0}, "finite number"),
    ({"momentum": "0.9", "nesterov": 0}, "finite number"),
])
def test_hyperparameters_reach_c_only_exactly_as_its_struct_has_them(monkeypatch, hyper, match):
    state = SGD(momentum=0.9)._make_state(4, np.float64, 0.1)
    monkeypatch.setattr(SGD, "_hyper", lambda self: hyper)
    with pytest.raises(ValueError, match=match):
        _core.optimizer_step(np.zeros(4), np.ones(4), state)


def test_an_unknown_rprop_variant_is_named_as_such(monkeypatch):
    state = Rprop()._make_state(4, np.float64, 0.1)
    monkeypatch.setattr(Rprop, "_hyper", lambda self: dict(
        eta_plus=1.2, eta_minus=0.5, step_min=1e-6, step_max=50.0, variant=17))
    with pytest.raises(ValueError, match="integer flag or variant"):
        _core.optimizer_step(np.zeros(4), np.ones(4), state)
