"""The hidden activations as their definitions in float64 (NumPy/SciPy), and
their derivatives: the references the core's kernels and the ONNX graphs are
checked against.  Each entry is keyed by the estimator's ``activation`` name."""

import numpy as np
from scipy.special import erf, expit

SLOPE = 0.01  # leaky_relu's negative slope


def _phi(x):
    """The standard normal density."""
    return np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)


def _normal_cdf(x):
    return 0.5 * (1.0 + erf(x / np.sqrt(2.0)))


#: f(x)
VALUE = {
    "identity": lambda x: x,
    "logistic": expit,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "leaky_relu": lambda x: np.where(x > 0, x, SLOPE * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
    "gelu": lambda x: x * _normal_cdf(x),
    "softplus": lambda x: np.logaddexp(0.0, x),
    "silu": lambda x: x * expit(x),
}

#: f'(x) (relu's and leaky_relu's at 0: their left derivative, as torch)
DERIVATIVE = {
    "identity": lambda x: np.ones_like(x),
    "logistic": lambda x: expit(x) * (1.0 - expit(x)),
    "tanh": lambda x: 1.0 - np.tanh(x) ** 2,
    "relu": lambda x: (x > 0).astype(float),
    "leaky_relu": lambda x: np.where(x > 0, 1.0, SLOPE),
    "elu": lambda x: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0.0))),
    "gelu": lambda x: _normal_cdf(x) + x * _phi(x),
    "softplus": expit,
    "silu": lambda x: expit(x) * (1.0 + x * (1.0 - expit(x))),
}

#: Those the estimators had from scikit-learn, and the new ones
EXISTING = ["identity", "logistic", "tanh", "relu"]
NEW = ["leaky_relu", "elu", "gelu", "softplus", "silu"]
