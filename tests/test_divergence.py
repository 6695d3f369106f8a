"""Divergence: a non-finite loss or weight undoes the epoch and ends the fit."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from gainprop import MLPRegressor
from gainprop.optimizers import get_optimizer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


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
