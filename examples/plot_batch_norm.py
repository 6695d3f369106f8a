"""
===================
Batch normalisation
===================

``batch_norm=True`` normalises each hidden layer's pre-activations over the mini-batch (Ioffe &
Szegedy 2015), with a learnt scale and shift per unit, before the activation; prediction uses
running statistics. Here a six-layer ReLU network with Kaiming-normal initial weights (He et al.
2015) learns the digits by plain SGD with and without it, at a small rate and at a large one.
"""

# %%
import warnings

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from gainprop import MLPClassifier
from gainprop.plotting import log_axis

warnings.filterwarnings("ignore", category=ConvergenceWarning)
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16, y, random_state=0)

fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
for i, (rate, batch_norm) in enumerate([(0.003, False), (0.003, True), (0.3, False),
                                        (0.3, True)]):
    label = f"rate {rate}, {'with' if batch_norm else 'without'} batch norm"
    clf = MLPClassifier(hidden_layer_sizes=(64,) * 6, batch_norm=batch_norm,
                        init="kaiming_normal", solver="sgd", momentum=0.0,
                        learning_rate_init=rate, batch_size=32, max_iter=15, random_state=0)
    try:
        clf.fit(X_train, y_train)
        result = f"loss {clf.loss_:.3f}, held-out accuracy {clf.score(X_test, y_test):.3f}"
    except ValueError:  # the loss became infinite: scikit-learn's non-finite weights error
        result = f"diverged in epoch {len(clf.loss_curve_) + 1}"
    print(f"{label:38s} {result}")
    ax.plot(range(1, len(clf.loss_curve_) + 1), clf.loss_curve_, "--" if batch_norm else "-",
            color=f"C{i // 2}", marker="o" if batch_norm else None, markersize=3, label=label)

log_axis(ax, "y")
ax.set_xlabel("epoch")
ax.set_ylabel("training loss (cross-entropy, log scale)")
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.15), ncols=2)
ax.grid(True, alpha=0.3)
plt.show()

# %%
# With batch normalisation the network learns faster at the small rate and still trains at
# the large one, where without it the loss becomes infinite within a few epochs (the model
# then keeps its weights from before that epoch). The learnt scales and shifts are
# ``bn_gamma_`` and ``bn_beta_``, the running statistics ``bn_running_mean_`` and
# ``bn_running_var_``.
