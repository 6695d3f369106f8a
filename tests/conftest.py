import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.RandomState(0)


@pytest.fixture
def digits():
    """scikit-learn's 8x8 digits, pixels scaled to [0, 1] (fresh arrays for every test)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


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
