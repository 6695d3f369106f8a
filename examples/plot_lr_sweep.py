"""
======================================
The learning-rate sensitivity analysis
======================================

Jason Brownlee's advice in "How to Configure the Learning Rate When Training Deep Learning
Neural Networks" (Machine Learning Mastery, 2019): train the same model at rates spread over
several orders of magnitude and plot the final training loss against the rate on a log axis.
Too small a rate learns slowly, too large a one oscillates or diverges, and the curve takes the
shape of a "U" whose floor is the range to use.

:func:`~gainprop.model_selection.learning_rate_sweep` runs the analysis on scikit-learn's
cross-validation, here on Brownlee's three-class "blobs" problem with a small network trained by
SGD, and :func:`~gainprop.plotting.plot_learning_rate_sweep` draws it.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_blobs

from gainprop import MLPClassifier
from gainprop.model_selection import learning_rate_sweep
from gainprop.plotting import plot_learning_rate_sweep

X, y = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2)
est = MLPClassifier(hidden_layer_sizes=(50,), solver="sgd", momentum=0.0, batch_size=32,
                    max_iter=30, tol=0.0, n_iter_no_change=31, random_state=1)
result = learning_rate_sweep(est, X, y, rates=np.logspace(-6, 0, 7), cv=3)
print(result.to_frame()[["rate", "final_loss", "train_score", "test_score", "diverged"]]
      .round(3).to_string(index=False))

# %%
# The "U": the loss falls as the rate grows, up to a floor around 0.01 to 0.1, and rises
# again at rate 1, where training oscillates.
ax = plot_learning_rate_sweep(result, title="blobs, 2-50-3 ReLU, SGD, 30 epochs, 3 folds")
plt.show()
