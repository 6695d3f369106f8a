"""Callbacks: gainprop's own (a lifecycle), ProgressBar, and scikit-learn's."""

import copy
import io
import pickle
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from gainprop import MLPClassifier, MLPRegressor
from gainprop.callbacks import EpochRecord, ProgressBar

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ---------------------------------------------------------------- callbacks
def test_callbacks_see_records_and_can_stop(digits_500):
    X, y = digits_500
    records = []

    def stop_at_3(record):
        records.append(record)
        return record.epoch == 3

    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, early_stopping=True,
                        random_state=0, callbacks=[stop_at_3]).fit(X, y)
    assert clf.n_iter_ == 3 and len(records) == 3
    r = records[-1]
    assert isinstance(r, EpochRecord) and r.epoch == 3 and r.max_iter == 50
    assert r.loss == clf.loss_curve_[2]
    assert r.validation_score == clf.validation_scores_[2]
    assert r.learning_rate == clf.learning_rate_curve_[2] == 0.001
    assert r.elapsed >= records[0].elapsed >= 0


def test_progress_bar_plain_without_tqdm(digits_500, monkeypatch):
    X, y = digits_500
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm fails
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    out = io.StringIO()
    bar = ProgressBar(file=out, min_interval=0.0)
    MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, random_state=0, callbacks=[bar]).fit(X, y)
    text = out.getvalue()
    assert "epoch 4/4" in text and "loss" in text and "lr 0.001" in text
    assert text.endswith("\n")


def test_progress_bar_clones_with_the_estimator(digits_500):
    from sklearn.base import clone

    est = MLPClassifier(callbacks=[ProgressBar(use_tqdm=False)])
    twin = clone(est)
    assert isinstance(twin.callbacks[0], ProgressBar)
    assert twin.callbacks[0] is not est.callbacks[0]


# ------------------------------------------------------------ the lifecycle
class Recorder:
    """Every hook call, in order; stops or raises at chosen epochs."""

    def __init__(self, stop_at=None, raise_at=None, error=RuntimeError):
        self.events = []
        self.stop_at, self.raise_at, self.error = stop_at, raise_at, error

    def on_fit_begin(self, info):
        self.events.append(("begin", info.max_epochs, info.incremental, info.solver))

    def on_epoch_end(self, record):
        self.events.append(("epoch", record.epoch))
        if record.epoch == self.raise_at:
            raise self.error("raised by the callback")
        return record.epoch == self.stop_at

    def on_fit_end(self, info, reason):
        self.events.append(("end", reason))

    @property
    def reason(self):
        ends = [e for e in self.events if e[0] == "end"]
        assert len(ends) == 1, self.events  # exactly once
        return ends[0][1]

    def epochs(self):
        return [e[1] for e in self.events if e[0] == "epoch"]


def _diverging():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 5) * 10
    return X, X @ rng.randn(5) * 10


NO_STOP = dict(tol=0.0, n_iter_no_change=10**6)


@pytest.mark.parametrize("case,params,reason,n_epochs", [
    ("max_iter", dict(max_iter=3, **NO_STOP), "max_iter", 3),
    # n_iter_no_change=1: the second epoch without improving by tol stops (the first
    # improves on the starting infinity)
    ("converged", dict(max_iter=50, tol=10.0, n_iter_no_change=1), "converged", 3),
    ("early_stopping", dict(max_iter=50, tol=10.0, n_iter_no_change=1, early_stopping=True),
     "early_stopping", 3),
    ("target_loss", dict(max_iter=50, target_loss=100.0, **NO_STOP), "target_loss", 1),
])
def test_on_fit_end_says_why_the_fit_ended(digits_500, case, params, reason, n_epochs):
    X, y = digits_500
    rec = Recorder()
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0, callbacks=[rec], **params)
    clf.fit(X, y)
    assert rec.events[0] == ("begin", clf.max_iter, False, "stochastic")
    assert rec.epochs() == list(range(1, n_epochs + 1)) and clf.n_iter_ == n_epochs
    assert rec.events[-1] == ("end", reason) and rec.reason == reason


def test_a_callback_stop_and_a_callback_error_end_the_fit_consistently(digits_500):
    X, y = digits_500
    rec = Recorder(stop_at=2)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0, callbacks=[rec],
                        **NO_STOP).fit(X, y)
    assert rec.reason == "callback" and clf.n_iter_ == 2 == len(clf.loss_curve_)

    rec = Recorder(raise_at=2)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0, callbacks=[rec],
                        **NO_STOP)
    with pytest.raises(RuntimeError, match="raised by the callback"):
        clf.fit(X, y)
    # the epochs trained are the model's: two, with their curves
    assert rec.reason == "error" and clf.n_iter_ == 2 == len(clf.loss_curve_)
    assert np.isfinite(clf.predict_proba(X)).all()


