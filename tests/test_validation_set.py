"""Early stopping on validation data passed to fit (X_val, y_val,
sample_weight_val), scored by ``scoring``, with ``validation_loss_curve_``.

The central check: after every epoch, the score and loss the monitor
recorded (from one forward pass, through a model holding its outputs) equal
what the public API gives for the model of that epoch: the scorer called on
the estimator, and the core's loss of the validation set."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.datasets import make_regression
from sklearn.metrics import check_scoring, make_scorer, mean_absolute_error
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from gainprop import MLPClassifier, MLPRegressor
from gainprop._engine import Engine, Matrix

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _core_loss(est, X, Y, sample_weight):
    """The loss of the model on (X, Y) as the C core defines a batch's loss
    (loss_curve_'s definition), L2 term included."""
    dtype = est._params.dtype
    X = Matrix(X, dtype)
    Y = np.ascontiguousarray(Y.reshape(len(Y), -1), dtype=dtype)
    sw = None if sample_weight is None else np.ascontiguousarray(sample_weight, dtype=dtype)
    engine = Engine(est._layout, est.activation, est.out_activation_, est.loss, est.alpha, 1,
                    X.n_rows, dtype, X.n_cols, False)
    data, l2 = engine.loss_grad(X, Y, sw, est._params.copy())
    return engine.loss_scale * data + l2


class _CheckEachEpoch:
    """A callback comparing each epoch's recorded validation score and loss
    with the public API's (the estimator is the live model of that epoch)."""

    def __init__(self, X_val, y_val, Y_val, sample_weight_val, scoring):
        self.X_val, self.y_val, self.Y_val = X_val, y_val, Y_val
        self.sample_weight_val, self.scoring = sample_weight_val, scoring
        self.epochs = 0

    def __call__(self, record):
        est = record.estimator
        assert record.validation_loss == est.validation_loss_curve_[-1]
        assert record.validation_score == est.validation_scores_[-1]
        loss = _core_loss(est, self.X_val, self.Y_val, self.sample_weight_val)
        rtol = 1e-5 if est._params.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(record.validation_loss, loss, rtol=rtol)
        kwargs = {} if self.sample_weight_val is None else {
            "sample_weight": self.sample_weight_val}
        if self.scoring == "loss":
            assert record.validation_score == -record.validation_loss
        elif self.scoring is None:
            assert record.validation_score == est.score(self.X_val, self.y_val, **kwargs)
        else:
            scorer = check_scoring(est, scoring=self.scoring)
            assert record.validation_score == scorer(est, self.X_val, self.y_val, **kwargs)
        self.epochs += 1


def _weights(n, seed=0):
    return np.random.RandomState(seed).uniform(0.5, 2.0, n)


def _my_score(est, X, y, sample_weight=None):  # a plain scoring function
    return -np.mean(np.abs(est.predict_proba(X).max(axis=1) - 1.0))


@pytest.mark.parametrize("scoring", [None, "loss", "neg_log_loss", "roc_auc_ovr",
                                     "balanced_accuracy", _my_score],
                         ids=["accuracy", "loss", "neg_log_loss", "roc_auc_ovr",
                              "balanced_accuracy", "callable"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_classifier_scores_and_losses_match_the_public_api(digits_split, scoring, dtype, sparse):
    X_train, X_val, y_train, y_val = digits_split
    X_train, X_val = X_train.astype(dtype), X_val.astype(dtype)
    if sparse:
        X_train, X_val = sp.csr_matrix(X_train), sp.csr_matrix(X_val)
    sw_val = _weights(len(y_val)) if scoring != "roc_auc_ovr" else None
    Y_val = (y_val[:, None] == np.arange(10)).astype(float)
    check = _CheckEachEpoch(X_val, y_val, Y_val, sw_val, scoring)
    clf = MLPClassifier(hidden_layer_sizes=(12,), early_stopping=True, scoring=scoring,
                        max_iter=4, n_iter_no_change=100, random_state=0, callbacks=[check])
    clf.fit(X_train, y_train, X_val=X_val, y_val=y_val, sample_weight_val=sw_val)
    assert check.epochs == clf.n_iter_ == 4
    assert len(clf.validation_scores_) == len(clf.validation_loss_curve_) == 4
    # the model ends with the best weights, which score what was recorded
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    kwargs = {} if sw_val is None else {"sample_weight": sw_val}
    if scoring is None:
        assert clf.score(X_val, y_val, **kwargs) == clf.best_validation_score_
    elif scoring != "loss":
        assert (check_scoring(clf, scoring=scoring)(clf, X_val, y_val, **kwargs)
                == clf.best_validation_score_)


@pytest.mark.parametrize("kind,scoring", [("binary", None), ("binary", "neg_log_loss"),
                                          ("binary", "roc_auc"), ("binary", "loss"),
                                          ("multilabel", None), ("multilabel", "f1_micro"),
                                          ("multilabel", "loss")])
def test_binary_and_multilabel_scores_and_losses_match_the_public_api(digits_split, kind,
                                                                      scoring):
    # a binary model's predictions come from its logits, the others' from
    # the activated outputs: the validation pass gives each what it reads
    X_train, X_val, y_train, y_val = digits_split
    if kind == "binary":
        y_train, y_val = y_train % 2, y_val % 2
        Y_val = y_val[:, None].astype(float)
    else:
        y_train, y_val = [np.c_[y % 2, y < 5, y % 3 == 0].astype(int) for y in (y_train, y_val)]
        Y_val = y_val.astype(float)
    sw_val = _weights(len(y_val))
    check = _CheckEachEpoch(X_val, y_val, Y_val, sw_val, scoring)
    clf = MLPClassifier(hidden_layer_sizes=(12,), early_stopping=True, scoring=scoring,
                        alpha=0.01, max_iter=4, n_iter_no_change=100, random_state=0,
                        callbacks=[check])
    clf.fit(X_train, y_train, X_val=X_val, y_val=y_val, sample_weight_val=sw_val)
    assert check.epochs == 4


@pytest.mark.parametrize("loss,scoring", [("squared_error", None), ("squared_error", "loss"),
                                          ("squared_error", "neg_mean_absolute_error"),
                                          ("poisson", "loss"), ("poisson", None)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_regressor_scores_and_losses_match_the_public_api(loss, scoring, dtype):
    X, y = make_regression(n_samples=300, n_features=8, n_targets=2, random_state=0)
    y = np.exp(y / 200) if loss == "poisson" else y / 100
    X, y = X.astype(dtype), y.astype(dtype)
    X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0)
    sw_val = _weights(len(y_val))
    check = _CheckEachEpoch(X_val, y_val, y_val, sw_val, scoring)
    reg = MLPRegressor(loss=loss, hidden_layer_sizes=(10,), early_stopping=True,
                       scoring=scoring, alpha=0.1, max_iter=4, n_iter_no_change=100,
                       random_state=0, callbacks=[check])
    reg.fit(X_train, y_train, X_val=X_val, y_val=y_val, sample_weight_val=sw_val)
    assert check.epochs == 4


def test_validation_loss_is_the_training_loss_on_the_same_data(digits):
    # Full batch, no shuffling, the training data as validation data: epoch
    # k + 1's training loss is computed at the weights that end epoch k, whose
    # validation loss is validation_loss_curve_[k]; the two curves are one
    # definition (mean loss plus the L2 term, both over the sum of weights).
    X, y = digits
    sw = _weights(len(y))
    clf = MLPClassifier(hidden_layer_sizes=(10,), solver="sgd", batch_size=len(X),
                        shuffle=False, alpha=0.5, learning_rate_init=0.1, early_stopping=True,
                        max_iter=6, n_iter_no_change=100, random_state=0)
    clf.fit(X, y, sample_weight=sw, X_val=X, y_val=y, sample_weight_val=sw)
    np.testing.assert_allclose(clf.validation_loss_curve_[:-1], clf.loss_curve_[1:],
                               rtol=1e-12)


def test_scoring_loss_stops_on_the_validation_loss(digits_split):
    X_train, X_val, y_train, y_val = digits_split
    clf = MLPClassifier(hidden_layer_sizes=(12,), early_stopping=True, scoring="loss",
                        learning_rate_init=0.05, max_iter=200, n_iter_no_change=3,
                        random_state=0).fit(X_train, y_train, X_val=X_val, y_val=y_val)
    assert clf.n_iter_ < 200
    np.testing.assert_array_equal(clf.validation_scores_, -np.array(clf.validation_loss_curve_))
    best = int(np.argmax(clf.validation_scores_))
    assert clf.best_validation_score_ == -min(clf.validation_loss_curve_)
    assert len(clf.validation_scores_) - best - 1 == clf.n_iter_no_change + 1


def test_without_validation_data_the_split_is_scored(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(8,), early_stopping=True, scoring="loss",
                        max_iter=3, random_state=0).fit(X, y)
    assert len(clf.validation_loss_curve_) == 3
    assert clf.validation_scores_ == [-v for v in clf.validation_loss_curve_]
    plain = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y)
    assert plain.validation_loss_curve_ is None and plain.validation_scores_ is None
    # scoring=None is today's accuracy on the held-out tenth: same fit as before
    a = MLPClassifier(hidden_layer_sizes=(8,), early_stopping=True, max_iter=3,
                      random_state=0).fit(X, y)
    b = MLPClassifier(hidden_layer_sizes=(8,), early_stopping=True, scoring="accuracy",
                      max_iter=3, random_state=0).fit(X, y)
    assert a.validation_scores_ == b.validation_scores_
    np.testing.assert_array_equal(a._params, b._params)


def test_validation_data_errors(digits_split):
    X_train, X_val, y_train, y_val = digits_split
    est = MLPClassifier(hidden_layer_sizes=(4,), early_stopping=True, max_iter=1)
    with pytest.raises(ValueError, match="X_val is provided, but y_val was not provided"):
        est.fit(X_train, y_train, X_val=X_val)
    with pytest.raises(ValueError, match="y_val is provided, but X_val was not provided"):
        est.fit(X_train, y_train, y_val=y_val)
    with pytest.raises(ValueError, match="sample_weight_val is provided without"):
        est.fit(X_train, y_train, sample_weight_val=np.ones(len(y_val)))
    with pytest.raises(ValueError, match="early_stopping is False"):
        MLPClassifier(max_iter=1).fit(X_train, y_train, X_val=X_val, y_val=y_val)
    with pytest.raises(ValueError, match="lbfgs"):
        MLPClassifier(solver="lbfgs", early_stopping=True).fit(X_train, y_train, X_val=X_val,
                                                               y_val=y_val)
    with pytest.raises(ValueError, match="features"):
        est.fit(X_train, y_train, X_val=X_val[:, :10], y_val=y_val)
    with pytest.raises(ValueError, match="classes not in classes_"):
        est.fit(X_train, y_train, X_val=X_val, y_val=y_val + 20)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.fit(X_train, y_train, X_val=X_val, y_val=y_val[:-1])
    with pytest.raises(ValueError, match="scoring"):
        MLPClassifier(early_stopping=True, scoring="no such score", max_iter=1).fit(
            X_train, y_train)
    with pytest.raises(ValueError, match="outputs"):
        MLPRegressor(early_stopping=True, max_iter=1).fit(
            X_train, y_train.astype(float), X_val=X_val, y_val=np.c_[y_val, y_val])
    assert not hasattr(est, "coefs_")  # every refusal came before anything changed
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        est.partial_fit(X_train, y_train, classes=np.arange(10))  # as scikit-learn
    assert not hasattr(est, "coefs_")


def test_warm_start_pickle_and_thread_count(digits_split):
    X_train, X_val, y_train, y_val = digits_split
    params = dict(hidden_layer_sizes=(30,), early_stopping=True, scoring="neg_log_loss",
                  warm_start=True, max_iter=3, n_iter_no_change=100, random_state=0)
    fit_kw = dict(X_val=X_val, y_val=y_val)
    a = MLPClassifier(n_threads=1, **params).fit(X_train, y_train, **fit_kw)
    b = pickle.loads(pickle.dumps(a))
    assert b.validation_loss_curve_ == a.validation_loss_curve_
    a.fit(X_train, y_train, **fit_kw)  # the history goes on
    b.fit(X_train, y_train, **fit_kw)
    assert len(a.validation_scores_) == len(a.validation_loss_curve_) == 6
    assert a.validation_scores_ == b.validation_scores_
    assert a.validation_loss_curve_ == b.validation_loss_curve_
    np.testing.assert_array_equal(a._params, b._params)
    c = MLPClassifier(n_threads=2, **params).fit(X_train, y_train, **fit_kw)
    c.fit(X_train, y_train, **fit_kw)
    assert c.validation_scores_ == a.validation_scores_
    assert c.validation_loss_curve_ == a.validation_loss_curve_
    np.testing.assert_array_equal(c._params, a._params)


def test_warm_start_of_a_model_without_validation_losses(digits_split):
    # a model pickled before validation_loss_curve_ existed goes on with NaN
    # losses for the epochs it did not record
    X_train, X_val, y_train, y_val = digits_split
    clf = MLPClassifier(hidden_layer_sizes=(8,), early_stopping=True, warm_start=True,
                        max_iter=2, n_iter_no_change=100, random_state=0)
    clf.fit(X_train, y_train, X_val=X_val, y_val=y_val)
    del clf.validation_loss_curve_
    clf.fit(X_train, y_train, X_val=X_val, y_val=y_val)
    assert len(clf.validation_scores_) == len(clf.validation_loss_curve_) == 4
    assert np.isnan(clf.validation_loss_curve_[:2]).all()
    assert np.isfinite(clf.validation_loss_curve_[2:]).all()


def test_grid_search_passes_the_validation_data(digits_split):
    X_train, X_val, y_train, y_val = digits_split
    search = GridSearchCV(
        MLPClassifier(hidden_layer_sizes=(8,), early_stopping=True, max_iter=3,
                      random_state=0),
        {"scoring": [None, "loss", make_scorer(mean_absolute_error, greater_is_better=False)]},
        cv=2).fit(X_train, y_train, X_val=X_val, y_val=y_val)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_
    assert len(best.validation_loss_curve_) == best.n_iter_


def test_pipeline_routes_and_transforms_the_validation_data(digits_split):
    X_train, X_val, y_train, y_val = digits_split
    X_train, X_val = X_train * 16 + 3, X_val * 16 + 3  # scaling matters
    with sklearn.config_context(enable_metadata_routing=True):
        mlp = MLPClassifier(hidden_layer_sizes=(12,), early_stopping=True, max_iter=5,
                            n_iter_no_change=100, random_state=0)
        mlp.set_fit_request(X_val=True, y_val=True)
        pipe = Pipeline([("scale", StandardScaler()), ("mlp", mlp)], transform_input=["X_val"])
        pipe.fit(X_train, y_train, X_val=X_val, y_val=y_val)
    fitted = pipe.named_steps["mlp"]
    assert len(fitted.validation_scores_) == 5
    # the best validation score is the pipeline's accuracy on X_val: X_val
    # was scaled as X was
    assert fitted.best_validation_score_ == pipe.score(X_val, y_val)
    assert fitted.score(X_val, y_val) != fitted.best_validation_score_
