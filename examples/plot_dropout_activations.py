"""
================================
Dropout and activation functions
================================

``dropout`` drops each hidden unit of each training sample with probability p and scales the
kept ones by 1 / (1 − p) (inverted dropout, Srivastava et al. 2014), so prediction uses the whole
network unchanged; ``input_dropout`` does the same to the inputs. ``activation`` takes, besides
scikit-learn's four, 'leaky_relu', 'elu', 'gelu', 'softplus' and 'silu', and
``init='kaiming_normal'`` scales the initial weights by each activation's gain (He et al. 2015).
Both are shown here on scikit-learn's digits, with a small training set so that a large network
can overfit it.
"""

# %%
# Dropout
# -------
# A 64-256-256-10 network learns 300 digits, with and without dropout on its hidden layers.
# The 1,497 other digits are its validation data (``X_val``): with ``early_stopping=True`` the
# estimator records the validation loss every epoch in ``validation_loss_curve_``;
# ``n_iter_no_change`` larger than ``max_iter`` lets every run train all its epochs.
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
X_train, X_val, y_train, y_val = train_test_split(X / 16, y, train_size=300, random_state=0,
                                                  stratify=y)

runs = {}
for p in (0.0, 0.5):
    clf = MLPClassifier(hidden_layer_sizes=(256, 256), dropout=p, alpha=0.0, batch_size=32,
                        learning_rate_init=0.003, max_iter=40, early_stopping=True,
                        scoring="loss", n_iter_no_change=100, random_state=0)
    runs[p] = clf.fit(X_train, y_train, X_val=X_val, y_val=y_val)
    curve = clf.validation_loss_curve_
    best = min(range(len(curve)), key=curve.__getitem__)
    print(f"dropout {p:.1f}: training loss {clf.loss_curve_[-1]:.4f}, validation loss "
          f"{curve[-1]:.4f} after {clf.n_iter_} epochs (lowest {curve[best]:.4f}, epoch "
          f"{best + 1})")

# %%
# Without dropout the training loss falls towards zero while the validation loss reaches its
# lowest point early and then rises steadily: the network memorises its 300 digits. With dropout
# the training loss stays higher, and the validation loss does not drift up: it fluctuates
# around its low (the masks differ every mini-batch) and its lowest point is a little lower. On
# a data set this small the difference is modest. (The training loss of a dropout
# run is the loss of the thinned networks it trained, averaged over the epoch's mini-batches;
# the validation loss is that of the whole network.) The right panel's scale starts at the
# validation losses' range; its first epochs, above 0.4, are off the top.
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
for i, (p, clf) in enumerate(runs.items()):
    epochs = range(1, clf.n_iter_ + 1)
    left.plot(epochs, clf.loss_curve_, color=f"C{i}", label=f"dropout {p:g}")
    right.plot(epochs, clf.validation_loss_curve_, color=f"C{i}", marker="o", markersize=3,
               label=f"dropout {p:g}")
log_axis(left, "y")
left.set_ylabel("training loss (cross-entropy, log scale)")
right.set_ylim(0.15, 0.4)
right.set_ylabel("validation loss (cross-entropy)")
for ax in (left, right):
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper right")
    ax.grid(True, alpha=0.3)
plt.show()

# %%
# Activation functions and their Kaiming gains
# --------------------------------------------
# A deeper, narrower network (four hidden layers of 64 units) with each activation, its initial
# weights drawn by ``init='kaiming_normal'``: N(0, gain² / fan_in), with the gain
# ``torch.nn.init.calculate_gain`` gives (1 for identity and logistic, 5/3 for tanh, √2 for relu,
# √(2 / (1 + 0.01²)) for leaky_relu; √2 for elu, gelu, softplus and silu, for which torch
# defines none). The same mini-batch SGD with momentum trains each for 15 epochs.
activations = ["identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "gelu", "softplus",
               "silu"]
accuracy = {}
for activation in activations:
    clf = MLPClassifier(hidden_layer_sizes=(64,) * 4, activation=activation,
                        init="kaiming_normal", solver="sgd", learning_rate_init=0.05,
                        momentum=0.9, batch_size=32, max_iter=15, random_state=0)
    clf.fit(X_train, y_train)
    accuracy[activation] = clf.score(X_val, y_val)
    print(f"{activation:10s} training loss {clf.loss_:.4f}  held-out accuracy "
          f"{accuracy[activation]:.3f}")

# %%
# On this small problem the ReLU family, tanh and the smooth ReLU-like functions (elu, gelu,
# silu) all learn the digits in 15 epochs; softplus learns more slowly at this rate, and four
# logistic layers do not learn at all in that time (chance accuracy: the logistic function's
# derivative is at most 1/4, so the gradient shrinks layer by layer). The identity network is a linear model, which suffices for much of this data
# set. These are the results of one short run each, not a ranking of the functions.
fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
bars = ax.barh(activations, [accuracy[a] for a in activations], color="C0")
ax.bar_label(bars, fmt="%.3f", padding=3)
ax.set_xlim(0, 1.1)
ax.invert_yaxis()
ax.set_xlabel("held-out accuracy (fraction of 1,497 digits)")
ax.set_ylabel("hidden activation")
ax.grid(True, axis="x", alpha=0.3)
plt.show()
