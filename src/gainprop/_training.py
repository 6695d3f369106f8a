"""The training loops: the stochastic solvers' epochs and L-BFGS's iterations.

`StochasticTrainer` runs the epochs of one fit or partial_fit call: the
divergence snapshot and its restore, early stopping with the best weights,
the curves and ``rate_stats_``, the schedule, the stopping rules and the
callbacks.  `fit_lbfgs` runs scipy's L-BFGS-B with the same callbacks.  Both
call callbacks through one dispatch point, `Callbacks`.  The estimator
prepares everything they need (validated data, engine, optimizer and
schedule states) and commits it before they start; they write the fitted
attributes epoch by epoch, so the model agrees with the epochs trained
however the loop ends.
"""

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.optimize
from scipy.special import expit, xlogy
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.optimize import _check_optimize_result

from . import _core
from ._engine import _C_LOSS
from .callbacks import EpochRecord
from .optimizers import _copy_into

try:  # scipy >= 1.15 deprecates L-BFGS-B's iprint
    from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
except ImportError:  # pragma: no cover

    def _get_additional_lbfgs_options_dict(key, value):
        return {key: value}


NONFINITE_MESSAGE = (
    "Solver produced non-finite parameter weights. The input data may contain large "
    "values and need to be preprocessed."
)


class _Stop(Exception):
    """Ends the loop with a reason (see callbacks.STOP_REASONS), and the
    error the fit raises once the loop is closed, if any."""

    def __init__(self, reason, error=None):
        super().__init__(reason)
        self.reason = reason
        self.error = error


try:  # scikit-learn >= 1.9: its callback API (sklearn.callback)
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # older: no set_callbacks, nothing else changes
    CallbackSupportMixin = None

#: What scikit-learn's callback machinery keeps on an estimator for one fit
#: (never pickled, copied into a fitted copy, or rolled back).
SKLEARN_TRANSIENT = ("_callback_fit_ctx", "_skl_callbacks_to_teardown", "_parent_callback_ctx")


class _SklearnTasks:
    """scikit-learn's callbacks of one fit: a root task and one subtask per
    epoch (L-BFGS: per iteration).  The user's X, y and sample weights are
    what callbacks see (ScoringMonitor scores on them); a subtask's end hands
    them the model a fit stopped there would give (built only if asked)."""

    def __init__(self, est, info, X, y, metadata):
        self.est, self.X, self.y, self.metadata = est, X, y, metadata
        self.task = "partial_fit" if info.incremental else "fit"
        self.step_name = "lbfgs-iter" if info.solver == "lbfgs" else "epoch"
        self.max_steps = info.max_epochs
        self.root = self.step = None

    def _hook_args(self):
        return dict(estimator=self.est, X=self.X, y=self.y, metadata=self.metadata)

    def begin(self):
        self.root = self.est._init_callback_context(task_name=self.task,
                                                    max_subtasks=self.max_steps)
        self.root.call_on_fit_task_begin(**self._hook_args())

    def step_begin(self):
        self.step = self.root.subcontext(task_name=self.step_name)
        self.step.call_on_fit_task_begin(**self._hook_args())

    def step_end(self, fitted):
        step, self.step = self.step, None
        return bool(step.call_on_fit_task_end(**self._hook_args(),
                                              reconstruction_attributes=fitted))

    def finish(self, fitted):
        if self.step is not None:  # a step cut short (Ctrl-C, L-BFGS's line search)
            self.step_end(None)
        self.root.call_on_fit_task_end(**self._hook_args(), reconstruction_attributes=fitted)


def _hooks(cb):
    """{hook name: callable} of one own callback: an object's on_fit_begin,
    on_epoch_end and on_fit_end, or a plain callable as its epoch hook."""
    hooks = {name: getattr(cb, name) for name in ("on_fit_begin", "on_epoch_end", "on_fit_end")
             if hasattr(cb, name)}
    if not hooks:
        if not callable(cb):
            hint = (" (scikit-learn's callbacks go to set_callbacks)"
                    if hasattr(cb, "on_fit_task_end") else "")
            raise TypeError(f"callbacks must be callables or objects with on_fit_begin, "
                            f"on_epoch_end or on_fit_end; got {cb!r}{hint}")
        hooks = {"on_epoch_end": cb}
    return hooks


