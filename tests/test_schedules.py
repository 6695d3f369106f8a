"""Learning-rate schedules: their formulas, and their rates through a model."""

import pickle

import numpy as np
import pytest
from sklearn import neural_network as sknn
from sklearn.model_selection import GridSearchCV

from gainprop import MLPClassifier
from gainprop._engine import Engine, Matrix
from gainprop.schedules import (
    CosineAnnealing,
    Cyclic,
    ExponentialDecay,
    LinearDecay,
    ReduceOnPlateau,
    StepDecay,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ---------------------------------------------------------------- formulas
def test_linear_decay_formula():
    seq = LinearDecay(tau=4, final_ratio=0.1).rate_sequence(1.0, 7)
    np.testing.assert_allclose(seq, [1.0, 0.775, 0.55, 0.325, 0.1, 0.1, 0.1])


def test_exponential_and_step_decay_formulas():
    np.testing.assert_allclose(ExponentialDecay(0.5).rate_sequence(0.2, 4),
                               [0.2, 0.1, 0.05, 0.025])
    np.testing.assert_allclose(StepDecay(step_size=3, gamma=0.1).rate_sequence(1.0, 7),
                               [1, 1, 1, 0.1, 0.1, 0.1, 0.01])


def test_cyclic_formulas_per_iteration():
    # Smith 2017, step size 2: 0,1,2,3,4,5,... -> base, mid, top, mid, base, ...
    tri = Cyclic(base_lr=1.0, max_lr=3.0, step_size=2).rate_sequence(1.0, 3, n_batches=3)
    np.testing.assert_allclose(tri, [1, 2, 3, 2, 1, 2, 3, 2, 1])
    tri2 = Cyclic(base_lr=0.0, max_lr=4.0, step_size=1, mode="triangular2").rate_sequence(
        1.0, 1, n_batches=7)
    np.testing.assert_allclose(tri2, [0, 4, 0, 2, 0, 1, 0])
    exp = Cyclic(base_lr=0.0, max_lr=1.0, step_size=1, mode="exp_range", gamma=0.5)
    np.testing.assert_allclose(exp.rate_sequence(1.0, 1, n_batches=4), [0, 0.5, 0, 0.125])
    # defaults: base = learning_rate_init, max = 10x
    np.testing.assert_allclose(Cyclic(step_size=1).rate_sequence(0.1, 1, n_batches=3),
                               [0.1, 1.0, 0.1])


def test_cosine_annealing_restarts_and_warmup():
    seq = CosineAnnealing(T_max=4, eta_min=0.0).rate_sequence(1.0, 6)
    np.testing.assert_allclose(seq, [1, 0.5 * (1 + np.cos(np.pi / 4)), 0.5,
                                     0.5 * (1 + np.cos(3 * np.pi / 4)), 0, 0])
    sgdr = CosineAnnealing(T_max=2, restarts=True, T_mult=2).rate_sequence(1.0, 7)
    np.testing.assert_allclose(sgdr, [1, 0.5, 1, 0.5 * (1 + np.cos(np.pi / 4)), 0.5,
                                      0.5 * (1 + np.cos(3 * np.pi / 4)), 1])
    warm = CosineAnnealing(T_max=100, warmup=4).rate_sequence(1.0, 2, n_batches=3)
    np.testing.assert_allclose(warm[:3], [0.25, 0.5, 0.75])  # epoch 0: cosine is 1
    # epoch 1: warm-up ends at its first batch, then plain cosine
    np.testing.assert_allclose(warm[3:], 0.5 * (1 + np.cos(np.pi / 100)))


def test_reduce_on_plateau_on_a_synthetic_loss_sequence():
    sched = ReduceOnPlateau(factor=0.5, patience=2, threshold=0.0, cooldown=1, min_lr=0.1)
    state = sched._start(1.0)
    losses = [5, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3]
    rates = []
    for loss in losses:
        rates.append(sched._rates(state, 1))
        sched._end_epoch(state, 1, loss, None, 1)
    # patience 2: the 3rd epoch without improvement halves the rate; then 1 epoch of cooldown
    assert rates == [1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25]
    assert sched._on_plateau(state) == (False, None)  # above min_lr: keep training


def test_reduce_on_plateau_floor_and_raise():
    sched = ReduceOnPlateau(factor=0.1, patience=0, min_lr=0.01, raise_after=5,
                            raise_factor=10.0)
    state = sched._start(1.0)
    seen = []
    for loss in [1.0] + [1.0] * 6:
        seen.append(sched._rates(state, 1))
        sched._end_epoch(state, 1, loss, None, 1)
    seen.append(state.lr)
    # 0.1, 0.01 (floor), then raised by 10x after 5 epochs without improvement
    np.testing.assert_allclose(seen[:4], [1.0, 1.0, 0.1, 0.01])
    assert max(seen[4:]) == pytest.approx(0.1)


@pytest.mark.parametrize("lr0,factor,min_lr", [(1.0, 0.5, 0.0), (6e-8, 0.5, 0.0),
                                               (2e-8, 0.1, 0.0), (1e-3, 0.5, 1e-3 - 5e-9)])
def test_reduce_on_plateau_follows_torch_including_eps(lr0, factor, min_lr):
    # torch skips a reduction of eps (1e-8) or less: from 6e-8 the rate halves
    # to 3e-8 and 1.5e-8, then stays; from 2e-8 it never moves; 5e-9 above
    # min_lr it cannot go lower either
    torch = pytest.importorskip("torch")
    losses = [5.0, 4.0] + [4.0] * 12 + [3.0] + [3.0] * 12
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=lr0)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=factor, patience=1,
                                                     threshold=1e-4, cooldown=1, min_lr=min_lr)
    sched = ReduceOnPlateau(factor=factor, patience=1, threshold=1e-4, cooldown=1,
                            min_lr=min_lr)
    state = sched._start(lr0)
    ours, theirs = [], []
    for loss in losses:
        ours.append(sched._rates(state, 1))
        theirs.append(opt.param_groups[0]["lr"])
        sched._end_epoch(state, 1, loss, None, 1)
        ref.step(loss)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    # the stopping rule stops exactly when the rate cannot go lower
    last = theirs[-1]
    assert sched._on_plateau(state)[0] == (last - max(last * factor, min_lr) <= 1e-8)


