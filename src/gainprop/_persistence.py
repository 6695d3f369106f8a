"""Validation of an unpickled model's state, before any C code can touch it.

Everything the core will read is checked against the layout of the flat
parameter buffer: the buffers (lengths, dtypes, contiguity, finiteness), the
optimizer state (derived from its rule: its kind, variant, hyperparameters
and exactly the slots the rule keeps) and every attribute prediction relies
on (input width, outputs, classes, activations).  A tampered, truncated or
future-versioned state raises ValueError.  Pickle still runs code when it
loads: this guards the C core against a corrupted file, not against a
malicious one.
"""

import numpy as np

from . import _core
from ._engine import _C_LOSS, DropoutStream, Layout
from .optimizers import _OptimizerState
from .schedules import BaseSchedule, _ScheduleState

#: Version of the pickled training state; loading refuses other versions.
#: 3: dropout (its parameters and the model's dropout stream), five more
#: hidden activations.
STATE_VERSION = 3

#: Hidden activations an estimator may have (the core's).
HIDDEN_ACTIVATIONS = tuple(_core.HIDDEN_ACTIVATIONS)


def _fail(what):
    raise ValueError(f"Corrupted gainprop model: {what}.")


def _is_buffer(a, n, dtype, finite=True):
    return (isinstance(a, np.ndarray) and a.ndim == 1 and a.dtype == dtype
            and a.shape[0] == n and a.flags.c_contiguous
            and (not finite or bool(np.isfinite(a).all())))


