"""
==================================================
The same model as scikit-learn's, on the same path
==================================================

gainprop's :class:`~gainprop.MLPClassifier` takes scikit-learn's parameters and, with the same
``random_state``, draws the same initial weights. With ``solver='sgd'`` or ``'adam'`` in float64
it then follows the same trajectory: the loss curves agree to rounding. Where the two differ is
time: on small mini-batches most of scikit-learn's time is Python's work per batch, and gainprop
runs each epoch in one call into C.
"""

# %%
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as ScikitLearnMLP

from gainprop import MLPClassifier
from gainprop.plotting import plot_learning_curves

warnings.filterwarnings("ignore", category=ConvergenceWarning)
X, y = load_digits(return_X_y=True)
X = X / 16

params = dict(hidden_layer_sizes=(64,), solver="sgd", batch_size=8, learning_rate_init=0.01,
              max_iter=8, random_state=0)
models, seconds = {}, {}
for name, cls in (("scikit-learn", ScikitLearnMLP), ("gainprop", MLPClassifier)):
    start = time.perf_counter()
    models[name] = cls(**params).fit(X, y)
    seconds[name] = time.perf_counter() - start
    print(f"{name:12s} {seconds[name]:.3f} s, final loss {models[name].loss_:.6f}")

difference = np.max(np.abs(np.subtract(models["scikit-learn"].loss_curve_,
                                       models["gainprop"].loss_curve_)))
print(f"largest difference between the loss curves: {difference:.1e}")
print(f"gainprop was {seconds['scikit-learn'] / seconds['gainprop']:.1f}x faster here")

# %%
# The two curves coincide: scikit-learn's is the wide pale line, gainprop's the dashed one
# with markers on top of it.
ax = plot_learning_curves(models["scikit-learn"], models["gainprop"],
                          labels=["scikit-learn", "gainprop"], log_y=True,
                          title="SGD with Nesterov momentum, mini-batches of 8")
plt.show()
