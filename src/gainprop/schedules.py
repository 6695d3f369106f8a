"""Learning-rate schedules (Goodfellow et al. 2016, ch. 8; Smith 2017; Brownlee 2019).

Pass a schedule object as ``learning_rate=`` to an estimator; scikit-learn's
strings ``'constant'``, ``'invscaling'`` and ``'adaptive'`` keep working
exactly as in scikit-learn.  A schedule scales the global rate η of whatever
optimizer trains the model, starting from ``learning_rate_init`` (η0).  Rules
that ignore η (Rprop) ignore the schedule too; the estimator warns.

A schedule object holds only its settings (``get_params``/``set_params``, so
``GridSearchCV`` can search ``learning_rate__gamma``); the position in the
schedule lives in the fitted estimator, survives ``partial_fit`` and
pickling, and restarts with a new ``fit``.

Epoch-wise schedules change η between epochs.  Per-iteration schedules
(:class:`Cyclic`, the warm-up of :class:`CosineAnnealing`) give every
mini-batch its own rate: Python computes the epoch's rates as one array and
the C epoch loop steps through it.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import Estimator

__all__ = [
    "BaseSchedule",
    "LinearDecay",
    "ExponentialDecay",
    "StepDecay",
    "ReduceOnPlateau",
    "Cyclic",
    "CosineAnnealing",
]


class _ScheduleState:
    """Where a schedule is: the schedule (a private copy of its settings),
    epochs and mini-batches done, the current rate and whatever the schedule
    tracks (plateau counters)."""

    def __init__(self, schedule, lr0):
        self.schedule = schedule
        self.lr0 = float(lr0)
        self.lr = float(lr0)
        self.epoch = 0  # epochs completed
        self.iteration = 0  # mini-batches completed

    def matches(self, schedule):
        """Can this state continue with `schedule`: the same schedule class,
        or a move between scikit-learn's strings (which share the rate)?"""
        same = type(self.schedule) is type(schedule)
        return same or (type(self.schedule) in _SKLEARN_SCHEDULES
                        and type(schedule) in _SKLEARN_SCHEDULES)

    def continued(self, schedule):
        """This state, continued with `schedule`'s settings (a new object;
        schedule must match)."""
        new = _ScheduleState.__new__(_ScheduleState)
        vars(new).update(vars(self))
        new.schedule = clone(schedule)
        return new

    def save(self):
        """What restore() needs to bring this state back (its fields are
        numbers and the schedule, which never changes)."""
        return dict(vars(self))

    def restore(self, saved):
        vars(self).update(saved)