class Callbacks:
    """The callbacks of one fit, called from one place: gainprop's own
    (``callbacks=``) and scikit-learn's (``set_callbacks``, scikit-learn 1.9
    and later).

    Each own callback is an object with any of ``on_fit_begin``,
    ``on_epoch_end`` and ``on_fit_end``, or a plain callable (an epoch-end
    callback).  ``end`` is called exactly once, whatever ended the fit, and
    calls every ``on_fit_end`` (one that raises does not keep the others from
    running).  scikit-learn's tasks end only when the fit does not fail, as
    scikit-learn's estimators do; its ``_fit_context`` tears its callbacks
    down in every case.
    """

    def __init__(self, est, callbacks, info, X=None, y=None, metadata=None):
        self.info = info
        self.own = [_hooks(cb) for cb in callbacks or ()]
        self.epoch_hooks = [h["on_epoch_end"] for h in self.own if "on_epoch_end" in h]
        self.sklearn = (_SklearnTasks(est, info, X, y, metadata)
                        if getattr(est, "_skl_callbacks", None) else None)
        self.start = time.perf_counter()
        self.begun = 0  # own callbacks whose on_fit_begin has returned
        self.ended = False

    @staticmethod
    def check(callbacks):
        """Raise TypeError for an element of `callbacks` that is neither
        (before anything of a fit is committed)."""
        for cb in callbacks or ():
            _hooks(cb)

    @property
    def per_step(self):
        """Does anything want to hear about every epoch or iteration?"""
        return bool(self.epoch_hooks) or self.sklearn is not None

    def begin(self):
        if self.sklearn is not None:
            self.sklearn.begin()
        for hooks in self.own:
            if "on_fit_begin" in hooks:
                hooks["on_fit_begin"](self.info)
            self.begun += 1

    def step_begin(self):
        if self.sklearn is not None:
            self.sklearn.step_begin()

    def step_end(self, record, fitted):
        """End an epoch (iteration): scikit-learn's step gets the model a fit
        stopped here would give (`fitted`, a callable), then every own epoch
        hook gets `record` (None: a step no own callback hears of); True when
        one asks to stop."""
        stop = self.sklearn.step_end(fitted) if self.sklearn is not None else False
        if record is not None:
            for hook in self.epoch_hooks:
                stop = bool(hook(record)) or stop
        return stop

    def end(self, reason, fitted=None):
        """The fit ended (`reason`: callbacks.STOP_REASONS) with the model
        `fitted` gives; None: the fit fails (raises).  on_fit_end goes to
        every callback whose on_fit_begin ran (or that has none)."""
        if self.ended:
            return
        self.ended = True
        error = None
        try:
            if self.sklearn is not None and fitted is not None:
                self.sklearn.finish(fitted)
        except Exception as exc:
            error = exc
        for i, hooks in enumerate(self.own):
            if "on_fit_end" not in hooks or (i >= self.begun and "on_fit_begin" in hooks):
                continue
            try:
                hooks["on_fit_end"](self.info, reason)
            except Exception as exc:  # the others still run
                error = error or exc
        if error is not None:
            raise error

    def record(self, epoch, loss, validation_score, learning_rate, validation_loss=None):
        return EpochRecord(epoch=epoch, loss=loss, validation_score=validation_score,
                           learning_rate=learning_rate, elapsed=time.perf_counter() - self.start,
                           max_iter=self.info.max_epochs, estimator=self.info.estimator,
                           validation_loss=validation_loss)


class Progress:
    """Has a call stepped the model yet?  Until its first step a failing call
    is rolled back (the estimator's _train)."""

    def __init__(self):
        self.stepped = False


@dataclass
class StochasticSetup:
    """What the estimator prepared for a stochastic fit."""

    X: object              # _engine.Matrix of the training rows
    Y: np.ndarray          # targets, compute dtype
    sample_weight: object  # compute dtype, or None
    validation: object     # a ValidationSet (early stopping), or None
    engine: object
    batch_size: int
    schedule: object       # a schedules.BaseSchedule
    incremental: bool


@dataclass
class ValidationSet:
    """The validation data of early stopping, as the monitor scores it."""

    X: object              # as scorers see it (the validated array or sparse matrix)
    y: object              # targets as scorers see them (class labels for a classifier)
    Y: np.ndarray          # targets as the loss reads them: compute dtype, a column per output
    sample_weight: object  # as scorers see it (fit's sample_weight_val in float64), or None
    matrix: object         # _engine.Matrix of X
    engine: object         # an _engine.Engine for forward passes over it
    scoring: object        # None (accuracy or R²), 'loss', or a scorer callable


