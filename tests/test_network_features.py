"""Network features of the published experiments: initialisation schemes and
target_loss (batch normalisation has its own tests)."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from gainprop import MLPClassifier


def _init(init, units=(64, 400, 300, 10), activation="relu"):
    X = np.random.RandomState(0).rand(20, units[0])
    y = np.arange(20) % units[-1]
    clf = MLPClassifier(hidden_layer_sizes=units[1:-1], activation=activation, init=init,
                        solver="sgd", learning_rate_init=1e-300, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y)


def test_kaiming_normal_variance_and_zero_biases():
    clf = _init("kaiming_normal")
    for W, b in zip(clf.coefs_, clf.intercepts_):
        fan_in = W.shape[0]
        assert W.std() == pytest.approx(np.sqrt(2.0 / fan_in), rel=0.05)
        assert abs(W.mean()) < 0.05 * np.sqrt(2.0 / fan_in) * 3
        assert np.abs(b).max() < 1e-250  # zero, but for one step at rate 1e-300
    # normal, not uniform: some draws beyond the uniform bound of the same variance
    W = clf.coefs_[0]
    assert np.abs(W).max() > np.sqrt(6.0 / W.shape[0])


def test_kaiming_uniform_bound_and_variance():
    clf = _init("kaiming_uniform")
    for W in clf.coefs_:
        bound = np.sqrt(6.0 / W.shape[0])
        assert np.abs(W).max() <= bound
        assert W.std() == pytest.approx(np.sqrt(2.0 / W.shape[0]), rel=0.05)


def test_uniform_range_for_weights_and_biases():
    clf = _init(("uniform", 0.05))
    for arr in clf.coefs_ + clf.intercepts_:
        assert np.abs(arr).max() <= 0.05
        assert np.abs(arr).max() > 0.045  # really spread over the range


def test_glorot_is_default_and_deterministic():
    a, b = _init("glorot_uniform"), _init("glorot_uniform")
    np.testing.assert_array_equal(a._params, b._params)
    W = a.coefs_[0]
    assert np.abs(W).max() <= np.sqrt(6.0 / (W.shape[0] + W.shape[1]))
    assert not np.array_equal(_init("kaiming_normal")._params, a._params)


@pytest.mark.parametrize("bad", [("uniform", -1.0), ("uniform",), ("normal", 0.1),
                                 ("uniform", float("nan"))])
def test_bad_init_is_a_clear_error(digits, bad):
    X, y = digits
    with pytest.raises(ValueError, match="init"):
        MLPClassifier(init=bad, max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="init"):
        MLPClassifier(init="xavier", max_iter=1).fit(X, y)


def test_target_loss_stops_training(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # stopping here is not a failure
        clf = MLPClassifier(hidden_layer_sizes=(50,), target_loss=0.3, max_iter=200,
                            random_state=0).fit(X, y)
    assert clf.loss_ < 0.3 <= clf.loss_curve_[-2]
    assert clf.n_iter_ < 200
