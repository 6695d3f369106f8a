"""
===================
Batch normalisation
===================

``batch_norm=True`` normalises each hidden layer's pre-activations over the mini-batch (Ioffe &
Szegedy 2015), with a learnt scale and shift per unit, before the activation; prediction uses
running statistics. Here a deeper ReLU network learns the letters with and without it, with
Kaiming-normal initial weights (He et al. 2015) and plain SGD.
"""

# %%
import warnings

import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning

from gainprop import MLPClassifier
from gainprop.datasets import load_letters
from gainprop.plotting import plot_learning_curves

warnings.filterwarnings("ignore", category=ConvergenceWarning)
X, y = load_letters(2080, random_state=0, difficulty="hard", return_X_y=True)
X_train, y_train, X_test, y_test = X[:1560], y[:1560], X[1560:], y[1560:]

models = []
for batch_norm in (False, True):
    clf = MLPClassifier(hidden_layer_sizes=(128, 128, 128), batch_norm=batch_norm,
                        init="kaiming_normal", solver="sgd", momentum=0.0,
                        learning_rate_init=0.02, batch_size=64, max_iter=15, random_state=0)
    models.append(clf.fit(X_train, y_train))
    print(f"batch_norm={batch_norm!s:5s} loss {clf.loss_:.3f}  "
          f"held-out accuracy {clf.score(X_test, y_test):.3f}")

print("learnt scales of the first layer's units (first five):", models[1].bn_gamma_[0][:5])

# %%
ax = plot_learning_curves(*models, labels=["without batch norm", "with batch norm"],
                          log_y=True, title="128-128-128 ReLU, SGD, hard letters")
plt.show()
