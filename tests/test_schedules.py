"""Learning-rate schedules, callbacks, diagnostics, plots and divergence."""

import io
import pickle
import sys
import warnings

import numpy as np
import pytest
from sklearn import neural_network as sknn
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from gainprop import MLPClassifier, MLPRegressor
from gainprop._engine import Engine, Matrix
from gainprop.callbacks import EpochRecord, ProgressBar
from gainprop.optimizers import get_optimizer
from gainprop.schedules import (
    CosineAnnealing,
    Cyclic,
    ExponentialDecay,
    LinearDecay,
    ReduceOnPlateau,
    StepDecay,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:500] / 16.0, y[:500]


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
def test_schedule_rates_reach_the_model_and_curve(digits):
    X, y = digits
    sched = StepDecay(step_size=2, gamma=0.5)
    clf = MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", learning_rate=sched,
                        learning_rate_init=0.1, max_iter=6, tol=0, random_state=0).fit(X, y)
    np.testing.assert_allclose(clf.learning_rate_curve_, sched.rate_sequence(0.1, 6))


def test_per_iteration_rates_are_applied_batch_by_batch_in_c(digits):
    """Replay the fit in numpy with the core's gradient: batch i must have
    used the i-th cyclic rate."""
    X, y = digits[0][:90], digits[1][:90]
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
def test_sklearn_string_schedules_rates_epoch_by_epoch(digits, schedule, extra):
    X, y = digits[0][:200], digits[1][:200]
    params = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate=schedule, batch_size=50,
                  random_state=0, **extra)
    gp = MLPClassifier(**params, max_iter=12).fit(X, y)
    expected = _sklearn_rates(params, X, y, gp.n_iter_)
    np.testing.assert_allclose(gp.learning_rate_curve_[:len(expected)], expected, rtol=1e-12)
    if schedule == "adaptive":
        assert min(gp.learning_rate_curve_) < params["learning_rate_init"]


def test_schedule_state_survives_partial_fit_and_pickle(digits):
    X, y = digits
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


def test_schedules_are_searchable(digits):
    X, y = digits
    search = GridSearchCV(
        MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", max_iter=5, random_state=0),
        {"learning_rate": [StepDecay(step_size=2)], "learning_rate__gamma": [0.1, 0.9]}, cv=2,
    ).fit(X, y)
    assert search.best_params_["learning_rate__gamma"] in (0.1, 0.9)
    assert search.best_estimator_.learning_rate.gamma == search.best_params_[
        "learning_rate__gamma"]
    with pytest.raises(ValueError, match="gamma"):
        MLPClassifier(learning_rate=StepDecay(gamma=2.0), max_iter=2).fit(X, y)


def test_reduce_on_plateau_keeps_training_until_min_lr(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.05,
                        learning_rate=ReduceOnPlateau(factor=0.1, patience=0, min_lr=1e-4,
                                                      threshold=0.5),
                        n_iter_no_change=1, tol=10.0, max_iter=50, random_state=0).fit(X, y)
    # every epoch is a plateau: 0.05 -> 0.005 -> 5e-4 -> 1e-4, then the stopping rule fires
    assert min(clf.learning_rate_curve_) == pytest.approx(1e-4)
    assert clf.n_iter_ < 50


# ---------------------------------------------------------------- callbacks
def test_callbacks_see_records_and_can_stop(digits):
    X, y = digits
    records = []

    def stop_at_3(record):
        records.append(record)
        return record.epoch == 3

    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, early_stopping=True,
                        random_state=0, callbacks=[stop_at_3]).fit(X, y)
    assert clf.n_iter_ == 3 and len(records) == 3
    r = records[-1]
    assert isinstance(r, EpochRecord) and r.epoch == 3 and r.max_iter == 50
    assert r.loss == clf.loss_curve_[2]
    assert r.validation_score == clf.validation_scores_[2]
    assert r.learning_rate == clf.learning_rate_curve_[2] == 0.001
    assert r.elapsed >= records[0].elapsed >= 0