class BaseSchedule(Estimator):
    """Base class of learning-rate schedules.

    Subclasses implement ``_epoch_rate(state, k)`` (the rate of epoch k for
    epoch-wise schedules) or ``_iteration_rates(state, iterations)`` (one
    rate per mini-batch for per-iteration schedules), and may override
    ``_end_epoch`` (schedules that watch the loss) and ``_on_plateau``
    (schedules that react to the stopping rule's plateau).
    """

    #: Does the rate change within an epoch?
    per_iteration = False
    _parameter_constraints: dict = {}

    def _start(self, lr0):
        self._validate_params()
        return _ScheduleState(clone(self), lr0)

    def _epoch_rate(self, state, k):
        raise NotImplementedError

    def _iteration_rates(self, state, iterations):
        raise NotImplementedError

    def _rates(self, state, n_batches):
        """Rates for the next epoch: a float, or one per mini-batch."""
        if self.per_iteration:
            its = state.iteration + np.arange(n_batches, dtype=np.float64)
            return np.ascontiguousarray(self._iteration_rates(state, its), dtype=np.float64)
        state.lr = float(self._epoch_rate(state, state.epoch))
        return state.lr

    def _end_epoch(self, state, n_batches, loss, validation_score, samples_seen):
        """Advance after an epoch (validation_score is None without early
        stopping; samples_seen is the estimator's ``t_``).  Returns a message
        when the rate changed in reaction to the monitored value (for
        verbose output)."""
        state.epoch += 1
        state.iteration += n_batches
        return None

    def _on_plateau(self, state):
        """The stopping rule found a plateau (``n_iter_no_change`` epochs
        without improving by ``tol``): returns (stop, note), note being what
        verbose output adds to the plateau message (None: nothing).  A
        schedule may answer it by changing the rate and training on."""
        return True, " Stopping."

    def rate_sequence(self, lr0, n_epochs, n_batches=1):
        """Give the rates of this schedule without training a model.

        One rate per epoch (epoch-wise schedules) or one per mini-batch
        (per-iteration ones), for n_epochs epochs of n_batches mini-batches,
        assuming no plateau.

        Parameters
        ----------
        lr0 : float
            The initial rate, ``learning_rate_init``.
        n_epochs : int
            Number of epochs.
        n_batches : int, default=1
            Mini-batches per epoch.

        Returns
        -------
        ndarray of shape (n_epochs,) or (n_epochs * n_batches,)
            The rates, in order: one per epoch, or one per mini-batch for
            per-iteration schedules.

        Examples
        --------
        >>> from gainprop.schedules import StepDecay
        >>> StepDecay(step_size=2, gamma=0.5).rate_sequence(0.1, n_epochs=5)
        array([0.1  , 0.1  , 0.05 , 0.05 , 0.025])
        """
        state = self._start(lr0)
        out = []
        for k in range(n_epochs):
            rates = self._rates(state, n_batches)
            out.append(np.broadcast_to(rates, (n_batches,)) if self.per_iteration
                       else np.array([rates]))
            self._end_epoch(state, n_batches, np.nan, None, (k + 1) * n_batches)
        return np.concatenate(out)


class _Constant(BaseSchedule):
    """``learning_rate='constant'`` (and any string with scikit-learn's
    ``solver='adam'``, which ignores them): η0 throughout."""

    def _epoch_rate(self, state, k):
        return state.lr


class _InvScaling(BaseSchedule):
    """``learning_rate='invscaling'``, as scikit-learn: after every epoch
    η = η0 / (t + 1)^power_t, t the samples seen so far."""

    _parameter_constraints = {"power_t": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, power_t=0.5):
        self.power_t = power_t

    def _epoch_rate(self, state, k):
        return state.lr

    def _end_epoch(self, state, n_batches, loss, validation_score, samples_seen):
        super()._end_epoch(state, n_batches, loss, validation_score, samples_seen)
        state.lr = state.lr0 / (samples_seen + 1) ** self.power_t
        return None


class _Adaptive(BaseSchedule):
    """``learning_rate='adaptive'``, as scikit-learn: η0 until the stopping
    rule finds a plateau, then η / 5 each time, stopping once η <= 1e-6."""

    def _epoch_rate(self, state, k):
        return state.lr

    def _on_plateau(self, state):
        if state.lr <= 1e-6:
            return True, " Learning rate too small. Stopping."
        state.lr /= 5.0
        return False, " Setting learning rate to %f" % state.lr


_SKLEARN_SCHEDULES = (_Constant, _InvScaling, _Adaptive)


def _from_estimator(learning_rate, power_t, solver):
    """The schedule an estimator's ``learning_rate`` means for its solver:
    a schedule object as it is; scikit-learn's strings as scikit-learn
    applies them (to every solver but its own 'adam', which ignores them)."""
    if isinstance(learning_rate, BaseSchedule):
        return learning_rate
    if isinstance(solver, str) and solver == "adam":
        return _Constant()
    if learning_rate == "invscaling":
        return _InvScaling(power_t=power_t)
    if learning_rate == "adaptive":
        return _Adaptive()
    return _Constant()