def test_reduce_on_plateau_eps_is_a_parameter():
    sched = ReduceOnPlateau(factor=0.5, patience=0, min_lr=0.0, eps=0.1)
    state = sched._start(1.0)
    rates = []
    for loss in [1.0] * 6:
        rates.append(sched._rates(state, 1))
        sched._end_epoch(state, 1, loss, None, 1)
    # falls of 0.5, 0.25 and 0.125 exceed eps; the next one (0.0625) does not
    assert rates == [1.0, 1.0, 0.5, 0.25, 0.125, 0.125]
    assert sched._on_plateau(state) == (True, " Stopping.")
    state.lr = 0.25  # a fall of 0.125 is still possible
    assert sched._on_plateau(state) == (False, None)


# ------------------------------------------------------ through the model
def test_schedule_rates_reach_the_model_and_curve(digits_500):
    X, y = digits_500
    sched = StepDecay(step_size=2, gamma=0.5)
    clf = MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", learning_rate=sched,
                        learning_rate_init=0.1, max_iter=6, tol=0, random_state=0).fit(X, y)
    np.testing.assert_allclose(clf.learning_rate_curve_, sched.rate_sequence(0.1, 6))


def test_per_iteration_rates_are_applied_batch_by_batch_in_c(digits_500):
    """Replay the fit in numpy with the core's gradient: batch i must have
    used the i-th cyclic rate."""
    X, y = digits_500[0][:90], digits_500[1][:90]
    sched = Cyclic(base_lr=0.01, max_lr=0.2, step_size=2)
    clf = MLPClassifier(hidden_layer_sizes=(6,), solver="sgd", momentum=0.0, batch_size=30,
                        shuffle=False, alpha=0.0, learning_rate=sched, learning_rate_init=0.01,
                        max_iter=2, tol=0, random_state=0)
    clf.fit(X, y)
    ref = MLPClassifier(hidden_layer_sizes=(6,), solver="sgd", max_iter=1,
                        learning_rate_init=1e-300, random_state=0, alpha=0.0).fit(X, y)
    params = ref._params.copy()  # the same initial weights
    Y = ref._label_binarizer.transform(y).astype(float)
    eng = Engine(ref._layout, "relu", "softmax", "log_loss", 0.0, 1, 30, np.float64, 64, False)
    rates = sched.rate_sequence(0.01, 2, n_batches=3)
    for i, rate in enumerate(rates):
        rows = slice(30 * (i % 3), 30 * (i % 3 + 1))
        eng.loss_grad(Matrix(X[rows], np.float64), np.ascontiguousarray(Y[rows]), None, params)
        params -= rate * eng.grad
    np.testing.assert_allclose(clf._params, params, rtol=0, atol=1e-12)
    np.testing.assert_allclose(clf.learning_rate_curve_, [rates[:3].mean(), rates[3:].mean()])


