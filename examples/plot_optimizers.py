"""
==============================
Every optimizer on one problem
==============================

Each of gainprop's update rules trains the same 64-64-10 network on the digits, with the
learning rate its source advises. The rules that adapt on the sign of the full-batch gradient
(local gains and the Rprop family) train full batch, as the estimator does by default with them;
the others use mini-batches of 200. The left panel shows the training loss per epoch, the right
one the accuracy on held-out digits.
"""

# %%
import warnings

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from gainprop import MLPClassifier
from gainprop.optimizers import SGD, AdaGrad, Adadelta, Adam, AdaMax, LocalGain, RMSprop, Rprop
from gainprop.plotting import log_axis

warnings.filterwarnings("ignore", category=ConvergenceWarning)
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.25, random_state=0)

solvers = {
    "SGD, momentum 0.9": (SGD(momentum=0.9), 0.05),
    "Adam": (Adam(), 1e-3),
    "AdaMax": (AdaMax(), 2e-3),
    "RMSprop": (RMSprop(), 1e-3),
    "AdaGrad": (AdaGrad(), 0.05),
    "Adadelta": (Adadelta(), 1.0),
    "local gains (full batch)": (LocalGain(), 0.5),
    "iRprop- (full batch)": (Rprop(), None),
    "Rprop+ (full batch)": (Rprop(variant="rprop+"), None),
}
epochs = 40
fig, (ax, bars) = plt.subplots(1, 2, figsize=(11, 5.5), layout="constrained",
                               gridspec_kw={"width_ratios": [3, 2]})
for i, (name, (solver, rate)) in enumerate(solvers.items()):
    rate = {} if rate is None else {"learning_rate_init": rate}  # Rprop ignores the rate
    clf = MLPClassifier(hidden_layer_sizes=(64,), solver=solver, max_iter=epochs,
                        random_state=0, **rate).fit(X_train, y_train)
    accuracy = clf.score(X_test, y_test)
    print(f"{name:26s} loss {clf.loss_:.4f}  held-out accuracy {accuracy:.3f}")
    style = "-" if i < 6 else "--"
    ax.plot(range(1, clf.n_iter_ + 1), clf.loss_curve_, style, label=name)
    bars.barh(name, accuracy, color=f"C{i}")

log_axis(ax, "y")
ax.set_xlabel("epoch")
ax.set_ylabel("training loss (cross-entropy, log scale)")
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
ax.grid(True, alpha=0.3)
ax.legend(fontsize="small", ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.15))
bars.set_xlim(0.8, 1.0)
bars.set_xlabel("held-out accuracy (fraction of test digits)")
bars.invert_yaxis()
plt.show()

# %%
# Full-batch rules take one step per epoch where the mini-batch rules take seven (1347 digits
# in batches of 200), so their curves fall more slowly per epoch; each of their epochs is
# also cheaper.