def _mean_loss(est, outputs, Y, sample_weight, loss_scale):
    """The loss of the network's outputs (after the output activation) on
    the targets Y, as the core defines the loss of a batch: the mean of the
    per-sample losses (weighted), the probabilities clipped to [eps, 1 - eps]
    as scikit-learn does, plus the L2 term alpha / 2 * sum(W^2) / sum of the
    weights."""
    kind = _C_LOSS[(est.loss, est.out_activation_)]
    eps = np.finfo(outputs.dtype).eps
    if kind == "log":
        per_sample = -(Y * np.log(np.clip(outputs, eps, 1 - eps))).sum(axis=1)
    elif kind == "binary_log":
        p = np.clip(outputs, eps, 1 - eps)
        per_sample = -(Y * np.log(p) + (1 - Y) * np.log(1 - p)).sum(axis=1)
    elif kind == "poisson":  # half Poisson deviance
        per_sample = (xlogy(Y, Y / outputs) + outputs - Y).sum(axis=1)
    else:  # half squared error (summed over the outputs, reported scaled)
        per_sample = 0.5 * np.square(outputs - Y).sum(axis=1)
    per_sample = per_sample.astype(np.float64)
    if sample_weight is None:
        weight_sum, data = float(len(per_sample)), float(per_sample.sum())
    else:
        weight_sum = float(sample_weight.sum(dtype=np.float64))
        data = float(np.dot(sample_weight.astype(np.float64), per_sample))
    coef = est._params[:est._layout.n_coef].astype(np.float64)
    l2 = 0.5 * est.alpha * float(np.dot(coef, coef))
    return (loss_scale * data + l2) / weight_sum


class _Snapshot:
    """Weights, running statistics, optimizer state and dropout's batch
    counter from before an epoch, to go back to if the epoch diverges.  The
    same buffers serve every epoch of a fit (a copy per epoch of a large
    network's weights and state would otherwise be fresh memory every time)."""

    def __init__(self):
        self.params = self.running = self.state = self.schedule = None
        self.dropout_batch = None

    def save(self, params, running, state, schedule_state, dropout):
        self.params = _copy_into(self.params, params)
        if running is not None:
            self.running = _copy_into(self.running, running)
        self.state = state.save(into=self.state)
        self.schedule = schedule_state.save()
        self.dropout_batch = dropout.batch

    def restore(self, params, running, state, schedule_state, dropout):
        params[...] = self.params
        if running is not None:
            running[...] = self.running
        state.restore(self.state)
        schedule_state.restore(self.schedule)
        dropout.batch = self.dropout_batch


class _Monitor:
    """scikit-learn's stopping rule and, with early stopping, the
    validation score and loss and the best weights."""

    def __init__(self, est, validation):
        self.est = est
        self.validation = validation
        self.validation_loss = None  # of the last epoch

    def update(self):
        """After an epoch: the validation score and loss (early stopping) and
        the count of epochs without improvement; returns the score or None."""
        est = self.est
        if self.validation is None:
            loss = est.loss_curve_[-1]
            if loss > est.best_loss_ - est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if loss < est.best_loss_:
                est.best_loss_ = loss
            return None
        score, self.validation_loss = self._score()
        est.validation_scores_.append(score)
        est.validation_loss_curve_.append(self.validation_loss)
        if est.verbose:
            print("Validation score: %f" % score)
        # (a NaN score is no improvement)
        if not score >= est.best_validation_score_ + est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if score > est.best_validation_score_:
            est.best_validation_score_ = score
            est._best_params[...] = est._params
            if est._running is not None:
                est._best_running[...] = est._running
        return score

    def _score(self):
        """(score, loss) of the current weights on the validation set, both
        from one forward pass, which gives the outputs the prediction
        methods read: the loss from them, the score by the estimator's
        accuracy or R² (scoring=None), as -loss ('loss'), or by a scorer
        given a copy of the model whose predictions for the validation set
        come from these outputs.  NaN for both when an output is not
        finite."""
        est, v = self.est, self.validation
        # (the fit runs in the estimator's BLAS guard)
        applied = est._predicts_from_activated_outputs()
        out = v.engine.forward(v.matrix, est._params, est._running, apply_output=applied)
        if not np.isfinite(out).all():
            return np.nan, np.nan
        # (a binary classifier's outputs are its logits)
        loss = _mean_loss(est, out if applied else expit(out), v.Y, v.sample_weight,
                          v.engine.loss_scale)
        if isinstance(v.scoring, str):  # 'loss': higher is better
            return -loss, loss
        model = est._with_outputs(v.X, applied, out)
        if v.scoring is None:
            score = model._score(v.X, v.y, sample_weight=v.sample_weight)
        elif v.sample_weight is None:
            score = v.scoring(model, v.X, v.y)
        else:
            score = v.scoring(model, v.X, v.y, sample_weight=v.sample_weight)
        return float(score), loss

    def plateau_message(self):
        what = "Validation score" if self.validation is not None else "Training loss"
        return "%s did not improve more than tol=%f for %d consecutive epochs." % (
            what, self.est.tol, self.est.n_iter_no_change)

    def fitted(self):
        """The model a fit stopped now would give, as reconstruction
        attributes (built when asked): with early stopping, the best weights
        so far."""
        est = self.est
        if self.validation is None:
            return est._fitted_attributes(est._params, est._running)
        return est._fitted_attributes(est._best_params, est._best_running)

    def keep_best(self):
        """Early stopping ends with the best validation weights."""
        est = self.est
        if self.validation is not None:
            est._params[...] = est._best_params
            if est._running is not None:
                est._running[...] = est._best_running


