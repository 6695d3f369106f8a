"""Fixtures shared by the test files."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


@pytest.fixture
def rng():
    return np.random.RandomState(0)


@pytest.fixture(scope="session")
def _digits_arrays():
    """scikit-learn's 8x8 digits, pixels scaled to [0, 1], loaded once and
    read-only: the fixtures below hand out copies."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X.flags.writeable = y.flags.writeable = False
    return X, y


@pytest.fixture
def digits(_digits_arrays):
    """The whole digits set (1,797 images; fresh arrays for every test)."""
    X, y = _digits_arrays
    return X.copy(), y.copy()


@pytest.fixture
def digits_500(_digits_arrays):
    """The first 500 digits: schedules, callbacks and plots through a model."""
    X, y = _digits_arrays
    return X[:500].copy(), y[:500].copy()


@pytest.fixture
def digits_400(_digits_arrays):
    """The first 400 digits: parity with scikit-learn."""
    X, y = _digits_arrays
    return X[:400].copy(), y[:400].copy()


@pytest.fixture
def digits_split(_digits_arrays):
    """A stratified 70/30 split of the digits: (X_train, X_test, y_train, y_test)."""
    X, y = _digits_arrays
    return train_test_split(X.copy(), y.copy(), test_size=0.3, random_state=0, stratify=y)


def _central_differences(f, params, h=1e-6):
    """The gradient of f at params by central differences, entry by entry."""
    numeric = np.empty_like(params)
    for i in range(params.shape[0]):
        p = params.copy()
        p[i] += h
        up = f(p)
        p[i] -= 2 * h
        numeric[i] = (up - f(p)) / (2 * h)
    return numeric


@pytest.fixture
def finite_differences():
    """f, params[, h] -> the gradient of f at params by central differences."""
    return _central_differences