def test_ctrl_c_in_a_callback_ends_the_fit_as_interrupted(digits_500):
    X, y = digits_500
    rec = Recorder(raise_at=3, error=KeyboardInterrupt)
    with pytest.warns(UserWarning, match="interrupted"):
        clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0,
                            callbacks=[rec], **NO_STOP).fit(X, y)
    assert rec.reason == "interrupted" and clf.n_iter_ == 3


def test_divergence_ends_the_fit_with_its_reason():
    X, y = _diverging()
    rec = Recorder()
    reg = MLPRegressor(hidden_layer_sizes=(20,), solver="sgd", learning_rate_init=1.0,
                       max_iter=100, random_state=0, callbacks=[rec])
    with pytest.raises(ValueError, match="non-finite"):
        reg.fit(X, y)
    assert rec.reason == "diverged" and rec.epochs() == list(range(1, reg.n_iter_ + 1))
    rec = Recorder()
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg = MLPRegressor(hidden_layer_sizes=(20,), solver="sgd", learning_rate_init=0.3,
                           early_stopping=True, max_iter=100, random_state=0,
                           callbacks=[rec]).fit(X, y)
    # the diverged epoch is not reported to epoch hooks; the fit keeps the best weights
    assert rec.reason == "diverged" and rec.epochs() == list(range(1, reg.n_iter_))


def test_each_partial_fit_call_is_a_fit_of_one_epoch(digits_500):
    X, y = digits_500
    rec = Recorder()
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0, callbacks=[rec])
    for _ in range(3):
        clf.partial_fit(X, y, classes=np.arange(10))
    assert rec.events == [("begin", 1, True, "stochastic"), ("epoch", 1), ("end", "partial_fit")] * 3


def test_lbfgs_calls_the_callbacks_per_iteration_and_stops_on_request(digits_500):
    X, y = digits_500
    rec = Recorder()
    clf = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=7, random_state=0,
                        callbacks=[rec])
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    assert rec.events[0] == ("begin", 7, False, "lbfgs")
    assert rec.epochs() == list(range(1, 8)) and rec.reason == "max_iter"

    rec = Recorder(stop_at=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a requested stop is no failure
        stopped = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=50,
                                random_state=0, callbacks=[rec]).fit(X, y)
    assert rec.reason == "callback" and stopped.n_iter_ == 3
    with pytest.warns(ConvergenceWarning):
        three = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=3,
                              random_state=0).fit(X, y)
    np.testing.assert_array_equal(stopped._params, three._params)
    assert stopped.loss_ == three.loss_


def test_lbfgs_records_report_the_loss_of_each_iterate(digits_500):
    X, y = digits_500
    losses = []
    clf = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=200, random_state=0,
                        callbacks=[lambda r: losses.append(r.loss)]).fit(X, y)
    assert len(losses) == clf.n_iter_ and losses[-1] == pytest.approx(clf.loss_, rel=1e-12)
    assert losses[-1] < losses[0]


def test_every_on_fit_end_runs_even_when_one_raises(digits_500):
    X, y = digits_500

    class Broken(Recorder):
        def on_fit_end(self, info, reason):
            super().on_fit_end(info, reason)
            raise RuntimeError("end hook failed")

    broken, after = Broken(), Recorder()
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0,
                        callbacks=[broken, after], **NO_STOP)
    with pytest.raises(RuntimeError, match="end hook failed"):
        clf.fit(X, y)
    assert broken.reason == after.reason == "max_iter"


def test_a_callback_may_predict_with_the_model_being_trained(digits_500):
    X, y = digits_500
    scores = []
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, random_state=0, **NO_STOP,
                        callbacks=[lambda r: scores.append(r.estimator.score(X, y))]).fit(X, y)
    assert len(scores) == 4 and scores[-1] == clf.score(X, y)


def test_callbacks_that_are_neither_are_refused(digits_500):
    X, y = digits_500
    with pytest.raises(TypeError, match="callables or objects with on_fit_begin"):
        MLPClassifier(max_iter=1, callbacks=[42]).fit(X, y)
    sklearn_callback = pytest.importorskip("sklearn.callback")
    with pytest.raises(TypeError, match="set_callbacks"):
        MLPClassifier(max_iter=1, callbacks=[sklearn_callback.ScoringMonitor(scoring="accuracy")]).fit(X, y)


# ------------------------------------------------------------- ProgressBar
class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _early_stopped(digits_500, bar, **params):
    X, y = digits_500
    return MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, early_stopping=True,
                         n_iter_no_change=2, tol=10.0, random_state=0, callbacks=[bar],
                         **params).fit(X, y)