class LinearDecay(BaseSchedule):
    r"""Linear decay to a floor (Goodfellow et al. 2016, eq. 8.14).

    .. math::

        \eta_k = (1 - k/\tau)\, \eta_0 + (k/\tau)\, \eta_\tau \quad (k \le \tau),
        \qquad \eta_k = \eta_\tau \quad (k > \tau)

    with :math:`\eta_\tau` = ``final_ratio`` × η0 (about 1 %, as the book advises).

    Parameters
    ----------
    tau : int, default=100
        Epoch at which the rate reaches its floor.
    final_ratio : float, default=0.01
        :math:`\eta_\tau / \eta_0`.
    """

    _parameter_constraints = {
        "tau": [Interval(Integral, 1, None, closed="left")],
        "final_ratio": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, tau=100, final_ratio=0.01):
        self.tau = tau
        self.final_ratio = final_ratio

    def _epoch_rate(self, state, k):
        a = min(k, self.tau) / self.tau
        return (1 - a) * state.lr0 + a * self.final_ratio * state.lr0


class ExponentialDecay(BaseSchedule):
    r"""Exponential decay: :math:`\eta_k = \eta_0 \gamma^k` per epoch.

    Parameters
    ----------
    gamma : float, default=0.95
        Factor per epoch, in (0, 1].
    """

    _parameter_constraints = {"gamma": [Interval(Real, 0, 1, closed="right")]}

    def __init__(self, gamma=0.95):
        self.gamma = gamma

    def _epoch_rate(self, state, k):
        return state.lr0 * self.gamma**k


