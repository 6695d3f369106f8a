"""
========================================
Learning-rate schedules and their curves
========================================

A schedule from :mod:`gainprop.schedules` scales the global rate of any stochastic solver,
starting from ``learning_rate_init``. :meth:`~gainprop.schedules.BaseSchedule.rate_sequence`
shows the rates a schedule gives without training (left); a fit records the rate of every epoch
in ``learning_rate_curve_`` beside ``loss_curve_`` (right: the same network trained by SGD with
three of them).
"""

# %%
import warnings

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from gainprop import MLPClassifier
from gainprop.plotting import log_axis
from gainprop.schedules import (CosineAnnealing, Cyclic, ExponentialDecay, LinearDecay,
                                StepDecay)

warnings.filterwarnings("ignore", category=ConvergenceWarning)
schedules = {
    "LinearDecay(tau=20)": LinearDecay(tau=20),
    "ExponentialDecay(gamma=0.9)": ExponentialDecay(gamma=0.9),
    "StepDecay(step_size=8, gamma=0.5)": StepDecay(step_size=8, gamma=0.5),
    "CosineAnnealing(T_max=10, restarts=True)": CosineAnnealing(T_max=10, restarts=True),
}
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5.5), layout="constrained")
for name, schedule in schedules.items():
    left.plot(range(1, 31), schedule.rate_sequence(0.1, n_epochs=30), label=name)
cyclic = Cyclic(step_size=20, mode="triangular2").rate_sequence(0.01, n_epochs=30, n_batches=5)
left.plot([1 + i / 5 for i in range(len(cyclic))], cyclic, ":", label="Cyclic (per mini-batch)")
left.set_xlabel("epoch")
left.set_ylabel("learning rate η (η₀ = 0.1; Cyclic: 0.01 to 0.1)")
left.xaxis.set_major_locator(MaxNLocator(integer=True))
left.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.15), ncols=2)
left.set_title("rate_sequence: the rates without training")

# Training with a schedule: the rate actually used per epoch is in learning_rate_curve_.
X, y = load_digits(return_X_y=True)
for name in ("StepDecay(step_size=8, gamma=0.5)", "CosineAnnealing(T_max=10, restarts=True)"):
    clf = MLPClassifier(hidden_layer_sizes=(64,), solver="sgd", learning_rate_init=0.1,
                        learning_rate=schedules[name], max_iter=30, random_state=0)
    clf.fit(X / 16, y)
    line, = right.plot(range(1, clf.n_iter_ + 1), clf.loss_curve_, label=f"loss, {name}")
    print(name, "rates of the first epochs:", [f"{r:.3g}" for r in clf.learning_rate_curve_[:9]])
constant = MLPClassifier(hidden_layer_sizes=(64,), solver="sgd", learning_rate_init=0.1,
                         max_iter=30, random_state=0).fit(X / 16, y)
right.plot(range(1, constant.n_iter_ + 1), constant.loss_curve_, "k--", label="loss, constant")
log_axis(right, "y")
right.set_xlabel("epoch")
right.set_ylabel("training loss (cross-entropy, log scale)")
right.xaxis.set_major_locator(MaxNLocator(integer=True))
right.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.15))
right.set_title("SGD on the digits, η₀ = 0.1")
plt.show()