def test_progress_bar_writes_plain_lines_when_not_on_a_terminal(digits_500):
    out = io.StringIO()
    clf = _early_stopped(digits_500, ProgressBar(file=out, min_interval=0.0))
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and out.getvalue().endswith("\n")
    assert [line.split()[1] for line in lines[:-1]] == [
        f"{k}/300" for k in range(1, clf.n_iter_ + 1)]
    assert lines[-1] == (f"stopped after epoch {clf.n_iter_}: the validation score stopped "
                         "improving")


def test_progress_bar_on_a_terminal_finishes_its_line_when_stopped_early(digits_500):
    out = _Terminal()
    clf = _early_stopped(digits_500, ProgressBar(file=out, use_tqdm=False, min_interval=0.0))
    text = out.getvalue()
    assert text.startswith("\r") and text.endswith("stopped: the validation score stopped "
                                                   "improving\n")
    assert f"epoch {clf.n_iter_}/300" in text.rsplit("\r", 1)[-1]
    # the next fit's display starts afresh, on its own line
    out.truncate(0)
    out.seek(0)
    _early_stopped(digits_500, ProgressBar(file=out, use_tqdm=False, min_interval=0.0))
    assert out.getvalue().startswith("\r[") and "epoch 1/300" in out.getvalue()


def test_progress_bar_with_tqdm_ends_where_training_ended(digits_500):
    pytest.importorskip("tqdm")
    out = _Terminal()
    clf = _early_stopped(digits_500, ProgressBar(file=out, use_tqdm=True))
    last = out.getvalue().rstrip("\n").rsplit("\r", 1)[-1]
    assert f"{clf.n_iter_}/{clf.n_iter_}" in last and "stopped:" in last
    assert out.getvalue().endswith("\n")


def test_progress_bar_prints_a_line_per_partial_fit_call(digits_500):
    X, y = digits_500
    out = io.StringIO()
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0,
                        callbacks=[ProgressBar(file=out)])
    for _ in range(3):
        clf.partial_fit(X, y, classes=np.arange(10))
    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == [f"partial_fit call {k}" for k in (1, 2, 3)]
    assert all("loss" in line for line in lines) and "/200" not in out.getvalue()


def test_progress_bar_follows_lbfgs_iterations(digits_500):
    X, y = digits_500
    out = io.StringIO()
    with pytest.warns(ConvergenceWarning):
        MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=5, random_state=0,
                      callbacks=[ProgressBar(file=out, min_interval=0.0)]).fit(X, y)
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == [f"{k}/5" for k in range(1, 6)]
    assert "lr" not in out.getvalue()  # L-BFGS has no learning rate


# ---------------------------------------------------------------- pickling
def module_level_callback(record):
    return False


def test_a_model_with_an_unpicklable_callback_says_which_and_what_to_do(digits_500):
    X, y = digits_500
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=1,
                        callbacks=[module_level_callback, lambda r: False]).fit(X, y)
    with pytest.raises(pickle.PicklingError, match="lambda.*cannot be pickled.*module level"):
        pickle.dumps(clf)
    # copies and clones do not pickle: they keep working
    assert copy.deepcopy(clf).callbacks[1] is clf.callbacks[1]
    assert len(clone(clf).callbacks) == 2
    clf.set_params(callbacks=[module_level_callback])
    again = pickle.loads(pickle.dumps(clf))
    assert again.callbacks == [module_level_callback]
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


# ------------------------------------------------- scikit-learn's callbacks
try:
    import sklearn.callback as skcb
except ImportError:  # scikit-learn < 1.9: no callback API, nothing to test
    skcb = None

needs_sklearn_callbacks = pytest.mark.skipif(skcb is None, reason="scikit-learn < 1.9")


def _epoch_rows(monitor, name="epoch"):
    return [row for row in monitor.get_logs().data if row["task_name"] == name]


@needs_sklearn_callbacks
@pytest.mark.parametrize("params,step", [
    (dict(solver="adam"), "epoch"),
    (dict(solver="sgd", early_stopping=True, n_iter_no_change=100), "epoch"),
    (dict(solver="lbfgs"), "lbfgs-iter"),
])
def test_scoring_monitor_logs_what_a_fit_stopped_there_scores(digits_500, params, step):
    # scikit-learn's own test of its API: the score logged at step k is the
    # score of the same fit with max_iter=k (with early stopping: its best
    # weights so far; with lbfgs: the iterate, not the line search's points)
    X, y = digits_500
    kw = dict(hidden_layer_sizes=(8,), random_state=0, **params)
    monitor = skcb.ScoringMonitor(scoring="accuracy")
    MLPClassifier(max_iter=5, **kw).set_callbacks(monitor).fit(X, y)
    rows = _epoch_rows(monitor, step)
    assert [row["task_id"] for row in rows] == list(range(5))
    for k, row in enumerate(rows, start=1):
        stopped = MLPClassifier(max_iter=k, **kw).fit(X, y)
        assert row["accuracy"] == stopped.score(X, y)


