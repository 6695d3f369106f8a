"""
============================================
Bounded mini-batch iRprop− against plain SGD
============================================

Rprop steps by the sign of the gradient, which on small mini-batches is noisy. Ndauka & Zheng
("Effect of Local Dynamic Learning Rate Adaptation on Mini-Batch Gradient Descent for Training
Deep Learning Models with Back Propagation Algorithm") keep a weight moving on a sign change,
with the decreased step, and bound the steps to [0.001, 0.006]:
:meth:`Rprop.minibatch() <gainprop.optimizers.Rprop.minibatch>`. Their network (ReLU layers
with batch normalisation, Kaiming-normal weights, ZCA-whitened CIFAR-10 images) trains until the
loss is below 0.01. Here a smaller network of the same kind learns 1,000 images of a
CIFAR-shaped stand-in (:func:`~gainprop.datasets.make_cifar_like`, not CIFAR-10; without the
whitening, whose 3072×3072 eigendecomposition would take longer than the training) with batches
of 250 and 1000.
"""

# %%
import warnings

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
from sklearn.exceptions import ConvergenceWarning

from gainprop import MLPClassifier
from gainprop.datasets import make_cifar_like
from gainprop.optimizers import SGD, Rprop
from gainprop.plotting import log_axis

warnings.filterwarnings("ignore", category=ConvergenceWarning)
X, y = make_cifar_like(1000, random_state=0)

fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained", sharey=True)
for ax, batch_size in zip(axes, (250, 1000)):
    for name, solver, rate in (("mini-batch iRprop-", Rprop.minibatch(), {}),
                               ("plain SGD, rate 0.01", SGD(momentum=0.0),
                                {"learning_rate_init": 0.01})):
        clf = MLPClassifier(hidden_layer_sizes=(128, 64), solver=solver, batch_size=batch_size,
                            batch_norm=True, init="kaiming_normal", alpha=0.0, max_iter=12,
                            target_loss=0.01, random_state=0, **rate).fit(X, y)
        print(f"batch {batch_size:4d}, {name:22s} {clf.n_iter_:2d} epochs, loss {clf.loss_:.4f}")
        ax.plot(range(1, clf.n_iter_ + 1), clf.loss_curve_, "o-", markersize=3, label=name)
    ax.axhline(0.01, color="gray", linestyle=":", label="target loss 0.01")
    ax.set_title(f"batches of {batch_size}")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    log_axis(ax, "y")
    ax.grid(True, alpha=0.3)
axes[0].set_ylabel("training loss (cross-entropy, log scale)")
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3)
plt.show()

# %%
# Rprop ignores ``learning_rate_init``: its per-weight step sizes are its rates. The full
# experiment, with the paper's network and batch sizes and CIFAR-10 if you have it, is
# ``python -m gainprop experiment minibatch-rprop [--cifar PATH]``.