class StochasticTrainer:
    """The epochs of one fit or partial_fit call of a stochastic solver.

    The estimator's state (buffers, optimizer and schedule states, curves)
    is committed before the trainer starts; the trainer updates it after
    every epoch.
    """

    def __init__(self, est, setup, callbacks, undo=None, progress=None):
        self.est = est
        self.s = setup
        self.callbacks = callbacks
        # what puts the model back when the call fails: a partial_fit, or any
        # call before its first step
        self.undo = undo
        self.progress = progress if progress is not None else Progress()
        self.monitor = _Monitor(est, setup.validation)
        self.snapshot = _Snapshot()
        self.n_samples = setup.X.n_rows
        self.n_batches = -(-self.n_samples // setup.batch_size)
        self.order = np.arange(self.n_samples, dtype=np.int64)
        self.reason = None

    def run(self):
        """Train; returns the reason the loop ended (callbacks.STOP_REASONS).
        A failing call raises its own error after the callbacks' end (an
        error of theirs is attached to it)."""
        est = self.est
        reason, error = "error", None
        try:
            self.callbacks.begin()
            try:
                for _ in range(est.max_iter):
                    self.callbacks.step_begin()
                    self._epoch()
                    self._after_epoch()
                reason = "max_iter"
                warnings.warn(
                    "Stochastic Optimizer: Maximum iterations (%d) reached and the "
                    "optimization hasn't converged yet." % est.max_iter, ConvergenceWarning)
            except _Stop as stop:
                reason, error = stop.reason, stop.error
            except KeyboardInterrupt:
                warnings.warn("Training interrupted by user.")
                reason = "interrupted"
            if error is None:
                self.monitor.keep_best()
                if not np.isfinite(est._params).all():
                    reason, error = "diverged", ValueError(NONFINITE_MESSAGE)
        except BaseException as exc:  # a callback's error, Ctrl-C in a hook, ...
            error = exc
            if isinstance(exc, KeyboardInterrupt):
                reason = "interrupted"
        if error is not None:
            self._roll_back()
        self.reason = reason
        try:
            _end(self.callbacks, reason, None if error is not None else
                 est._fitted_attributes(est._params, est._running), error)
        except BaseException:
            if error is None:  # an on_fit_end that raises fails the call too
                self._roll_back()
            raise
        return reason

    def _roll_back(self):
        """Undo a failing call when it is a partial_fit or has not stepped
        yet: the last epoch's snapshot, then the attributes."""
        est = self.est
        if self.undo is None or not (self.s.incremental or not self.progress.stepped):
            return
        if self.snapshot.params is not None:
            self.snapshot.restore(est._params, est._running, est._optimizer,
                                  est._schedule_state, est._dropout_stream)
        self.undo()

    def _epoch(self):
        """One epoch in C; a diverging epoch is undone (and ends the fit)."""
        est, s = self.est, self.s
        if est.shuffle:
            # sklearn.utils.shuffle(sample_idx, random_state=...) draws a
            # permutation with random_state.shuffle(arange(n)) and indexes by
            # it; the same swaps applied in place give the same order, without
            # its input checks (a short fit paid them every epoch)
            est._random_state.shuffle(self.order)
        state, sstate, stream = est._optimizer, est._schedule_state, est._dropout_stream
        self.snapshot.save(est._params, est._running, state, sstate, stream)
        rates = _checked_rates(s.schedule, s.schedule._rates(sstate, self.n_batches),
                               self.n_batches)
        if np.ndim(rates):
            batch_lrs, self.epoch_lr = rates, float(np.mean(rates))
        else:
            batch_lrs = None
            state.lr = self.epoch_lr = float(rates)
        params, running = est._params, est._running
        try:
            loss_sum, n_rows, status = s.engine.train_epoch(
                s.X, s.Y, s.sample_weight, self.order if est.shuffle else None, s.batch_size,
                batch_lrs, params, running, state, stream)
        except KeyboardInterrupt:
            self.progress.stepped = True  # the batches before it are kept
            raise
        if n_rows == 0 and status == _core.gp_status.GP_OK:
            raise ValueError(f"No mini-batch of epoch {est.n_iter_ + 1} has sample weights with a "
                             "non-zero sum: there is nothing to train on.")
        self.progress.stepped = True
        # one read of the weights: their sum is finite when they all are (a
        # float64 sum of huge float64 weights can overflow, so a non-finite
        # sum is checked weight by weight)
        if (status == _core.gp_status.GP_NONFINITE_LOSS
                or (not math.isfinite(np.add.reduce(params, dtype=np.float64))
                    and not np.isfinite(params).all())):
            self.snapshot.restore(params, running, state, sstate, stream)
            self._diverged()
        est.n_iter_ += 1
        # over the rows stepped on (a batch whose weights sum to 0 is skipped)
        est.loss_ = loss_sum / n_rows
        est.t_ += self.n_samples
        est.loss_curve_.append(est.loss_)
        est.learning_rate_curve_.append(self.epoch_lr)
        slot = est._optimizer.rule._rate_slot
        if slot is not None:
            rates = state.slots[slot]
            est.rate_stats_["mean"].append(float(rates.mean(dtype=np.float64)))
            est.rate_stats_["min"].append(float(rates.min()))
            est.rate_stats_["max"].append(float(rates.max()))
        if est.verbose:
            print("Iteration %d, loss = %.8f" % (est.n_iter_, est.loss_))

    def _diverged(self):
        est = self.est
        if self.s.validation is None:
            raise _Stop("diverged", ValueError(
                f"{NONFINITE_MESSAGE} Training diverged in epoch {est.n_iter_ + 1} (the loss or "
                "a weight became NaN or infinite); the model keeps the weights from before that "
                "epoch. Try a smaller learning_rate_init."))
        # as scikit-learn: the epoch scores NaN and the best weights are kept
        est.n_iter_ += 1
        est.t_ += self.n_samples
        est.loss_curve_.append(np.nan)
        est.learning_rate_curve_.append(self.epoch_lr)
        est.validation_scores_.append(np.nan)
        est.validation_loss_curve_.append(np.nan)
        warnings.warn(f"Training diverged in epoch {est.n_iter_}; stopping early and keeping "
                      "the best validation weights. Try a smaller learning_rate_init.",
                      ConvergenceWarning)
        # no own callback hears of this epoch (as before); scikit-learn's step
        # ends with the model the fit keeps
        self.callbacks.step_end(None, self.monitor.fitted())
        raise _Stop("diverged")

    def _after_epoch(self):
        """Validation, schedule, callbacks and the stopping rules, in
        scikit-learn's order."""
        est, s = self.est, self.s
        score = self.monitor.update()
        msg = s.schedule._end_epoch(est._schedule_state, self.n_batches, est.loss_, score, est.t_)
        if msg and est.verbose:
            print(msg)
        record = self.callbacks.record(est.n_iter_, est.loss_, score, self.epoch_lr,
                                       self.monitor.validation_loss)
        if self.callbacks.step_end(record, self.monitor.fitted()):
            if est.verbose:
                print("A callback asked to stop training.")
            raise _Stop("callback")
        if est.target_loss is not None and est.loss_ < est.target_loss:
            if est.verbose:
                print(f"Training loss fell below target_loss={est.target_loss}. Stopping.")
            raise _Stop("target_loss")
        if est._no_improvement_count > est.n_iter_no_change:
            stop, note = s.schedule._on_plateau(est._schedule_state)
            if note and est.verbose:
                print(self.monitor.plateau_message() + note)
            if stop:
                raise _Stop("early_stopping" if s.validation is not None else "converged")
            est._no_improvement_count = 0
        if s.incremental:
            raise _Stop("partial_fit")


def _checked_rates(schedule, rates, n_batches):
    """A schedule's rates for an epoch of n_batches mini-batches: one
    finite, non-negative float, or one per mini-batch (named batch_lrs, as
    the core calls them); else ValueError."""
    if np.ndim(rates):
        if np.shape(rates) != (n_batches,):
            raise ValueError(f"batch_lrs: the schedule {schedule!r} gave rates of shape "
                             f"{np.shape(rates)} for an epoch of {n_batches} mini-batches; a "
                             "per-iteration schedule gives one rate per mini-batch")
        ok = bool(np.isfinite(rates).all() and (rates >= 0).all())
    else:
        ok = math.isfinite(rates) and rates >= 0
    if not ok:
        raise ValueError(f"The schedule {schedule!r} gave a learning rate that is negative or "
                         "not finite")
    return rates


def _end(callbacks, reason, fitted, error):
    """End the callbacks, then raise the fit's error if it failed; an error
    of an end hook is raised when the fit did not fail, else attached to the
    fit's error."""
    try:
        callbacks.end(reason, fitted)
    except Exception as hook_error:
        if error is None:
            raise
        if hasattr(error, "add_note"):  # Python >= 3.11
            error.add_note(f"Also, a callback's on_fit_end raised: {hook_error!r}")
    if error is not None:
        raise error


def fit_lbfgs(est, X, Y, sample_weight, engine, callbacks, progress=None):
    """scipy's L-BFGS-B on the full data, the core computing loss and
    gradient; callbacks are called per iteration, and a stop request ends
    the minimisation.  Sets n_iter_ and loss_."""
    params = est._params
    reason = "error"
    last = {}  # the last evaluation: its point and its two loss terms

    def loss_grad(packed):
        if callbacks.per_step and not on_iteration.open:
            callbacks.step_begin()  # an iteration begins with its first evaluation
            on_iteration.open = True
        if progress is not None:
            progress.stepped = True
        params[...] = packed
        data_loss, l2 = engine.loss_grad(X, Y, sample_weight, params)
        last.update(x=packed, terms=(data_loss, l2))
        return data_loss + l2, engine.grad.astype(np.float64)

    def on_iteration(intermediate_result):
        x = intermediate_result.x
        if not np.array_equal(last.get("x"), x):
            loss_grad(x)
        data_loss, l2 = last["terms"]
        on_iteration.n += 1
        on_iteration.open = False
        record = callbacks.record(on_iteration.n, engine.loss_scale * data_loss + l2, None,
                                  np.nan)
        # the model is this iterate (not the buffer: the line search writes it)
        if callbacks.step_end(record, est._fitted_attributes(x, None)):
            raise StopIteration  # L-BFGS-B stops, with the iterate so far

    on_iteration.n, on_iteration.open = 0, False
    error = None
    try:
        callbacks.begin()
        iprint = 1 if (est.verbose is True or est.verbose >= 1) else -1
        opt_res = scipy.optimize.minimize(
            loss_grad, params.astype(np.float64), method="L-BFGS-B", jac=True,
            callback=on_iteration if callbacks.per_step else None,
            options={"maxfun": est.max_fun, "maxiter": est.max_iter, "gtol": est.tol,
                     **_get_additional_lbfgs_options_dict("iprint", iprint)})
        params[...] = opt_res.x
        if opt_res.status == 99:  # a callback's StopIteration
            est.n_iter_ = int(opt_res.nit)
            reason = "callback"
        else:
            est.n_iter_ = _check_optimize_result("lbfgs", opt_res, est.max_iter)
            reason = "converged" if opt_res.status == 0 else "max_iter"
        if not np.isfinite(params).all():
            reason, error = "diverged", ValueError(NONFINITE_MESSAGE)
        elif engine.loss_scale == 1.0:
            est.loss_ = float(opt_res.fun)
        else:  # report scikit-learn's convention (squared error averaged over outputs)
            data_loss, l2 = engine.loss_grad(X, Y, sample_weight, params)
            est.loss_ = engine.loss_scale * data_loss + l2
    except BaseException as exc:
        error = exc
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else "error"
    _end(callbacks, reason, None if error is not None else est._fitted_attributes(params, None),
         error)