def _sklearn_rates(params, X, y, n_epochs):
    """The rate scikit-learn uses in each epoch: its optimizer's rate after
    k epochs, for k = 0 .. n_epochs - 1."""
    rates = [params["learning_rate_init"]]
    for k in range(1, n_epochs):
        sk = sknn.MLPClassifier(**{**params, "max_iter": k}).fit(X, y)
        if sk.n_iter_ < k:
            break
        rates.append(sk._optimizer.learning_rate)
    return rates


@pytest.mark.parametrize("schedule,extra", [
    ("invscaling", dict(power_t=0.4, learning_rate_init=0.3)),
    ("adaptive", dict(n_iter_no_change=1, tol=0.5, learning_rate_init=0.2)),
])
def test_sklearn_string_schedules_rates_epoch_by_epoch(digits_500, schedule, extra):
    X, y = digits_500[0][:200], digits_500[1][:200]
    params = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate=schedule, batch_size=50,
                  random_state=0, **extra)
    gp = MLPClassifier(**params, max_iter=12).fit(X, y)
    expected = _sklearn_rates(params, X, y, gp.n_iter_)
    np.testing.assert_allclose(gp.learning_rate_curve_[:len(expected)], expected, rtol=1e-12)
    if schedule == "adaptive":
        assert min(gp.learning_rate_curve_) < params["learning_rate_init"]


def test_schedule_state_survives_partial_fit_and_pickle(digits_500):
    X, y = digits_500
    make = lambda: MLPClassifier(hidden_layer_sizes=(8,), solver="sgd",  # noqa: E731
                                 learning_rate=ExponentialDecay(0.5), learning_rate_init=0.1,
                                 random_state=0)
    a = make()
    for _ in range(2):
        a.partial_fit(X, y, classes=np.arange(10))
    b = pickle.loads(pickle.dumps(a))
    for _ in range(2):
        a.partial_fit(X, y)
        b.partial_fit(X, y)
    np.testing.assert_allclose(a.learning_rate_curve_, [0.1, 0.05, 0.025, 0.0125])
    assert b.learning_rate_curve_ == a.learning_rate_curve_
    np.testing.assert_array_equal(a._params, b._params)
    # a new fit starts the schedule over
    a.fit(X, y)
    assert a.learning_rate_curve_[0] == 0.1


def test_schedules_are_searchable(digits_500):
    X, y = digits_500
    search = GridSearchCV(
        MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", max_iter=5, random_state=0),
        {"learning_rate": [StepDecay(step_size=2)], "learning_rate__gamma": [0.1, 0.9]}, cv=2,
    ).fit(X, y)
    assert search.best_params_["learning_rate__gamma"] in (0.1, 0.9)
    assert search.best_estimator_.learning_rate.gamma == search.best_params_[
        "learning_rate__gamma"]
    with pytest.raises(ValueError, match="gamma"):
        MLPClassifier(learning_rate=StepDecay(gamma=2.0), max_iter=2).fit(X, y)


def test_reduce_on_plateau_keeps_training_until_min_lr(digits_500):
    X, y = digits_500
    clf = MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.05,
                        learning_rate=ReduceOnPlateau(factor=0.1, patience=0, min_lr=1e-4,
                                                      threshold=0.5),
                        n_iter_no_change=1, tol=10.0, max_iter=50, random_state=0).fit(X, y)
    # every epoch is a plateau: 0.05 -> 0.005 -> 5e-4 -> 1e-4, then the stopping rule fires
    assert min(clf.learning_rate_curve_) == pytest.approx(1e-4)
    assert clf.n_iter_ < 50
