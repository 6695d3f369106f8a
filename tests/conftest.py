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