class StepDecay(BaseSchedule):
    r"""Step decay: :math:`\eta_k = \eta_0 \gamma^{\lfloor k / s \rfloor}`.

    Parameters
    ----------
    step_size : int, default=10
        Epochs between drops, s.
    gamma : float, default=0.5
        Factor at each drop, in (0, 1].
    """

    _parameter_constraints = {
        "step_size": [Interval(Integral, 1, None, closed="left")],
        "gamma": [Interval(Real, 0, 1, closed="right")],
    }

    def __init__(self, step_size=10, gamma=0.5):
        self.step_size = step_size
        self.gamma = gamma

    def _epoch_rate(self, state, k):
        return state.lr0 * self.gamma ** (k // self.step_size)


class ReduceOnPlateau(BaseSchedule):
    """Reduce the rate when the monitored quantity stops improving.

    After ``patience`` epochs without an improvement by more than
    ``threshold`` (relative), η ← max(η × ``factor``, ``min_lr``), then wait
    ``cooldown`` epochs before counting again (as ``torch.optim.lr_scheduler.
    ReduceLROnPlateau`` in 'rel' mode); as there, a reduction by no more
    than ``eps`` is skipped and the rate stays where it is.  The rate can
    also be raised when nothing improves for a long time: with
    ``raise_after=n``, after n epochs without improvement since the last
    change the rate is multiplied by ``raise_factor`` instead (never above η0).

    With this schedule, scikit-learn's stopping rule (``n_iter_no_change``
    epochs without improving by ``tol``) stops training only once the rate
    cannot go lower (it is at ``min_lr``, or above it by no more than
    ``eps``), like ``learning_rate='adaptive'``.

    Parameters
    ----------
    factor : float, default=0.5
        Multiplier at a plateau, in (0, 1) (Brownlee suggests 1/2 to 1/10).
    patience : int, default=10
        Epochs without improvement before reducing.
    threshold : float, default=1e-4
        Relative improvement that counts.
    cooldown : int, default=0
        Epochs to wait after a change before counting again.
    min_lr : float, default=1e-6
        Floor of the rate.
    monitor : {'auto', 'loss', 'validation_score'}, default='auto'
        The training loss, or the early-stopping validation score; 'auto'
        takes the validation score when ``early_stopping=True``.
    raise_after : int or None, default=None
        Epochs without improvement after which the rate is raised instead.
    raise_factor : float, default=2.0
        Multiplier when raising.
    eps : float, default=1e-8
        Smallest reduction applied (torch's ``eps``): when the rate would
        fall by ``eps`` or less, it is left unchanged (and, at a plateau of
        the stopping rule, training stops as at ``min_lr``).
    """

    _parameter_constraints = {
        "factor": [Interval(Real, 0, 1, closed="neither")],
        "patience": [Interval(Integral, 0, None, closed="left")],
        "threshold": [Interval(Real, 0, None, closed="left")],
        "cooldown": [Interval(Integral, 0, None, closed="left")],
        "min_lr": [Interval(Real, 0, None, closed="left")],
        "eps": [Interval(Real, 0, None, closed="left")],
        "monitor": [StrOptions({"auto", "loss", "validation_score"})],
        "raise_after": [None, Interval(Integral, 1, None, closed="left")],
        "raise_factor": [Interval(Real, 1, None, closed="neither")],
    }

    def __init__(self, factor=0.5, patience=10, threshold=1e-4, cooldown=0, min_lr=1e-6,
                 monitor="auto", raise_after=None, raise_factor=2.0, eps=1e-8):
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.monitor = monitor
        self.raise_after = raise_after
        self.raise_factor = raise_factor
        self.eps = eps

    def _start(self, lr0):
        state = super()._start(lr0)
        state.best = np.inf  # of the monitored value, as a loss (lower is better)
        state.num_bad_epochs = 0
        state.cooldown_counter = 0
        state.since_change = 0
        return state

    def _epoch_rate(self, state, k):
        return state.lr

    def _end_epoch(self, state, n_batches, loss, validation_score, samples_seen):
        super()._end_epoch(state, n_batches, loss, validation_score, samples_seen)
        use_val = self.monitor == "validation_score" or (
            self.monitor == "auto" and validation_score is not None)
        if use_val and validation_score is None:
            return None
        value = -validation_score if use_val else loss
        if not np.isfinite(value):
            return None
        # relative improvement, in the direction that is stricter for either sign
        margin = abs(state.best) * self.threshold if np.isfinite(state.best) else 0.0
        if value < state.best - margin:
            state.best = value
            state.num_bad_epochs = 0
            state.since_change = 0
        else:
            state.num_bad_epochs += 1
            state.since_change += 1
        if state.cooldown_counter > 0:
            state.cooldown_counter -= 1
            state.num_bad_epochs = 0
        if self.raise_after is not None and state.since_change >= self.raise_after:
            old = state.lr
            state.lr = min(state.lr * self.raise_factor, state.lr0)
            state.since_change = 0
            state.num_bad_epochs = 0
            if state.lr != old:
                return f"No improvement for {self.raise_after} epochs: learning rate raised to {state.lr:g}"
            return None
        if state.num_bad_epochs > self.patience:
            lower = self._reduced(state.lr)
            state.cooldown_counter = self.cooldown
            state.num_bad_epochs = 0
            if lower is not None:
                state.lr = lower
                return f"Plateau: learning rate reduced to {state.lr:g}"
        return None

    def _reduced(self, lr):
        """The rate after a reduction, or None when it would fall by no more
        than eps (torch then leaves it unchanged)."""
        lower = max(lr * self.factor, self.min_lr)
        return lower if lr - lower > self.eps else None

    def _on_plateau(self, state):
        # the rule stops training only once the rate cannot go lower
        if self._reduced(state.lr) is None:
            return True, " Stopping."
        return False, None


class Cyclic(BaseSchedule):
    r"""Cyclical learning rates (Smith 2017), per mini-batch.

    With i the mini-batch count and s = ``step_size``:
    :math:`c = \lfloor 1 + i / 2s \rfloor` (the cycle) and
    :math:`x = \lvert i/s - 2c + 1 \rvert`,

    .. math::

        \eta_i = \eta_{base} + (\eta_{max} - \eta_{base}) \max(0, 1 - x)\, \sigma(i)

    with σ = 1 ('triangular'), :math:`1/2^{c-1}` ('triangular2') or
    :math:`\gamma^i` ('exp_range').

    Parameters
    ----------
    max_lr : float or None, default=None
        Upper rate; None means 10 × ``learning_rate_init``.
    base_lr : float or None, default=None
        Lower rate; None means ``learning_rate_init``.
    step_size : int, default=2000
        Mini-batches in half a cycle (Smith advises 2–10 epochs' worth).
    mode : {'triangular', 'triangular2', 'exp_range'}, default='triangular'
    gamma : float, default=1.0
        Decay per mini-batch in 'exp_range' mode.
    """

    per_iteration = True
    _parameter_constraints = {
        "max_lr": [None, Interval(Real, 0, None, closed="neither")],
        "base_lr": [None, Interval(Real, 0, None, closed="left")],
        "step_size": [Interval(Integral, 1, None, closed="left")],
        "mode": [StrOptions({"triangular", "triangular2", "exp_range"})],
        "gamma": [Interval(Real, 0, 1, closed="right")],
    }

    def __init__(self, max_lr=None, base_lr=None, step_size=2000, mode="triangular", gamma=1.0):
        self.max_lr = max_lr
        self.base_lr = base_lr
        self.step_size = step_size
        self.mode = mode
        self.gamma = gamma

    def _iteration_rates(self, state, i):
        base = state.lr0 if self.base_lr is None else self.base_lr
        top = 10 * state.lr0 if self.max_lr is None else self.max_lr
        cycle = np.floor(1 + i / (2 * self.step_size))
        x = np.abs(i / self.step_size - 2 * cycle + 1)
        if self.mode == "triangular":
            scale = 1.0
        elif self.mode == "triangular2":
            scale = 1.0 / 2.0 ** (cycle - 1)
        else:
            scale = self.gamma**i
        rates = base + (top - base) * np.maximum(0.0, 1 - x) * scale
        state.lr = float(rates[-1]) if len(rates) else state.lr
        return rates


class CosineAnnealing(BaseSchedule):
    r"""Cosine annealing (Loshchilov & Hutter 2017), with warm restarts and warm-up.

    Over a period of T epochs from its start,
    :math:`\eta_k = \eta_{min} + \frac12(\eta_0 - \eta_{min})(1 + \cos(\pi k / T))`.
    With ``restarts=True`` the schedule restarts at η0 after each period and
    the period grows by ``T_mult`` (SGDR); otherwise it stays at
    :math:`\eta_{min}` after ``T_max`` epochs.  ``warmup`` mini-batches of
    linear warm-up from 0 come first (per mini-batch, inside the C loop).

    Parameters
    ----------
    T_max : int, default=50
        Epochs of the first period.
    eta_min : float, default=0.0
        Lowest rate.
    restarts : bool, default=False
        Warm restarts (SGDR).
    T_mult : int, default=1
        Growth of the period at each restart.
    warmup : int, default=0
        Mini-batches of linear warm-up.
    """

    _parameter_constraints = {
        "T_max": [Interval(Integral, 1, None, closed="left")],
        "eta_min": [Interval(Real, 0, None, closed="left")],
        "restarts": ["boolean"],
        "T_mult": [Interval(Integral, 1, None, closed="left")],
        "warmup": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, T_max=50, eta_min=0.0, restarts=False, T_mult=1, warmup=0):
        self.T_max = T_max
        self.eta_min = eta_min
        self.restarts = restarts
        self.T_mult = T_mult
        self.warmup = warmup

    @property
    def per_iteration(self):
        """Whether the rate changes within an epoch (during the warm-up)."""
        return self.warmup > 0

    def _epoch_rate(self, state, k):
        if not self.restarts:
            k, period = min(k, self.T_max), self.T_max
        else:
            period = self.T_max
            while k >= period:
                k -= period
                period *= self.T_mult
        return self.eta_min + 0.5 * (state.lr0 - self.eta_min) * (1 + np.cos(np.pi * k / period))

    def _iteration_rates(self, state, i):
        cosine = self._epoch_rate(state, state.epoch)
        warm = np.minimum(1.0, (i + 1) / self.warmup)
        rates = cosine * warm
        state.lr = float(rates[-1]) if len(rates) else state.lr
        return rates