def _is_real(x):
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _is_count(x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 0


def check_state(state, is_classifier):
    """Raise ValueError unless `state` (an estimator's __dict__ as pickled)
    is a consistent fitted gainprop model: whatever is malformed in it
    (missing, retyped, cut) is a ValueError, never another error later."""
    if not isinstance(state, dict):
        _fail("the state is not a dict")
    try:
        _check_state(state, is_classifier)
    except (AttributeError, TypeError, KeyError, IndexError, OverflowError) as exc:
        _fail(f"{type(exc).__name__}: {exc}")


def _check_state(state, is_classifier):
    version = state.get("_gainprop_state_version")
    if type(version) is not int or version != STATE_VERSION:  # not 3.0 or True
        raise ValueError(f"Cannot load a gainprop model with state version {version!r}; this "
                         f"gainprop reads version {STATE_VERSION}.")
    layout = _check_layout(state)
    params = state.get("_params")
    if not (isinstance(params, np.ndarray) and params.dtype in (np.float32, np.float64)
            and _is_buffer(params, layout.n_params, params.dtype, finite=False)):
        _fail(f"the parameter buffer must be a contiguous float32/float64 array of "
              f"{layout.n_params} values")
    if not np.isfinite(params).all():
        _fail("non-finite parameters")
    _check_running(state, layout, params.dtype)
    _check_shapes(state, layout, is_classifier)
    _check_training_state(state, layout, params.dtype)


def _check_layout(state):
    layout = state.get("_layout")
    if not isinstance(layout, Layout):
        _fail("no valid layout")
    units = layout.units
    if (not isinstance(units, tuple) or not 2 <= len(units) <= _core.MAX_LAYERS + 1
            or not all(isinstance(u, int) and 1 <= u <= np.iinfo(np.int32).max for u in units)
            or not isinstance(layout.batch_norm, bool)
            or Layout(units, layout.batch_norm).__dict__ != layout.__dict__):
        _fail(f"inconsistent layout {units!r}")
    return layout


def _check_running(state, layout, dtype):
    if "_running" not in state:
        _fail("no running statistics entry")
    running = state["_running"]
    if layout.batch_norm:
        if not _is_buffer(running, layout.n_running, dtype) or not (
                np.all(running[_variance_mask(layout)] >= 0)):
            _fail("bad batch-norm running statistics")
    elif running is not None:
        _fail("running statistics without batch norm")


def _variance_mask(layout):
    mask = np.zeros(layout.n_running, dtype=bool)
    base = layout.bn_offset[0] if layout.bn_offset else 0
    for offset, width in zip(layout.bn_offset, layout.units[1:-1]):
        mask[offset - base + width: offset - base + 2 * width] = True
    return mask


def _check_shapes(state, layout, is_classifier):
    """The attributes prediction reads agree with the layout."""
    units = layout.units
    if state.get("n_features_in_") != units[0] or type(state.get("n_features_in_")) is not int:
        _fail(f"n_features_in_ must be {units[0]}, the network's input width")
    names = state.get("feature_names_in_")
    if names is not None and (not isinstance(names, np.ndarray) or names.shape != (units[0],)):
        _fail("feature_names_in_ does not match the input width")
    if state.get("n_outputs_") != units[-1] or state.get("n_layers_") != len(units):
        _fail("n_outputs_ / n_layers_ do not match the layout")
    if state.get("activation") not in HIDDEN_ACTIVATIONS:
        _fail(f"unknown activation {state.get('activation')!r}")
    if (state.get("loss"), state.get("out_activation_")) not in _C_LOSS:
        _fail("the loss and the output activation do not go together")
    if is_classifier:
        _check_classes(state, units[-1])
    elif state.get("out_activation_") not in ("identity", "exp"):
        _fail("a regressor's output activation must be 'identity' or 'exp'")


def _check_classes(state, n_outputs):
    lb = state.get("_label_binarizer")
    classes = state.get("classes_")
    y_type = getattr(lb, "y_type_", None)
    n_classes = len(classes) if hasattr(classes, "__len__") else -1
    expected = {"binary": (1, 2), "multiclass": (n_outputs, n_outputs),
                "multilabel-indicator": (n_outputs, n_outputs)}.get(y_type)
    out = state.get("out_activation_")
    if (expected is None or (n_outputs, n_classes) != expected
            or not np.array_equal(np.asarray(getattr(lb, "classes_", None)), np.asarray(classes))
            or (out == "softmax") != (y_type == "multiclass")):
        _fail("classes_ do not match the network's outputs")


#: Counters and histories the training loop updates in place, and what each must be.
_COUNTERS = ("n_iter_", "t_", "_no_improvement_count")
_HISTORIES = ("loss_curve_", "learning_rate_curve_", "validation_scores_")


def _check_histories(state):
    """What a warm start or partial_fit will add to: counters, curves, scores
    (absent or None where a solver keeps none)."""
    for name in _COUNTERS:
        if name in state and not _is_count(state[name]):
            _fail(f"{name} must be a count")
    for name in _HISTORIES:
        value = state.get(name)
        if value is not None and not (isinstance(value, list)
                                      and all(_is_real(v) for v in value)):
            _fail(f"{name} must be a list of numbers")
    for name in ("best_loss_", "best_validation_score_", "loss_"):
        value = state.get(name)
        if value is not None and not _is_real(value):
            _fail(f"{name} must be a number")
    stats = state.get("rate_stats_")
    if stats is not None and not (isinstance(stats, dict) and set(stats) == {"mean", "min", "max"}
                                  and all(isinstance(v, list) for v in stats.values())):
        _fail("rate_stats_ must be a dict of three lists")


def _check_training_state(state, layout, dtype):
    _check_histories(state)
    optimizer = state.get("_optimizer")
    if optimizer is not None:
        if not isinstance(optimizer, _OptimizerState):
            _fail("bad optimizer state")
        try:
            optimizer.check(layout.n_params, dtype)
        except (ValueError, TypeError, AttributeError) as exc:
            _fail(f"optimizer state: {exc}")
    sstate = state.get("_schedule_state")
    if sstate is not None and (
            not isinstance(sstate, _ScheduleState)
            or not isinstance(getattr(sstate, "schedule", None), BaseSchedule)
            or not all(_is_real(getattr(sstate, name, None)) and np.isfinite(getattr(sstate, name))
                       for name in ("lr", "lr0"))
            or not all(_is_count(getattr(sstate, name, None)) for name in ("epoch", "iteration"))):
        _fail("bad schedule state")
    for name, n in (("_best_params", layout.n_params), ("_best_running", layout.n_running)):
        best = state.get(name)
        if best is not None and not _is_buffer(best, n, dtype):
            _fail(f"{name} does not match the parameter buffer")
    stream = state.get("_dropout_stream")
    if stream is not None:
        if type(stream) is not DropoutStream:
            _fail("bad dropout stream")
        try:
            stream.check()
        except (ValueError, AttributeError) as exc:
            _fail(str(exc))