class Vandal:
    """A scikit-learn callback that writes into, predicts with and trains the
    fitted estimator it is handed, and can ask to stop."""

    def __init__(self, X, y, stop_after=None):
        self.X, self.y, self.stop_after, self.seen = X, y, stop_after, 0

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, *, fitted_estimator=None):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name != "epoch":
            return False
        self.seen += 1
        fitted_estimator.coefs_[0][...] = 0.0  # in place, on the copy's buffer
        fitted_estimator.intercepts_ = [np.ones_like(b) for b in fitted_estimator.intercepts_]
        fitted_estimator.predict(self.X)  # takes the assigned arrays into its buffer
        fitted_estimator.partial_fit(self.X, self.y)
        return self.seen == self.stop_after


@needs_sklearn_callbacks
def test_the_fitted_estimator_callbacks_get_is_a_copy(digits_500):
    X, y = digits_500
    kw = dict(hidden_layer_sizes=(8,), solver="sgd", max_iter=4, random_state=0, **NO_STOP)
    plain = MLPClassifier(**kw).fit(X, y)
    vandal = Vandal(X, y)
    watched = MLPClassifier(**kw).set_callbacks(vandal).fit(X, y)
    assert vandal.seen == 4
    np.testing.assert_array_equal(watched._params, plain._params)
    np.testing.assert_array_equal(watched._optimizer.slots["velocity"],
                                  plain._optimizer.slots["velocity"])
    assert watched.loss_curve_ == plain.loss_curve_


@needs_sklearn_callbacks
def test_a_stop_request_from_a_scikit_learn_callback_ends_the_fit(digits_500):
    X, y = digits_500
    kw = dict(hidden_layer_sizes=(8,), random_state=0, **NO_STOP)
    stopped = MLPClassifier(max_iter=20, **kw).set_callbacks(Vandal(X, y, stop_after=3))
    stopped.fit(X, y)
    three = MLPClassifier(max_iter=3, **kw).fit(X, y)
    assert stopped.n_iter_ == 3
    np.testing.assert_array_equal(stopped._params, three._params)


@needs_sklearn_callbacks
def test_progress_bar_alone_and_propagated_from_search_and_pipeline(digits_500):
    pytest.importorskip("rich")
    import threading

    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def display_threads():  # non-daemon: left running, they would hang the interpreter's exit
        return [t for t in threading.enumerate() if not t.daemon]

    X, y = digits_500
    threads = display_threads()
    mlp = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    mlp.set_callbacks(skcb.ProgressBar()).fit(X, y)
    search = GridSearchCV(MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0),
                          {"alpha": [1e-4, 1e-2]}, cv=2)
    search.set_callbacks(skcb.ProgressBar()).fit(X, y)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(8,), max_iter=3,
                                                         random_state=0))
    pipe.set_callbacks(skcb.ProgressBar()).fit(X, y)
    assert search.best_estimator_.n_iter_ == 3 and pipe[-1].n_iter_ == 3
    assert display_threads() == threads  # every display thread joined
    assert not hasattr(mlp, "_callback_fit_ctx")


@needs_sklearn_callbacks
def test_scoring_monitor_on_the_estimator_inside_a_pipeline(digits_500):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = digits_500
    kw = dict(hidden_layer_sizes=(8,), random_state=0, **NO_STOP)
    monitor = skcb.ScoringMonitor(scoring="accuracy")
    make_pipeline(StandardScaler(), MLPClassifier(max_iter=3, **kw).set_callbacks(monitor)).fit(
        X, y)
    Xt = StandardScaler().fit_transform(X)  # what the pipeline's MLP is fitted on
    rows = _epoch_rows(monitor)
    assert [row["accuracy"] for row in rows] == [
        MLPClassifier(max_iter=k, **kw).fit(Xt, y).score(Xt, y) for k in (1, 2, 3)]


@needs_sklearn_callbacks
def test_without_scikit_learn_callbacks_no_task_is_made(digits_500, monkeypatch):
    X, y = digits_500
    made = []
    monkeypatch.setattr(MLPClassifier, "_init_callback_context",
                        lambda self, **kw: made.append(kw), raising=True)
    MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)
    assert made == []


@needs_sklearn_callbacks
def test_a_model_with_a_scoring_monitor_pickles(digits_500):
    X, y = digits_500
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    clf.set_callbacks(skcb.ScoringMonitor(scoring="accuracy")).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
