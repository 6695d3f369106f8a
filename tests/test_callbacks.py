"""Callbacks: gainprop's own (a lifecycle), ProgressBar, and scikit-learn's."""

import io
import sys

import pytest

from gainprop import MLPClassifier
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