def test_progress_bar_plain_without_tqdm(digits, monkeypatch):
    X, y = digits
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm fails
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    out = io.StringIO()
    bar = ProgressBar(file=out, min_interval=0.0)
    MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, random_state=0, callbacks=[bar]).fit(X, y)
    text = out.getvalue()
    assert "epoch 4/4" in text and "loss" in text and "lr 0.001" in text
    assert text.endswith("\n")


def test_progress_bar_clones_with_the_estimator(digits):
    from sklearn.base import clone

    est = MLPClassifier(callbacks=[ProgressBar(use_tqdm=False)])
    twin = clone(est)
    assert isinstance(twin.callbacks[0], ProgressBar)
    assert twin.callbacks[0] is not est.callbacks[0]


# ---------------------------------------------------------------- plots
def test_plots_render_png(tmp_path, digits):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gainprop.plotting import plot_learning_curves

    X, y = digits
    a = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)
    b = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0, early_stopping=True,
                      solver="sgd").fit(X, y)
    ax = plot_learning_curves(a, b, labels=["adam", "sgd"])
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "training loss"
    assert ax.validation_axes.get_ylabel() == "validation score"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "adam loss", "sgd loss", "sgd validation"]
    path = tmp_path / "curves.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 1000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plt.close(ax.figure)

    with pytest.raises(ValueError, match="labels"):
        plot_learning_curves(a, labels=["x", "y"])


# ---------------------------------------------------------------- divergence
def _diverging_data():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 5) * 10
    return X, X @ rng.randn(5) * 10


def test_divergence_raises_and_keeps_last_finite_weights():
    X, y = _diverging_data()
    reg = MLPRegressor(hidden_layer_sizes=(20,), solver="sgd", learning_rate_init=1.0,
                       max_iter=100, random_state=0)
    with pytest.raises(ValueError) as info:
        reg.fit(X, y)
    msg = str(info.value)
    assert msg.startswith("Solver produced non-finite parameter weights. The input data may "
                          "contain large values and need to be preprocessed.")
    assert "epoch" in msg and "smaller learning_rate_init" in msg
    assert np.isfinite(reg._params).all()
    assert all(np.isfinite(c).all() for c in reg.coefs_ + reg.intercepts_)
    # the weights are those at the start of the diverging epoch: replaying that
    # many epochs without divergence gives them
    n_ok = reg.n_iter_
    replay = MLPRegressor(hidden_layer_sizes=(20,), solver="sgd", learning_rate_init=1.0,
                          max_iter=n_ok, random_state=0, tol=0, n_iter_no_change=10**6)
    if n_ok:
        replay.fit(X, y)
        np.testing.assert_array_equal(replay._params, reg._params)
        # and so is the optimizer state (momentum), restored from the copy
        # that every epoch rewrites in place
        assert reg._optimizer.slots.keys() == replay._optimizer.slots.keys()
        for name, kept in reg._optimizer.slots.items():
            np.testing.assert_array_equal(kept, replay._optimizer.slots[name])
        assert reg._optimizer.step == replay._optimizer.step


