"""
=============================
A grid search over optimizers
=============================

An optimizer object is a parameter of the estimator, and its settings are nested parameters
(``solver__eta_plus``), so scikit-learn's ``GridSearchCV`` can compare optimizers and tune each.
A setting that belongs to one optimizer goes in a grid of its own: the search takes a list of
grids.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from gainprop import MLPClassifier
from gainprop.optimizers import SGD, Adam, LocalGain, Rprop

warnings.filterwarnings("ignore", category=ConvergenceWarning)
X, y = load_digits(return_X_y=True)

grid = [
    {"solver": [Adam()], "learning_rate_init": [1e-3, 1e-2]},
    {"solver": [SGD(momentum=0.9)], "learning_rate_init": [0.01, 0.1]},
    {"solver": [LocalGain()], "learning_rate_init": [0.5], "solver__bonus": [0.02, 0.05]},
    {"solver": [Rprop()], "solver__eta_plus": [1.1, 1.2]},
]
search = GridSearchCV(MLPClassifier(hidden_layer_sizes=(32,), max_iter=30, random_state=0),
                      grid, cv=3, n_jobs=1).fit(X / 16, y)
print("best:", search.best_params_, f"accuracy {search.best_score_:.3f}")

results = pd.DataFrame(search.cv_results_)
results["setting"] = [
    ", ".join(f"{k.removeprefix('solver__')}={v}" if k != "solver" else type(v).__name__
              for k, v in params.items())
    for params in results["params"]]
print(results[["setting", "mean_test_score", "std_test_score", "mean_fit_time"]]
      .sort_values("mean_test_score", ascending=False).round(3).to_string(index=False))

# %%
ordered = results.sort_values("mean_test_score")
fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
ax.barh(ordered["setting"], ordered["mean_test_score"], xerr=ordered["std_test_score"])
ax.set_xlabel("mean held-out accuracy over 3 folds (fraction of digits)")
ax.set_xlim(0.8, 1.0)
plt.show()
