"""MLPClassifier's class_weight: scikit-learn's definition (it multiplies
sample_weight; 'balanced' is n_samples / (n_classes * bincount(y)); one dict
per output for multi-label targets), shown equal to the matching
sample_weight bit for bit through every way of fitting."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_multilabel_classification
from sklearn.model_selection import GridSearchCV
from sklearn.utils import compute_sample_weight
from sklearn.utils._param_validation import InvalidParameterError

from gainprop import MLPClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _unbalanced(digits, n_classes=3):
    """Digits of a few classes in unequal numbers."""
    X, y = digits
    keep = np.concatenate([np.flatnonzero(y == c)[: 40 * (c + 1)] for c in range(n_classes)])
    return X[keep], y[keep]


def _assert_same_fit(a, b):
    np.testing.assert_array_equal(a._params, b._params)
    assert a.loss_ == b.loss_
    for history in ("loss_curve_", "validation_scores_", "validation_loss_curve_"):
        assert getattr(a, history, None) == getattr(b, history, None)


CLASS_WEIGHTS = [{0: 3.0, 1: 0.5, 2: 1.25}, {1: 4.0}, "balanced"]


@pytest.mark.parametrize("class_weight", CLASS_WEIGHTS, ids=["dict", "partial-dict", "balanced"])
@pytest.mark.parametrize("solver,early_stopping", [("adam", False), ("sgd", True),
                                                   ("lbfgs", False)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("with_sample_weight", [False, True], ids=["", "sample_weight"])
def test_class_weight_is_the_matching_sample_weight(digits, class_weight, solver,
                                                    early_stopping, dtype, sparse,
                                                    with_sample_weight):
    X, y = _unbalanced(digits)
    X = X.astype(dtype)
    if sparse:
        X = sp.csr_matrix(X)
    sw = np.random.RandomState(0).uniform(0.5, 2.0, len(y)) if with_sample_weight else None
    expected = compute_sample_weight(class_weight, y) * (1.0 if sw is None else sw)
    params = dict(hidden_layer_sizes=(8,), solver=solver, early_stopping=early_stopping,
                  max_iter=4, random_state=0)
    a = MLPClassifier(class_weight=class_weight, **params).fit(X, y, sample_weight=sw)
    b = MLPClassifier(**params).fit(X, y, sample_weight=expected)
    _assert_same_fit(a, b)
    c = MLPClassifier(**params).fit(X, y)
    assert not np.array_equal(a._params, c._params)  # the weights did something


@pytest.mark.parametrize("class_weight", [[{0: 1.0, 1: 3.0}, {0: 0.5, 1: 1.0},
                                           {0: 1.0, 1: 1.0}, {1: 2.0}], "balanced"],
                         ids=["dicts", "balanced"])
def test_multilabel_takes_one_dict_per_output(class_weight):
    X, Y = make_multilabel_classification(n_samples=150, n_features=10, n_classes=4,
                                          random_state=0)
    params = dict(hidden_layer_sizes=(8,), max_iter=4, random_state=0)
    a = MLPClassifier(class_weight=class_weight, **params).fit(X, Y)
    b = MLPClassifier(**params).fit(X, Y, sample_weight=compute_sample_weight(class_weight, Y))
    _assert_same_fit(a, b)


def test_partial_fit_with_a_dict_and_refusing_balanced(digits):
    X, y = _unbalanced(digits)
    classes = np.arange(3)
    cw = {0: 2.0, 1: 0.5, 2: 1.0}
    a = MLPClassifier(hidden_layer_sizes=(8,), class_weight=cw, random_state=0)
    b = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    for batch in np.array_split(np.arange(len(y)), 3):  # some batches lack a class
        a.partial_fit(X[batch], y[batch], classes=classes)
        b.partial_fit(X[batch], y[batch], classes=classes,
                      sample_weight=compute_sample_weight(cw, y[batch]))
    _assert_same_fit(a, b)
    before = a._params.copy()
    a.set_params(class_weight="balanced")
    with pytest.raises(ValueError, match="'balanced' is not supported for partial_fit"):
        a.partial_fit(X, y)
    np.testing.assert_array_equal(a._params, before)
    with pytest.raises(ValueError, match="'balanced' is not supported for partial_fit"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=classes)


def test_warm_start_pickle_and_thread_count(digits):
    X, y = _unbalanced(digits)
    params = dict(hidden_layer_sizes=(40,), warm_start=True, max_iter=3, random_state=0)
    a = MLPClassifier(class_weight="balanced", n_threads=1, **params).fit(X, y)
    b = pickle.loads(pickle.dumps(a))
    assert b.class_weight == "balanced"
    a.fit(X, y)
    b.fit(X, y)
    _assert_same_fit(a, b)
    c = MLPClassifier(n_threads=2, **params)
    for _ in range(2):
        c.fit(X, y, sample_weight=compute_sample_weight("balanced", y))
    _assert_same_fit(a, c)


def test_validation_data_keeps_its_own_weights(digits):
    # as HistGradientBoostingClassifier: class_weight weighs the training
    # samples (and a split of them), not the X_val passed to fit
    X, y = _unbalanced(digits)
    X_val, y_val = digits[0][-300:], digits[1][-300:]
    keep = y_val < 3
    X_val, y_val = X_val[keep], y_val[keep]
    clf = MLPClassifier(hidden_layer_sizes=(8,), class_weight={0: 5.0}, early_stopping=True,
                        max_iter=5, n_iter_no_change=100, random_state=0)
    clf.fit(X, y, X_val=X_val, y_val=y_val)
    assert clf.best_validation_score_ == clf.score(X_val, y_val)


def test_grid_search_over_class_weight(digits):
    X, y = _unbalanced(digits)
    search = GridSearchCV(MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0),
                          {"class_weight": [None, "balanced", {0: 5.0}]}, cv=2,
                          scoring="balanced_accuracy").fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.class_weight == search.best_params_["class_weight"]


def test_class_weight_errors(digits):
    X, y = _unbalanced(digits)
    with pytest.raises(ValueError, match="list of dicts only for multi-label"):
        MLPClassifier(class_weight=[{0: 1.0}], max_iter=1).fit(X, y)
    Xm, Y = make_multilabel_classification(n_samples=50, n_classes=3, random_state=0)
    with pytest.raises(ValueError, match="For multi-label y, class_weight must be a list"):
        MLPClassifier(class_weight={0: 1.0, 1: 2.0}, max_iter=1).fit(Xm, Y)
    with pytest.raises(InvalidParameterError, match="class_weight"):
        MLPClassifier(class_weight="balance", max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="not in class_weight"):
        # scikit-learn's check: a key that is no class, with classes left out
        MLPClassifier(class_weight={0: 1.0, 7: 2.0}, max_iter=1).fit(X, y)


@pytest.mark.parametrize("labels", [[1, -1, 5], ["b", "c", "a"]], ids=["ints", "strings"])
def test_balanced_is_the_dict_of_its_definition_for_any_labels(digits, labels):
    # scikit-learn's check_class_weight_balanced_linear_classifier, for a
    # network: 'balanced' is n_samples / (n_classes * count) per class, with
    # labels that are not 0..k-1
    X, y = _unbalanced(digits)
    y = np.asarray(labels)[y]
    classes, counts = np.unique(y, return_counts=True)
    manual = {c: len(y) / (len(classes) * n) for c, n in zip(classes.tolist(), counts)}
    params = dict(hidden_layer_sizes=(8,), max_iter=4, random_state=0)
    a = MLPClassifier(class_weight="balanced", **params).fit(X, y)
    b = MLPClassifier(class_weight=manual, **params).fit(X, y)
    _assert_same_fit(a, b)
    assert not np.array_equal(a._params, MLPClassifier(**params).fit(X, y)._params)
