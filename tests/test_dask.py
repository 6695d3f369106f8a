"""Scale-out with Dask: a grid search through joblib's dask backend on a
LocalCluster and dask-ml's Incremental over a dask array (the examples of
docs/user_guide/scaling.md run in tests/test_docs.py).  Skipped without the
``[dask]`` extra (dask, distributed, dask-ml)."""

import re

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from gainprop import MLPClassifier

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

@pytest.fixture
def client():
    """A two-worker cluster inside this process (threads: gainprop trains with
    the GIL released), closed at the end of the test."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            yield client


def _calls(task_stream, name):
    """How many calls of function ``name`` the cluster ran, from its task stream
    (joblib names a task 'batch_of_<function>_<n>_calls-<id>')."""
    pattern = re.compile(rf"batch_of_{name}_(\d+)_calls")
    return sum(int(m.group(1)) for task in task_stream.data
               if (m := pattern.search(str(task["key"]))))


def test_grid_search_on_a_dask_cluster_matches_the_local_one(client, digits):
    X, y = digits
    X, y = X[:600], y[:600]
    search = GridSearchCV(MLPClassifier(hidden_layer_sizes=(16,), max_iter=15, random_state=0),
                          {"learning_rate_init": [1e-3, 3e-2], "alpha": [1e-4, 1.0]}, cv=3)
    local = clone(search).fit(X, y)
    with distributed.get_task_stream(client) as stream, joblib.parallel_config(backend="dask"):
        remote = clone(search).fit(X, y)
    # every fit and score (4 settings x 3 folds) ran as a task on the cluster's workers
    assert _calls(stream, "_fit_and_score") == 12
    workers = {task["worker"] for task in stream.data}
    assert workers <= set(client.scheduler_info()["workers"]) and workers
    assert remote.best_params_ == local.best_params_
    for key in ("mean_test_score", "std_test_score", "rank_test_score",
                *(f"split{k}_test_score" for k in range(3))):
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key])
    for a, b in zip(remote.best_estimator_.coefs_, local.best_estimator_.coefs_):
        np.testing.assert_array_equal(a, b)


def test_incremental_partial_fit_over_dask_blocks(client, digits):
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y = digits
    X, y = X[:600], y[:600]
    classes = np.unique(y)
    block = 150
    X_blocks = da.from_array(X, chunks=(block, X.shape[1]))
    y_blocks = da.from_array(y, chunks=block)
    est = MLPClassifier(hidden_layer_sizes=(16,), random_state=0)
    model = wrappers.Incremental(est, shuffle_blocks=False)
    with distributed.get_task_stream(client) as stream:
        model.fit(X_blocks, y_blocks, classes=classes)  # a fresh clone, one pass
        model.partial_fit(X_blocks, y_blocks, classes=classes)  # a second pass
    # one partial_fit task per block and pass, keyed ('fit-<id>', block number)
    steps = [task["key"][1] for task in stream.data
             if isinstance(task["key"], tuple) and task["key"][0].startswith("fit-")
             and task["key"][1] >= 0]
    assert sorted(steps) == [0, 0, 1, 1, 2, 2, 3, 3]
    reference = clone(est)
    for _ in range(2):
        for start in range(0, len(y), block):
            reference.partial_fit(X[start:start + block], y[start:start + block],
                                  classes=classes)
    fitted = model.estimator_
    assert len(fitted.loss_curve_) == 8  # one entry per partial_fit: per block, not per pass
    assert fitted.loss_curve_ == reference.loss_curve_
    for a, b in zip(fitted.coefs_ + fitted.intercepts_,
                    reference.coefs_ + reference.intercepts_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(X_blocks).compute(), reference.predict(X))
    assert model.score(X_blocks, y_blocks) == reference.score(X, y)


def test_learning_rate_sweep_runs_on_the_cluster(client, digits):
    from gainprop.model_selection import learning_rate_sweep

    X, y = digits
    X, y = X[:300], y[:300]
    est = MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", max_iter=4, random_state=0)
    local = learning_rate_sweep(est, X, y, rates=[1e-3, 1e-1], cv=3)
    with distributed.get_task_stream(client) as stream, joblib.parallel_config(backend="dask"):
        remote = learning_rate_sweep(est, X, y, rates=[1e-3, 1e-1], cv=3)
    assert _calls(stream, "_fit_and_score") == 6
    np.testing.assert_array_equal(remote.train_losses, local.train_losses)
    np.testing.assert_array_equal(remote.test_scores, local.test_scores)
