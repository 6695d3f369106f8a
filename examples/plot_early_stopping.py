"""
=================================
Early stopping on validation data
=================================

With ``early_stopping=True`` the estimator scores the model on validation data after every
epoch, stops when the score has not improved for ``n_iter_no_change`` epochs and keeps the
weights of the best epoch. The validation data are a held-out ``validation_fraction`` of the
training data, or what ``fit`` gets as ``X_val`` and ``y_val``. ``validation_loss_curve_``
records the validation loss beside ``loss_curve_``, so the two compare; ``scoring`` chooses
what the stopping rule watches.
"""

# %%
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from gainprop import MLPClassifier

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(X / 16, y, test_size=0.3, random_state=0)

clf = MLPClassifier(hidden_layer_sizes=(128,), alpha=0.0, learning_rate_init=0.01,
                    early_stopping=True, scoring="loss", n_iter_no_change=8, max_iter=200,
                    random_state=0)
clf.fit(X_train, y_train, X_val=X_val, y_val=y_val)
best = max(range(clf.n_iter_), key=lambda k: clf.validation_scores_[k]) + 1
print(f"stopped after {clf.n_iter_} epochs; the best epoch was {best}, whose weights the model "
      f"keeps (validation loss {clf.validation_loss_curve_[best - 1]:.4f})")

# %%
# The training loss keeps falling; the validation loss stops improving, and the fit stops
# ``n_iter_no_change`` epochs later.
fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
epochs = range(1, clf.n_iter_ + 1)
ax.plot(epochs, clf.loss_curve_, label="training loss")
ax.plot(epochs, clf.validation_loss_curve_, "--", marker="o", markersize=3,
        label="validation loss")
ax.axvline(best, color="gray", linestyle=":", label=f"best epoch ({best})")
ax.set_xlabel("epoch")
ax.set_ylabel("loss (cross-entropy)")
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
ax.legend()
ax.grid(True, alpha=0.3)
plt.show()