@pytest.mark.parametrize("solver", ["adam", "localgain", "sgd", "adagrad"])
def test_divergence_in_the_first_epoch_restores_the_starting_state(solver):
    # before any step the snapshot keeps the state's starting values, not a
    # copy: what comes back must equal a fresh state (gains 1, ...).  With this
    # rate the first batch steps and the second one's loss overflows float32.
    X, y = _diverging_data()
    reg = MLPRegressor(hidden_layer_sizes=(20,), solver=solver, learning_rate_init=1e15,
                       batch_size=50, max_iter=5, random_state=0)
    with pytest.raises(ValueError, match="non-finite"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        reg.fit(X.astype(np.float32), y.astype(np.float32))
    assert reg.n_iter_ == 0
    fresh = get_optimizer(solver, reg)._make_state(reg._layout.n_params, reg._params.dtype,
                                                   reg.learning_rate_init)
    assert reg._optimizer.step == 0 and reg._optimizer.slots.keys() == fresh.slots.keys()
    for name, start in fresh.slots.items():
        kept = reg._optimizer.slots[name]
        assert kept.dtype == start.dtype
        np.testing.assert_array_equal(kept, start)


def test_divergence_after_steps_restores_the_state_from_before_the_epoch():
    # mini-batches: the diverging epoch steps several times before its loss
    # overflows, and the snapshot's buffers have been rewritten every epoch
    # since the third; what comes back must be the state after the last good
    # epoch, as a replay of that many epochs gives it
    X, y = _diverging_data()
    params = dict(hidden_layer_sizes=(20,), solver="sgd", batch_size=20,
                  learning_rate_init=0.00058, tol=0, n_iter_no_change=10**6, random_state=0)
    reg = MLPRegressor(max_iter=100, **params)
    with pytest.raises(ValueError, match="non-finite"):
        reg.fit(X, y)
    n_ok = reg.n_iter_
    assert n_ok >= 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        replay = MLPRegressor(max_iter=n_ok, **params).fit(X, y)
    np.testing.assert_array_equal(reg._params, replay._params)
    assert reg._optimizer.slots.keys() == replay._optimizer.slots.keys()
    for name, kept in reg._optimizer.slots.items():
        np.testing.assert_array_equal(kept, replay._optimizer.slots[name])
    assert reg._optimizer.step == replay._optimizer.step == n_ok * 10
    assert reg._optimizer.lr == replay._optimizer.lr


def test_divergence_in_the_first_epoch_restores_per_weight_starting_values():
    # an optimizer whose slot starts from an array (not one value throughout):
    # the snapshot must copy it, not rebuild it from its first element
    from gainprop.optimizers import LocalGain

    class RampedGains(LocalGain):
        def _slot_init(self):
            return {"gain": np.linspace(0.5, 2.0, self.n_params_)}

    X, y = _diverging_data()
    opt = RampedGains()
    reg = MLPRegressor(hidden_layer_sizes=(20,), solver=opt, learning_rate_init=1e15,
                       batch_size=50, max_iter=5, random_state=0)
    opt.n_params_ = 5 * 20 + 20 + 20 * 1 + 1
    with pytest.raises(ValueError, match="non-finite"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        reg.fit(X.astype(np.float32), y.astype(np.float32))
    assert reg.n_iter_ == 0
    np.testing.assert_array_equal(reg._optimizer.slots["gain"],
                                  np.linspace(0.5, 2.0, opt.n_params_).astype(np.float32))


def test_divergence_with_early_stopping_keeps_best_weights():
    X, y = _diverging_data()
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg = MLPRegressor(hidden_layer_sizes=(20,), solver="sgd", learning_rate_init=0.3,
                           early_stopping=True, max_iter=100, random_state=0).fit(X, y)
    assert np.isnan(reg.validation_scores_[-1])
    assert np.isfinite(reg._params).all()
    np.testing.assert_array_equal(reg._params, reg._best_params)


def test_diverging_partial_fit_leaves_model_exactly_as_before():
    X, y = _diverging_data()
    reg = MLPRegressor(hidden_layer_sizes=(20,), solver="sgd", learning_rate_init=1e-6,
                       batch_size=5, random_state=0)
    reg.partial_fit(X, y)
    reg._schedule_state.lr = 1e3  # the rate the next epoch will use (too large)
    before = pickle.dumps(reg)
    params_before = reg._params.copy()
    with pytest.raises(ValueError, match="non-finite"):
        reg.partial_fit(X, y)
    np.testing.assert_array_equal(reg._params, params_before)
    assert np.shares_memory(reg.coefs_[0], reg._params)
    assert pickle.dumps(reg) == before
    # and on a model that was not fitted yet, a failing first call leaves it unfitted
    fresh = MLPRegressor(hidden_layer_sizes=(20,), solver="sgd", learning_rate_init=1e3,
                         batch_size=5, random_state=0)
    with pytest.raises(ValueError, match="non-finite"):
        fresh.partial_fit(X, y)
    assert not hasattr(fresh, "coefs_") and not hasattr(fresh, "n_features_in_")
