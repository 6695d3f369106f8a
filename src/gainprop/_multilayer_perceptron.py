"""MLPClassifier and MLPRegressor: scikit-learn's estimators on gainprop's core.

The parameters, defaults, validation, fitted attributes and behaviour are
those of scikit-learn 1.9's ``sklearn.neural_network`` estimators; the
training runs in C (one call per epoch, GIL released), and ``solver`` also
accepts any optimizer of :mod:`gainprop.optimizers`.

A fit is a transaction: everything that can fail before the first epoch
(validation, the network, memory, the solver's state) is prepared on a
staging copy of the estimator, whose attributes are then committed at once;
the training loop (gainprop._training) then updates the committed model
epoch by epoch.  A lock per estimator serialises fits and lets predictions
wait for a fit in progress (gainprop._runtime.ModelLock).
"""

import inspect
import math
import operator
import os
import pickle
import warnings
import weakref
from abc import ABC, abstractmethod
from numbers import Integral, Real

import numpy as np
from sklearn import get_config
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context, is_classifier
from sklearn.metrics import accuracy_score, check_scoring, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import (
    check_random_state,
    column_or_1d,
    compute_class_weight,
    compute_sample_weight,
)
from sklearn.utils._param_validation import (
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import (
    _check_sample_weight,
    _check_y,
    _num_samples,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)
from scipy.special import expit, log_expit, log_softmax

from . import _core, _runtime
from ._base import Estimator
from ._engine import (
    _C_LOSS,
    PREDICT_CHUNK_ROWS,
    TRAIN_CHUNK_ROWS,
    DropoutStream,
    Engine,
    Layout,
    Matrix,
    Predictor,
    c_array,
    check_sizes,
    check_sparse,
)
from ._labels import binarize, decode, fit_binarizer
from ._persistence import HIDDEN_ACTIVATIONS, STATE_VERSION, check_state
from ._training import (
    SKLEARN_TRANSIENT,
    Callbacks,
    CallbackSupportMixin,
    Progress,
    StochasticSetup,
    StochasticTrainer,
    ValidationSet,
    fit_lbfgs,
)
from .callbacks import FitInfo
from .optimizers import OPTIMIZERS, BaseOptimizer, UnusedParameterWarning, get_optimizer
from .schedules import BaseSchedule, _from_estimator

# Attributes that are views of the flat parameter buffer (rebuilt, never copied)
_BN_VIEWS = ("bn_gamma_", "bn_beta_", "bn_running_mean_", "bn_running_var_")
_VIEWS = ("coefs_", "intercepts_", "_views") + _BN_VIEWS
#: Attributes of the running process and of one fit, never pickled, committed
#: or copied.
_TRANSIENT = SKLEARN_TRANSIENT
#: The histories of a fit, copied into a fitted copy.
_HISTORIES = ("loss_curve_", "learning_rate_curve_", "validation_scores_",
              "validation_loss_curve_")
#: scikit-learn's callback API (set_callbacks), with scikit-learn >= 1.9.
_CALLBACK_BASES = (CallbackSupportMixin,) if CallbackSupportMixin is not None else ()
_ABSENT = object()
#: Parameters the stochastic training loop reads after its first step.
_LOOP_PARAMS = ("max_iter", "tol", "n_iter_no_change", "target_loss", "verbose",
                "learning_rate", "power_t")
#: The values of _LOOP_PARAMS each estimator's last partial_fit validated.
_LOOP_PARAMS_CHECKED = weakref.WeakKeyDictionary()


def _draw_into(out, draw, a, b):
    """out[...] = draw(a, b, out.shape), a block of rows at a time.  A
    RandomState draws its numbers one after another whatever the block sizes
    (tested), so the values are those of one call, without a float64
    temporary the size of the layer (fresh memory, slow to touch)."""
    rows = max(1, _DRAW_BLOCK // max(1, out.shape[1]))
    for r0 in range(0, out.shape[0], rows):
        block = out[r0 : r0 + rows]
        block[...] = draw(a, b, block.shape)


#: Random numbers drawn per block by _draw_into (512 KB of float64).
_DRAW_BLOCK = 1 << 16

#: The gain of init='kaiming_*' for each hidden activation, as
#: torch.nn.init.calculate_gain gives it: 1 for identity and logistic, 5/3 for
#: tanh, √2 for relu and √(2 / (1 + slope²)) for leaky_relu.  torch defines no
#: gain for elu, gelu, softplus and silu; they take relu's √2.
KAIMING_GAIN = {
    "identity": 1.0,
    "logistic": 1.0,
    "tanh": 5.0 / 3.0,
    "relu": np.sqrt(2.0),
    "leaky_relu": np.sqrt(2.0 / (1.0 + _core.LEAKY_RELU_SLOPE**2)),
    "elu": np.sqrt(2.0),
    "gelu": np.sqrt(2.0),
    "softplus": np.sqrt(2.0),
    "silu": np.sqrt(2.0),
}


def _are_views(current, views):
    """Is the attribute value current the list of the buffer's views itself?"""
    return type(current) is list and len(current) == len(views) and all(
        map(operator.is_, current, views))


def _all_finite(X):
    """Every value of the float array X finite?  One pass for the usual case
    (a finite sum); an overflowing sum of finite values is checked value by
    value."""
    return math.isfinite(X.sum()) or bool(np.isfinite(X).all())


#: Address space each kernel thread may need when it starts (its stack, a
#: malloc arena of glibc's, OpenBLAS's buffer): counted only against an
#: address-space limit (ulimit -v), where libgomp and OpenBLAS end the process
#: when they cannot get it (measured: a fit on 2 threads needed 60-80 MB more
#: than on 1).
_THREAD_ADDRESS_SPACE = 128 * 2**20


def _proc_status(field):
    """A field of /proc/self/status in bytes, or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _available_memory(n_threads=1):
    """(bytes, what) this process may still allocate: the least of the memory
    available on the machine, what its cgroup (v2 or v1) still allows, and
    what its address-space and data limits (ulimit -v, -d) leave, less
    _THREAD_ADDRESS_SPACE per kernel thread; (None, None) when none can be
    read."""
    limits = []
    try:
        with open("/proc/meminfo") as f:
            text = f.read()
        at = text.index("MemAvailable:")
        limits.append((int(text[at:].split(None, 2)[1]) * 1024, "available on this machine"))
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file) as f:
                value = f.read().strip()
            if value.isdigit() and int(value) < 2**62:  # the usage only under a real limit
                with open(usage_file) as f:
                    used = int(f.read().strip())
                limits.append((int(value) - used, "left under this process's cgroup memory limit"))
        except (OSError, ValueError):
            continue
        break
    try:
        import resource

        for name, used_field, what in (("RLIMIT_AS", "VmSize", "address space (ulimit -v)"),
                                       ("RLIMIT_DATA", "VmData", "data segment (ulimit -d)")):
            soft = resource.getrlimit(getattr(resource, name))[0]
            used = None if soft == resource.RLIM_INFINITY else _proc_status(used_field)
            if used is not None:
                limits.append((soft - used - n_threads * _THREAD_ADDRESS_SPACE,
                               f"left of this process's {what} for its data and {n_threads} "
                               "kernel thread(s)"))
    except (ImportError, ValueError, OSError, AttributeError):
        pass
    if not limits:
        try:
            return (os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
                    "of memory on this machine")
        except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
            return None, None
    avail, what = min(limits)
    return max(0, avail), what


#: Fits whose buffers are surely smaller than this are not checked (online
#: learning calls partial_fit per sample: reading the limits costs more than
#: such a fit), unless an address-space or data limit is set.
_SMALL_FIT = 16 * 2**20


def _address_space_limited():
    try:
        import resource

        return any(resource.getrlimit(getattr(resource, name))[0] != resource.RLIM_INFINITY
                   for name in ("RLIMIT_AS", "RLIMIT_DATA"))
    except (ImportError, ValueError, OSError, AttributeError):
        return False


def _check_memory(layout, need, n_threads, what):
    """Refuse, before allocating, a fit whose memory (`need` bytes: see
    _fit_memory) is more than the process may still allocate: on Linux an
    allocation that overcommits succeeds and the process is killed when the
    memory is first touched."""
    avail, where = _available_memory(n_threads)
    if avail is not None and need > avail:
        raise MemoryError(
            f"The network {list(layout.units)} has {layout.n_params:,} parameters; {what} needs "
            f"about {need / 2**30:,.2f} GiB, more than the {avail / 2**30:,.2f} GiB {where}. "
            "Use smaller hidden_layer_sizes or batch_size."
        )


def _nbytes(a):
    """Bytes of an array or sparse matrix (0 for anything else)."""
    if hasattr(a, "data") and hasattr(a, "indices") and hasattr(a, "indptr"):
        return a.data.nbytes + a.indices.nbytes + a.indptr.nbytes
    return getattr(a, "nbytes", 0)


def _split_sizes(n_samples, validation_fraction):
    """(training, validation) sizes of early stopping's split of n_samples
    (scikit-learn's train_test_split rounds the validation part up)."""
    n_val = min(n_samples, int(np.ceil(validation_fraction * n_samples)))
    return n_samples - n_val, n_val


def _lbfgs_chunk_rows(n_samples):
    """Rows per block of L-BFGS's full-batch loss and gradient."""
    return max(1, min(n_samples, TRAIN_CHUNK_ROWS))


class _CheckedCallbacks(list):
    """The callbacks parameter as pickled: a callback that cannot be pickled
    is named, with what to do, instead of pickle's bare error.  Deep copies
    (clone, copy.deepcopy) copy it as a list."""

    def __reduce__(self):
        for callback in self:
            try:
                pickle.dumps(callback)
            except Exception as exc:
                raise pickle.PicklingError(
                    f"The callback {callback!r} cannot be pickled ({exc}), so neither can the "
                    "model: callbacks are estimator parameters, and scikit-learn requires "
                    "parameters to be picklable. Use a function or a class defined at module "
                    "level instead of a lambda or a local function, or set callbacks=None "
                    "(set_params) before pickling.") from None
        return (list, (list(self),))

    def __deepcopy__(self, memo):
        import copy

        return [copy.deepcopy(c, memo) for c in self]


def _align_buffers(state):
    """Aligned copies of the unaligned arrays of a checked model state (the
    core refuses unaligned arrays; pickle's out-of-band buffers can come back
    at odd addresses)."""
    for name in ("_params", "_running", "_best_params", "_best_running"):
        if state.get(name) is not None:
            state[name] = c_array(state[name], state[name].dtype)
    optimizer = state.get("_optimizer")
    if optimizer is not None:
        for name, slot in optimizer.slots.items():
            optimizer.slots[name] = c_array(slot, slot.dtype)


class BaseMultilayerPerceptron(*_CALLBACK_BASES, Estimator, ABC):
    """Base class for MLP classification and regression.

    Warning: This class should not be used directly.  Use derived classes
    instead.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(HIDDEN_ACTIVATIONS))],
        "solver": [StrOptions({"lbfgs"} | set(OPTIMIZERS)), BaseOptimizer],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"}), BaseSchedule],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "n_threads": [None, Interval(Integral, 1, None, closed="left")],
        "callbacks": [None, list],
        "init": [StrOptions({"glorot_uniform", "kaiming_normal", "kaiming_uniform"}), tuple],
        "batch_norm": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
        "input_dropout": [Interval(Real, 0, 1, closed="left")],
        "target_loss": [None, Interval(Real, None, None, closed="neither")],
        "scoring": [None, str, callable],
    }

    @abstractmethod
    def __init__(
        self,
        hidden_layer_sizes,
        activation,
        solver,
        alpha,
        batch_size,
        learning_rate,
        learning_rate_init,
        power_t,
        max_iter,
        loss,
        shuffle,
        random_state,
        tol,
        verbose,
        warm_start,
        momentum,
        nesterovs_momentum,
        early_stopping,
        validation_fraction,
        beta_1,
        beta_2,
        epsilon,
        n_iter_no_change,
        max_fun,
        n_threads,
        callbacks,
        init,
        batch_norm,
        dropout,
        input_dropout,
        target_loss,
        scoring,
    ):
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.n_threads = n_threads
        self.callbacks = callbacks
        self.init = init
        self.batch_norm = batch_norm
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.target_loss = target_loss
        self.scoring = scoring

    # ------------------------------------------------------------------
    # The flat parameter buffer and its views
    # ------------------------------------------------------------------
    def _set_buffer(self, params, layout, running=None):
        """Make params the model's buffer (and running its batch-norm running
        statistics): coefs_, intercepts_ and the bn_* attributes become views."""
        self._params = params
        self._layout = layout
        self._running = running if layout.batch_norm else None
        views = {
            "coefs_": layout.coef_views(params),
            "intercepts_": layout.intercept_views(params),
        }
        if layout.batch_norm:
            gammas, betas = zip(*layout.bn_views(params))
            means, variances = zip(*layout.running_views(running))
            views.update(bn_gamma_=list(gammas), bn_beta_=list(betas),
                         bn_running_mean_=list(means), bn_running_var_=list(variances))
        else:
            for name in _BN_VIEWS:
                self.__dict__.pop(name, None)
        self._views = views
        for name, arrays in views.items():
            setattr(self, name, list(arrays))

    def _assigned_weights(self):
        """[(name, i, array)] for the arrays the user assigned to coefs_,
        intercepts_ or the bn_* attributes (validated; nothing written); an
        entry (name, None, None) when only the list itself was replaced.

        scikit-learn users set ``coefs_`` and ``intercepts_`` by hand (to
        start from known weights, say); the next warm-start fit or
        partial_fit continues from the assigned values.
        """
        pending = []
        attrs = self.__dict__
        for name, views in self._views.items():
            current = attrs.get(name)
            if _are_views(current, views):
                continue  # the views themselves (every prediction takes this path)
            if not isinstance(current, (list, tuple)) or len(current) != len(views):
                raise ValueError(
                    f"{name} must be a list of {len(views)} arrays, got {type(current).__name__}"
                    f" of length {len(current) if hasattr(current, '__len__') else '?'}."
                )
            for i, (arr, view) in enumerate(zip(current, views)):
                if arr is view:
                    continue
                arr = np.asarray(arr)
                if arr.shape != view.shape:
                    raise ValueError(f"{name}[{i}] has shape {arr.shape}, expected {view.shape}.")
                pending.append((name, i, arr))
            if not isinstance(current, list):
                pending.append((name, None, None))
        return pending

    def _views_untouched(self):
        """Are coefs_, intercepts_ and the bn_* attributes the buffer's views
        (nothing assigned)?  Validates nothing and raises nothing."""
        attrs = self.__dict__
        return all(_are_views(attrs.get(name), views) for name, views in self._views.items())

    def _write_assigned(self, pending):
        """Write what _assigned_weights found through the current views, and
        make the attributes views again."""
        for name, i, arr in pending:
            if i is not None:
                self._views[name][i][...] = arr
        if pending:
            self._set_buffer(self._params, self._layout, self._running)

    def _sync_params(self):
        """Take the arrays the user assigned into the buffers, in place."""
        self._write_assigned(self._assigned_weights())

    def _stage_copies(self, dtype, pending=None):
        """Will staging copy the buffers (assigned weights, another dtype, or
        read-only buffers)?"""
        params, running = self._params, self._running
        pending = self._assigned_weights() if pending is None else pending
        writable = params.flags.writeable and (running is None or running.flags.writeable)
        return bool(pending) or params.dtype != dtype or not writable

    def _stage_buffers(self, dtype):
        """On a staging copy: buffers in dtype holding the assigned weights,
        new arrays wherever something changes (the committed model's arrays
        are never written before the commit)."""
        params, running = self._params, self._running
        pending = self._assigned_weights()
        if self._stage_copies(dtype, pending):
            # copies, then the assigned arrays through the copies' views
            self._set_buffer(params.astype(dtype),
                             self._layout, None if running is None else running.astype(dtype))
            self._write_assigned(pending)
        best = getattr(self, "_best_params", None)
        if best is not None and (best.dtype != dtype or not best.flags.writeable):
            self._best_params = best.astype(dtype)
            if self._best_running is not None:
                self._best_running = self._best_running.astype(dtype)
        state = getattr(self, "_optimizer", None)
        if state is not None and (state.dtype != dtype or not state.writable()):
            self._optimizer = state.astype(dtype)

    # ------------------------------------------------------------------
    # Pickling, copies and the lock
    # ------------------------------------------------------------------
    def __getstate__(self):
        if hasattr(self, "_params"):
            with self._model_lock().reading():
                self._sync_params()
        state = dict(super().__getstate__())
        # The views are rebuilt from the buffer on load; the lock belongs to
        # this process.
        for key in _VIEWS + _TRANSIENT:
            state.pop(key, None)
        if isinstance(state.get("callbacks"), list):
            state["callbacks"] = _CheckedCallbacks(state["callbacks"])
        if "_params" in state:
            state["_gainprop_state_version"] = STATE_VERSION
        return state

    def __setstate__(self, state):
        if "_params" in state:
            check_state(state, is_classifier(self))  # before any C code can touch the buffers
            _align_buffers(state)
        super().__setstate__(state)
        if "_params" in state:
            self._set_buffer(self._params, self._layout, self._running)

    def __copy__(self):
        """A shallow copy without this process's lock and one fit's callback
        state (scikit-learn's callbacks copy a fitted estimator with it)."""
        new = object.__new__(type(self))
        new.__dict__.update((k, v) for k, v in self.__dict__.items() if k not in _TRANSIENT)
        return new

    def _fitted_attributes(self, params, running):
        """A callable giving the attributes that turn a copy of this model
        into the model with weights `params` (and `running`), sharing no
        memory with it (scikit-learn's reconstruction attributes: built only
        when a callback asks for the fitted estimator)."""
        def attributes():
            own = np.array(params, dtype=self._params.dtype)
            own_running = None if running is None else np.array(running)
            copy = self._staged()
            copy._set_buffer(own, self._layout, own_running)
            fitted = {k: copy.__dict__[k] for k in _VIEWS + ("_params", "_running")
                      if k in copy.__dict__}
            fitted.update(_optimizer=None, _schedule_state=None, _best_params=None,
                          _best_running=None, _skl_callbacks=[])
            stream = getattr(self, "_dropout_stream", None)
            if stream is not None:  # the copy's own, at this point of the stream
                fitted["_dropout_stream"] = DropoutStream(stream.key, stream.batch)
            fitted.update({k: list(getattr(self, k)) for k in _HISTORIES
                           if isinstance(getattr(self, k, None), list)})
            if isinstance(getattr(self, "rate_stats_", None), dict):
                fitted["rate_stats_"] = {k: list(v) for k, v in self.rate_stats_.items()}
            return fitted
        return attributes

    def _model_lock(self):
        """The estimator's lock (this process's, never pickled or copied)."""
        return _runtime.process_state(self).lock

    def _staged(self):
        """A staging copy (a shallow copy) on which a fit prepares the
        attributes it will commit."""
        return self.__copy__()

    def _commit(self, staged):
        """Take the staging copy's attributes; returns what undoes it."""
        undo = {}
        for key in set(self.__dict__) | set(staged.__dict__):
            old, new = self.__dict__.get(key, _ABSENT), staged.__dict__.get(key, _ABSENT)
            if old is not new and key not in _TRANSIENT:
                undo[key] = old
        self._restore_attributes({k: staged.__dict__.get(k, _ABSENT) for k in undo})
        return undo

    def _restore_attributes(self, values):
        for key, value in values.items():
            if value is _ABSENT:
                self.__dict__.pop(key, None)
            else:
                self.__dict__[key] = value

    # ------------------------------------------------------------------
    # Engines: C networks and their work buffers
    # ------------------------------------------------------------------
    def _engine(self, chunk_rows, n_features, dense_gather, training=False):
        """A C network for the current buffer with fresh work memory.  Made per
        call (allocation is cheap next to an epoch), so that concurrent calls
        never share work buffers and a fitted model holds no work memory.
        Dropout is part of training's network only (prediction keeps every
        unit)."""
        dropout = self._dropout_rates(len(self._layout.units) - 2) if training else None
        return Engine(self._layout, self.activation, self.out_activation_, self.loss, self.alpha,
                      _runtime.n_threads(self.n_threads), chunk_rows, self._params.dtype,
                      n_features, dense_gather, dropout=dropout,
                      input_dropout=self.input_dropout if training else 0.0)

    def _dropout_rates(self, n_hidden):
        """The dropout parameter as one rate per hidden layer, validated."""
        dropout = self.dropout
        if isinstance(dropout, Real) and not isinstance(dropout, bool):
            rates = [float(dropout)] * n_hidden
        else:
            rates = np.asarray(dropout, dtype=np.float64).ravel().tolist() if np.ndim(
                dropout) == 1 else None
            if rates is None or len(rates) != n_hidden:
                raise ValueError(f"dropout must be a float or hold one rate per hidden layer "
                                 f"({n_hidden}), got {dropout!r}.")
        if not all(0 <= p < 1 for p in rates):
            raise ValueError(f"dropout rates must be in [0, 1), got {dropout!r}.")
        return rates

    def _uses_dropout(self, n_hidden):
        return self.input_dropout > 0 or any(p > 0 for p in self._dropout_rates(n_hidden))

    # ------------------------------------------------------------------
    # Preparing a fit (on a staging copy)
    # ------------------------------------------------------------------
    def _prepare_fit(self, X, y, sample_weight, incremental, classes, validation_data=None):
        """Everything a fit does before its first epoch, on a staging copy:
        validation, labels, the network, the solver's state.  Returns what
        the training loop needs.  validation_data: fit's (X_val, y_val,
        sample_weight_val), or None."""
        hidden = self._hidden_layer_sizes()
        self._init_scheme()  # validate before anything changes
        Callbacks.check(self.callbacks)
        dropout = self._uses_dropout(len(hidden))
        if dropout and not self._is_stochastic():
            raise ValueError("dropout needs a stochastic solver (its masks are drawn per "
                             "mini-batch), not 'lbfgs'.")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        if incremental and is_classifier(self):
            self._partial_fit_labels(y, classes)
        check_sparse(X)
        X, y_checked, y = self._validate_input(X, y, incremental, reset=first_pass)
        check_sparse(X)  # as converted (from LIL, DOK, ...)
        if X.shape[0] < 1:
            raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
        sample_weight = self._fit_sample_weight(sample_weight, X, y_checked, incremental)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        units = [X.shape[1]] + hidden + [y.shape[1]]
        check_sizes(units, 1)
        if not first_pass:
            self._check_warm_start(units)
        self.n_outputs_ = y.shape[1]
        layout = Layout(units, self.batch_norm) if first_pass else self._layout
        # an upper bound of _fit_memory, cheap: parameter-sized buffers (L-BFGS's
        # float64 history the most), blocks of rows through every layer, data copies
        itemsize = np.dtype(X.dtype).itemsize
        bound = (layout.n_params * (16 * itemsize + 256)
                 + X.shape[0] * (5 * sum(layout.units) + 8) * itemsize * 2 + 4 * _nbytes(X))
        if bound > _SMALL_FIT or _address_space_limited():
            n_threads = _runtime.n_threads(self.n_threads)
            _check_memory(layout, self._fit_memory(X, y, sample_weight, layout, X.dtype,
                                                   first_pass, incremental, validation_data),
                          n_threads, "training it")
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, units, X.dtype)
        else:
            self._stage_buffers(X.dtype)
        self._stage_dropout_stream(dropout)
        if self._is_stochastic():
            return self._prepare_stochastic(X, y, sample_weight, incremental, validation_data)
        return self._prepare_lbfgs(X, y, sample_weight)

    def _fit_sample_weight(self, sample_weight, X, y, incremental):
        """The sample weights of a fit, in X's dtype (None: every sample 1)."""
        if sample_weight is None:
            return None
        sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        if not np.any(sample_weight):
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return sample_weight

    def _check_warm_start(self, units):
        if tuple(units) != self._layout.units:
            raise ValueError(
                f"The network has layers {list(self._layout.units)} but this call needs "
                f"{units}; refit with warm_start=False to change shapes."
            )
        if bool(self.batch_norm) != self._layout.batch_norm:
            raise ValueError("batch_norm cannot change between warm-started fits; refit "
                             "with warm_start=False.")
        if (self.loss, self.out_activation_) not in _C_LOSS:
            raise ValueError(f"loss={self.loss!r} does not go with the model's output activation "
                             f"{self.out_activation_!r}; refit with warm_start=False.")

    def _stage_dropout_stream(self, dropout):
        """The model's dropout stream; its key is drawn from random_state by
        the first fit that uses dropout, right after the initial weights of a
        new model, so that without dropout the random stream (and parity with
        scikit-learn) is unchanged.  A new object when it changes: the
        committed model's is never written before the commit."""
        stream = getattr(self, "_dropout_stream", None)
        if stream is None:  # a new model, or one fitted by lbfgs
            stream = DropoutStream()
        if dropout and stream.key is None:
            key = int(self._random_state.randint(0, 2**64, dtype=np.uint64))
            stream = DropoutStream(key, stream.batch)
        self._dropout_stream = stream

    def _partial_fit_labels(self, y, classes):
        """The classes of a classifier's partial_fit call (the first call
        needs them)."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = fit_binarizer(y) if type_of_target(y).startswith(
                "multilabel") else fit_binarizer(np.asarray(classes))

    def _initialize(self, y, layer_units, dtype):
        """A new network: shapes, output activation, initial weights."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        layout = Layout(layer_units, self.batch_norm)
        params = np.empty(layout.n_params, dtype=dtype)
        self._draw_weights(layout, params)
        running = None
        if layout.batch_norm:  # γ = 1, β = 0; running mean 0, variance 1 (as torch)
            running = np.empty(layout.n_running, dtype=dtype)
            for (gamma, beta), (mean, var) in zip(layout.bn_views(params),
                                                  layout.running_views(running)):
                gamma[...], beta[...], mean[...], var[...] = 1, 0, 0, 1
        self._set_buffer(params, layout, running)
        # the best weights so far: kept only with early stopping (made by the
        # first epoch that uses them), a copy the size of the network
        self._best_params = self._best_running = None
        self._optimizer = self._schedule_state = None
        self._dropout_stream = None  # a new one (see _stage_dropout_stream)
        if self._is_stochastic():
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.validation_loss_curve_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.validation_loss_curve_ = None
                self.best_validation_score_ = None

    def _out_activation(self):
        """The output activation of the loss and, for a classifier, of the
        labels of this fit."""
        if not is_classifier(self):
            return "exp" if self.loss == "poisson" else "identity"
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _draw_weights(self, layout, params):
        """Each layer's weights, then its biases, from random_state: with the
        default this is scikit-learn's Glorot-uniform, same calls, same order."""
        rs = self._random_state
        kind, a = self._init_scheme()
        units = layout.units
        gain = KAIMING_GAIN[self.activation]
        for i, (coef, intercept) in enumerate(zip(layout.coef_views(params),
                                                  layout.intercept_views(params))):
            fan_in, fan_out = units[i], units[i + 1]
            if kind == "glorot_uniform":
                factor = 2.0 if self.activation == "logistic" else 6.0
                bound = np.sqrt(factor / (fan_in + fan_out))
                _draw_into(coef, rs.uniform, -bound, bound)
                intercept[...] = rs.uniform(-bound, bound, fan_out)
            elif kind == "kaiming_normal":  # He et al. 2015: N(0, gain² / fan_in)
                _draw_into(coef, rs.normal, 0.0, gain / np.sqrt(fan_in))
                intercept[...] = 0.0
            elif kind == "kaiming_uniform":  # same variance, uniform
                bound = gain * np.sqrt(3.0 / fan_in)
                _draw_into(coef, rs.uniform, -bound, bound)
                intercept[...] = 0.0
            else:  # ("uniform", a): U(-a, a) for weights and biases
                _draw_into(coef, rs.uniform, -a, a)
                intercept[...] = rs.uniform(-a, a, fan_out)

    def _init_scheme(self):
        """(kind, a) from the init parameter, validated."""
        init = self.init
        if isinstance(init, str):
            return init, None
        if (len(init) == 2 and init[0] == "uniform" and isinstance(init[1], Real)
                and not isinstance(init[1], bool) and np.isfinite(init[1]) and init[1] > 0):
            return "uniform", float(init[1])
        raise ValueError(
            "init must be 'glorot_uniform', 'kaiming_normal', 'kaiming_uniform' or "
            f"('uniform', a) with a > 0; got {init!r}."
        )

    def _is_stochastic(self):
        return isinstance(self.solver, BaseOptimizer) or self.solver != "lbfgs"

    def _hidden_layer_sizes(self):
        hidden = self.hidden_layer_sizes
        if not hasattr(hidden, "__iter__"):
            hidden = [hidden]
        hidden = list(hidden)
        # scikit-learn fails with a TypeError (deep in numpy) on a size that is
        # not an integer; a float is never rounded here
        if not all(isinstance(h, Integral) and not isinstance(h, bool) for h in hidden):
            raise TypeError("hidden_layer_sizes must hold integers (numbers of units), got "
                            f"{self.hidden_layer_sizes!r}.")
        if np.any(np.array(hidden) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden}.")
        return [int(h) for h in hidden]

    def _prepare_lbfgs(self, X, y, sample_weight):
        if self.batch_norm:
            raise ValueError("batch_norm=True needs a stochastic solver (its running statistics "
                             "come from mini-batches), not 'lbfgs'.")
        if sample_weight is not None and not sample_weight.sum() > 0:
            raise ValueError("solver='lbfgs' needs sample weights with a positive sum (its loss "
                             "is their weighted mean).")
        dtype = self._params.dtype
        engine = self._engine(_lbfgs_chunk_rows(X.shape[0]), X.shape[1], False)
        Y = c_array(y, dtype)
        sw = None if sample_weight is None else c_array(sample_weight, dtype)
        return (Matrix(X, dtype), Y, sw, engine)

    def _prepare_stochastic(self, X, y, sample_weight, incremental, validation_data):
        """The optimizer and schedule states, the validation set, the batch
        size and the engine of a stochastic fit."""
        dtype = self._params.dtype
        rule = get_optimizer(self.solver, self)
        schedule = _from_estimator(self.learning_rate, self.power_t, self.solver)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        # partial_fit continues the states; settings changed since the last
        # call take effect now; another rule or schedule starts afresh
        rule._validate()
        fresh = self._fresh_optimizer(rule, incremental)
        if fresh:
            self._optimizer = None  # new state below
            self.learning_rate_curve_ = []
            if rule._rate_slot is not None:
                self.rate_stats_ = {"mean": [], "min": [], "max": []}
            else:
                self.__dict__.pop("rate_stats_", None)
        else:
            self._optimizer = self._optimizer.continued(rule)
            self._stage_histories()
        sstate = self._schedule_state
        if fresh or sstate is None or not sstate.matches(schedule):
            self._schedule_state = schedule._start(self.learning_rate_init)
        else:
            schedule._validate_params()
            self._schedule_state = sstate.continued(schedule)
        self._warn_unused_parameters(rule)
        if getattr(self, "loss_curve_", None) is None:
            # a warm start from lbfgs, which keeps no per-epoch history
            # (scikit-learn fails here)
            self.loss_curve_ = []
            self._no_improvement_count = 0
        X, y, sample_weight, validation = self._validation_split(X, y, sample_weight,
                                                                 validation_data)
        batch_size = self._batch_size(X.shape[0], rule, warn=True)
        if self.batch_norm and batch_size < 2:
            raise ValueError("batch_norm=True needs mini-batches of at least 2 samples, got "
                             f"batch_size={batch_size}.")
        Xm = Matrix(X, dtype)
        # dense rows are copied into a block when shuffled or masked by input dropout
        engine = self._engine(self._chunk_rows(batch_size), X.shape[1],
                              self._dense_gather(Xm.sparse), training=True)
        if self._optimizer is None:
            self._optimizer = rule._make_state(self._layout.n_params, dtype,
                                               self.learning_rate_init)
        Y = c_array(y, dtype)
        sw = None if sample_weight is None else c_array(sample_weight, dtype)
        self.n_iter_ = 0  # epochs of this call
        return StochasticSetup(X=Xm, Y=Y, sample_weight=sw, validation=validation, engine=engine,
                               batch_size=batch_size, schedule=schedule, incremental=incremental)

    def _stage_histories(self):
        """Copies of the per-epoch histories, which training appends to: a
        partial_fit that fails leaves the committed lists as they were."""
        for name in _HISTORIES:
            if isinstance(getattr(self, name, None), list):
                setattr(self, name, list(getattr(self, name)))
        if isinstance(getattr(self, "rate_stats_", None), dict):
            self.rate_stats_ = {k: list(v) for k, v in self.rate_stats_.items()}

    def _chunk_rows(self, batch_size):
        """Rows per block of a stochastic fit (batch statistics need each
        batch in one block)."""
        return batch_size if self.batch_norm else min(batch_size, TRAIN_CHUNK_ROWS)

    def _dense_gather(self, sparse):
        """Does a stochastic fit copy dense rows into a block (when shuffled,
        or masked by input dropout)?"""
        return not sparse and (self.shuffle or self.input_dropout > 0)

    def _fresh_optimizer(self, rule, incremental):
        """Does this call start a new optimizer state?"""
        state = getattr(self, "_optimizer", None)
        return not incremental or state is None or not state.matches(rule)

    def _fit_memory(self, X, y, sample_weight, layout, dtype, first_pass, incremental,
                    validation_data=None):
        """Bytes a fit allocates from now on (its data as validated is
        already counted by the memory in use): the parameter buffer when it is
        new or staged, the optimizer's slots when they are new, the gradient,
        work and scratch of the engine, the divergence snapshot (weights,
        running statistics and every slot), the best weights of early
        stopping, the training data's copies (validation split, the core's
        dtype and layout, targets, weights, row order), the engine and output
        of the validation predictions, and the finiteness check of the
        weights at the end."""
        itemsize = np.dtype(dtype).itemsize
        n_params, n_running = layout.n_params, layout.n_running
        model = n_params + n_running
        staged = first_pass or self._stage_copies(dtype)
        n, d, k = X.shape[0], X.shape[1], layout.units[-1]
        x_bytes = _nbytes(X)
        # the core's copy of X, unless it reads the validated array itself
        sparse = hasattr(X, "indptr")
        same = (not sparse and X.dtype == dtype and X.flags.c_contiguous)
        data = (0 if same else x_bytes * max(1, itemsize // X.dtype.itemsize)
                + (8 * (X.indices.size + X.indptr.size) if sparse else 0))
        data += n * (k * itemsize + (itemsize if sample_weight is not None else 0))
        need = (model if staged else 0) * itemsize + data + n_params  # + isfinite's bools
        if not self._is_stochastic():
            engine = Engine.nbytes(layout, self.activation, self._out_activation(),
                                   self.loss, _lbfgs_chunk_rows(n), dtype, d, False)
            # L-BFGS-B (scipy): the float64 iterate, its history of 10 pairs,
            # and a few more float64 vectors of scipy's and ours
            return need + engine + (2 * 10 + 12) * n_params * 8
        rule = get_optimizer(self.solver, self)
        n_slots = len(rule._slots())
        fresh = self._fresh_optimizer(rule, incremental)
        state = getattr(self, "_optimizer", None)
        slot_copies = fresh or state.dtype != dtype or not state.writable()
        n_train, n_val = n, 0
        if self.early_stopping and not incremental:
            if validation_data is None:
                n_train, n_val = _split_sizes(n, self.validation_fraction)
                need += x_bytes + n * k * itemsize  # the split's copies
            else:  # fit's own validation set, validated and converted
                X_val = validation_data[0]
                n_val = _num_samples(X_val)
                need += n_val * (d + 2 * k + 1) * itemsize + 2 * _nbytes(X_val)
            if first_pass or getattr(self, "_best_params", None) is None or staged:
                need += model * itemsize
            need += Engine.nbytes(layout, self.activation, self._out_activation(), self.loss,
                                  max(1, min(n_val, PREDICT_CHUNK_ROWS)), dtype, d, False)
            need += 3 * n_val * k * itemsize
        batch_size = self._batch_size(max(n_train, 1), rule)
        engine = Engine.nbytes(layout, self.activation, self._out_activation(), self.loss,
                               self._chunk_rows(batch_size), dtype, d,
                               self._dense_gather(sparse),
                               self._dropout_rates(len(layout.units) - 2), self.input_dropout)
        need += engine + 8 * n_train  # the row order
        need += (n_slots * n_params if slot_copies else 0) * itemsize  # the state
        need += (model + n_slots * n_params) * itemsize  # the snapshot
        return need

    def _warn_unused_parameters(self, rule):
        """One warning naming the parameters this fit does not use: with an
        optimizer object as solver, the estimator's rule and rate parameters
        the object does not take (it has no use for them, or sets its own),
        where they differ from their defaults; with a solver string that
        ignores the learning rate, a schedule object.
        (scikit-learn's string solvers ignore its other parameters silently,
        and so do the strings here.)"""
        if isinstance(self.solver, BaseOptimizer):
            defaults = {name: p.default for name, p in
                        inspect.signature(type(self).__init__).parameters.items()}
            unused = self.solver._unused_estimator_parameters(self, defaults)
        elif isinstance(self.learning_rate, BaseSchedule) and not rule.uses_learning_rate:
            unused = [("learning_rate", self.learning_rate,
                       f"{type(rule).__name__} does not use the learning rate")]
        else:
            return
        if unused:
            by_hint = {}
            for name, value, hint in unused:
                by_hint.setdefault(hint, []).append(f"{name}={value!r}")
            what = "; ".join(f"{', '.join(names)} ({hint})" for hint, names in by_hint.items())
            # stacklevel: the user's call of fit or partial_fit
            warnings.warn(f"{type(self).__name__}(solver={self.solver!r}) does not use {what}; "
                          f"{'it has' if len(unused) == 1 else 'they have'} no effect.",
                          UnusedParameterWarning, stacklevel=7)

    def _validation_split(self, X, y, sample_weight, validation_data):
        """(X, y, sample_weight) to train on and, with early stopping, the
        ValidationSet: fit's X_val, y_val and sample_weight_val when given,
        else scikit-learn's split of the training data (same draws).  The
        best weights start from the current ones when a new validation
        history starts."""
        if not self.early_stopping:
            if getattr(self, "best_loss_", None) is None:  # a warm start that turned it off
                self.best_loss_ = np.inf
            # the best weights belong to early stopping: not kept, not pickled
            self._best_params = self._best_running = None
            return X, y, sample_weight, None
        if validation_data is not None:
            X_val, y_val, Y_val, sw_val = self._check_validation_data(*validation_data, X.dtype)
        else:
            stratify = y if is_classifier(self) and self.n_outputs_ == 1 else None
            arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
            split = train_test_split(*arrays, random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X, X_val, y, Y_val = split[:4]
            sample_weight, sw_val = split[4:] if sample_weight is not None else (None, None)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            if sample_weight is not None and not np.any(sample_weight):
                raise ValueError("Every sample left for training after early stopping's "
                                 "validation split has weight 0.")
            y_val = self._decode_targets(Y_val)
        if getattr(self, "_best_params", None) is None:
            # a new fit, or a warm start that turned early stopping (back) on:
            # a new validation history from the current weights (scikit-learn
            # fails here: its validation_scores_ is None)
            self._best_params = self._params.copy()
            self._best_running = None if self._running is None else self._running.copy()
            self.validation_scores_ = []
            self.validation_loss_curve_ = []
            self.best_validation_score_ = -np.inf
        elif getattr(self, "validation_loss_curve_", None) is None:
            # a history recorded before gainprop kept validation losses
            self.validation_loss_curve_ = [np.nan] * len(self.validation_scores_)
        dtype = self._params.dtype
        matrix = Matrix(X_val, dtype)
        engine = self._engine(max(1, min(matrix.n_rows, PREDICT_CHUNK_ROWS)), matrix.n_cols, False)
        validation = ValidationSet(
            X=X_val, y=y_val, Y=c_array(Y_val, dtype), sample_weight=sw_val,
            matrix=matrix, engine=engine, scoring=self._validation_scoring())
        return X, y, sample_weight, validation

    def _check_validation_data(self, X_val, y_val, sample_weight_val, dtype):
        """fit's validation data, checked against the training data: (X_val
        in dtype, y_val as scorers see it, y_val encoded as the loss reads it,
        sample_weight_val in float64 (as scikit-learn's scorers see it) or
        None)."""
        check_sparse(X_val, "X_val")
        X_val = validate_data(self, X_val, reset=False, accept_sparse=["csr", "csc"],
                              dtype=dtype)
        check_sparse(X_val, "X_val")
        y_val = _check_y(y_val, multi_output=True, y_numeric=not is_classifier(self),
                         estimator=self)
        check_consistent_length(X_val, y_val)
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = column_or_1d(y_val, warn=True)
        Y_val = self._encode_targets(y_val)
        if Y_val.ndim == 1:
            Y_val = Y_val.reshape(-1, 1)
        if Y_val.shape[1] != self.n_outputs_:
            raise ValueError(f"y_val has {Y_val.shape[1]} outputs, the training targets "
                             f"{self.n_outputs_}.")
        if sample_weight_val is not None:
            sample_weight_val = _check_sample_weight(sample_weight_val, X_val,
                                                     dtype=np.float64)
            if not np.any(sample_weight_val):
                raise ValueError("sample_weight_val must contain at least one non-zero number.")
        return X_val, y_val, Y_val, sample_weight_val

    def _validation_scoring(self):
        """What scores the validation set: None (the estimator's accuracy or
        R²), 'loss', or a scorer callable (scikit-learn's check_scoring)."""
        if self.scoring is None or (isinstance(self.scoring, str) and self.scoring == "loss"):
            return self.scoring
        return check_scoring(self, scoring=self.scoring)

    def _with_outputs(self, X, applied, outputs):
        """A copy of this model whose predictions for X (this very object)
        come from `outputs`, the result of a forward pass already made (with
        the output activation applied or not, as `applied` says): a scorer
        given it computes the scores of these outputs, calling predict,
        predict_proba or score as usual."""
        model = self._staged()
        model._cached_outputs = (X, applied, outputs)
        return model

    def _predicts_from_activated_outputs(self):
        """Do the prediction methods read the network's outputs after the
        output activation (True), or its logits (False)?"""
        return True

    def _batch_size(self, n_samples, optimizer, warn=False):
        if self.batch_size == "auto":
            # sign-based per-weight rules need the full-batch gradient
            return n_samples if optimizer.full_batch else min(200, n_samples)
        if not warn:
            return int(np.clip(self.batch_size, 1, n_samples))
        if self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going to be "
                "clipped"
            )
        batch_size = int(np.clip(self.batch_size, 1, n_samples))
        if optimizer.full_batch and batch_size < min(n_samples, optimizer.min_batch_size):
            warnings.warn(
                f"{type(optimizer).__name__} adapts each weight's rate on the sign of its "
                f"gradient, which needs full batches or large mini-batches: with batch_size="
                f"{batch_size} the gradient's sign flips from sampling noise and the per-weight "
                "rates lose their meaning. Use batch_size='auto' (the full data set) or at least "
                f"{optimizer.min_batch_size} samples.",
                UserWarning,
            )
        return batch_size

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------
    def _fit(self, X, y, sample_weight=None, incremental=False, classes=None,
             validation_data=None):
        with self._model_lock().writing():
            if incremental and hasattr(self, "coefs_"):
                self._validate_loop_params()
            # a RandomState given as random_state is part of the estimator: a
            # call that fails before its first step leaves it as it was
            rng = self.random_state
            rng_state = rng.get_state() if isinstance(rng, np.random.RandomState) else None
            staged = self._staged()
            try:
                prepared = staged._prepare_fit(X, y, sample_weight, incremental, classes,
                                               validation_data)
            except BaseException:
                if rng_state is not None:
                    rng.set_state(rng_state)
                raise
            before = dict(self.__dict__)
            self._commit(staged)

            def undo():
                self._restore(before)
                if rng_state is not None:
                    rng.set_state(rng_state)

            metadata = None if sample_weight is None else {"sample_weight": sample_weight}
            self._train(prepared, incremental, undo, (X, y, metadata))
        return self

    def _validate_loop_params(self):
        """The parameters the training loop reads after its first step, for a
        partial_fit on a fitted model (scikit-learn's _fit_context then skips
        validating parameters, so that online learning does not pay for all
        of them every call): a bad one is refused before anything changes.
        Validated once per set of values."""
        values = tuple(getattr(self, name) for name in _LOOP_PARAMS)
        try:
            if _LOOP_PARAMS_CHECKED.get(self) == values:
                return
        except (TypeError, ValueError):  # values that do not compare
            pass
        validate_parameter_constraints(
            {name: self._parameter_constraints[name] for name in _LOOP_PARAMS},
            dict(zip(_LOOP_PARAMS, values)), caller_name=type(self).__name__)
        _LOOP_PARAMS_CHECKED[self] = values

    def _train(self, prepared, incremental, undo, user_data):
        """The committed model's training: epochs, or L-BFGS's iterations.

        undo() puts the model back as it was before the call (its
        attributes, and a RandomState given as random_state).  A call that
        fails before its first step (a callback's on_fit_begin, a schedule's
        rates, a check of the core) is undone, and so is a partial_fit that
        fails (diverges, or a callback raises): the epoch's snapshot puts the
        arrays back.  Any other call that fails keeps the model of the steps
        it took.  user_data: (X, y, metadata) as the user passed them, for
        callbacks."""
        stochastic = isinstance(prepared, StochasticSetup)
        info = FitInfo(estimator=self, max_epochs=1 if incremental else self.max_iter,
                       incremental=incremental, solver="stochastic" if stochastic else "lbfgs")
        progress = Progress()
        try:
            callbacks = Callbacks(self, self.callbacks, info, *user_data)
            with _runtime.blas_guard(_runtime.n_threads(self.n_threads)):
                if not stochastic:
                    fit_lbfgs(self, *prepared, callbacks, progress)
                else:
                    StochasticTrainer(self, prepared, callbacks, undo, progress).run()
        except BaseException:
            if not progress.stepped:
                undo()  # (again, after the trainer's: the same attributes)
            raise

    def _restore(self, before):
        """Make `before` (the attributes as they were, in their order, so that
        the model pickles to the same bytes) the attributes again, leaving
        scikit-learn's callback context of the call in progress alone; one
        store, so no thread sees a half-made model."""
        new = dict(before)
        new.update((k, v) for k, v in self.__dict__.items() if k in SKLEARN_TRANSIENT)
        self.__dict__ = new

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            The input data.  float32 input trains in float32, anything else
            in float64, with every solver: with float32 input, 'lbfgs' too
            evaluates the loss and gradient in float32 and keeps a float32
            model, where scikit-learn's 'lbfgs' makes its weights float64
            (L-BFGS-B's iterate) and returns a float64 model.  Pass
            ``X.astype(np.float64)`` for scikit-learn's behaviour (L-BFGS-B's
            line search then sees the loss to float64 precision, which can
            let it converge to a smaller ``tol``).
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers
            in regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights (for a classifier, multiplied by the weights of
            ``class_weight``).
        X_val : {array-like, sparse matrix} of shape (n_val, n_features), default=None
            Validation data for early stopping, used instead of holding out
            ``validation_fraction`` of X (as scikit-learn's
            ``HistGradientBoostingClassifier.fit`` takes it).  Needs
            ``early_stopping=True`` and a stochastic solver, and ``y_val``.
            In a :class:`~sklearn.pipeline.Pipeline`, with metadata routing
            enabled (``sklearn.set_config(enable_metadata_routing=True)`` and
            ``set_fit_request(X_val=True, y_val=True)``), ``X_val`` is
            transformed as X is with ``Pipeline(..., transform_input=["X_val"])``.
        y_val : array-like of shape (n_val,) or (n_val, n_outputs), default=None
            Targets of ``X_val`` (class labels seen in y, for a classifier).
        sample_weight_val : array-like of shape (n_val,), default=None
            Weights of the validation samples, used as given (``class_weight``
            does not apply to them, as in scikit-learn's
            ``HistGradientBoostingClassifier``; a split of X carries the
            weights of its samples, class weights included).

        Returns
        -------
        self : object
            Returns a trained MLP model.
        """
        validation_data = None
        if X_val is not None or y_val is not None:
            if y_val is None:
                raise ValueError("X_val is provided, but y_val was not provided.")
            if X_val is None:
                raise ValueError("y_val is provided, but X_val was not provided.")
            if not self.early_stopping:
                raise ValueError(
                    "X_val and y_val are passed to fit while at the same time early_stopping "
                    "is False. When passing X_val and y_val to fit, early_stopping should be "
                    "set to True.")
            if not self._is_stochastic():
                raise ValueError("X_val and y_val are the validation data of early stopping, "
                                 "which solver='lbfgs' does not do; use a stochastic solver.")
            validation_data = (X_val, y_val, sample_weight_val)
        elif sample_weight_val is not None:
            raise ValueError("sample_weight_val is provided without X_val and y_val.")
        return self._fit(X, y, sample_weight=sample_weight, incremental=False,
                         validation_data=validation_data)

    def _check_solver(self):
        if not self._is_stochastic():
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers. %s is not "
                "stochastic." % self.solver
            )
        return True

    # ------------------------------------------------------------------
    # Prediction
    # ------------------------------------------------------------------
    def _check_fitted(self):
        if "_params" not in self.__dict__:  # the fast test; scikit-learn's raises
            check_is_fitted(self)

    def _predict_input(self, X):
        """X checked as validate_data(reset=False) checks it.  A plain 2-D
        float32/float64 ndarray of the model's width with finite values
        (unless assume_finite) takes a fast path; anything else, and anything
        wrong, goes through validate_data, so errors, warnings (feature
        names) and conversions are scikit-learn's."""
        if (type(X) is np.ndarray and X.ndim == 2 and X.dtype.kind == "f"
                and X.dtype.itemsize in (4, 8) and X.shape[0] > 0
                and X.shape[1] == self.n_features_in_
                and "feature_names_in_" not in self.__dict__
                and (get_config()["assume_finite"] or _all_finite(X))):
            return X
        check_sparse(X)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        check_sparse(X)  # as converted (from LIL, DOK, ...)
        return X

    def _predictor(self):
        """The prediction network for the current model and settings (made
        once, kept until the model or a setting it depends on changes)."""
        key = (self._layout, self.activation, self.out_activation_,
               _runtime.n_threads(self.n_threads), _core.ilp64_gemm_addresses())
        process = _runtime.process_state(self)
        cached = process.predictor
        if cached is None or cached[0] != key:
            cached = process.predictor = (key, Predictor(
                self._layout, self.activation, self.out_activation_, key[3]))
        return cached[1]

    def _forward_pass_fast(self, X, check_input=True, apply_output=True):
        """Output of the network (or its logits) for X.  The caller holds the
        read lock (or is the fit).  A copy made by _with_outputs answers for
        its X from the outputs it holds."""
        cached = self.__dict__.get("_cached_outputs")
        if cached is not None and X is cached[0] and apply_output == cached[1]:
            return cached[2].copy()
        predictor = None
        if (check_input and type(X) is np.ndarray and "feature_names_in_" not in self.__dict__
                and self._views_untouched()):
            # a plain array: one call checks it as _predict_input would and
            # runs the pass, or declines (anything else) and changes nothing;
            # assigned weights (even invalid ones: X's errors come first) take
            # the general path, which checks X and then writes them
            predictor = self._predictor()
            with _runtime.blas_guard(predictor.n_threads):
                out = predictor.net.forward_rows(X, self._params, self._running, apply_output,
                                                 not get_config()["assume_finite"])
            if out is not None:
                return out
        if check_input:
            X = self._predict_input(X)
        self._sync_params()
        if predictor is None:  # (after a declined fast path the sync wrote nothing)
            predictor = self._predictor()
        with _runtime.blas_guard(predictor.n_threads):
            return predictor.forward(Matrix(X, self._params.dtype), self._params, self._running,
                                     apply_output)

    def _score_with_function(self, X, y, sample_weight, score_function):
        """Private score method without input validation."""
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class MLPClassifier(ClassifierMixin, BaseMultilayerPerceptron):
    """Multi-layer Perceptron classifier, trained by gainprop's compiled core.

    A drop-in replacement for :class:`sklearn.neural_network.MLPClassifier`:
    the same parameters, defaults, fitted attributes and behaviour, and with
    the same ``random_state`` the same initial weights.  This model optimizes
    the log-loss function using LBFGS or a stochastic optimizer.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element represents the number of neurons in the ith hidden
        layer.
    activation : {'identity', 'logistic', 'tanh', 'relu', 'leaky_relu', 'elu', \
'gelu', 'softplus', 'silu'}, default='relu'
        Activation function for the hidden layers.  Besides scikit-learn's
        four:

        - 'leaky_relu': ``z if z > 0 else 0.01 z`` (Maas, Hannun & Ng 2013;
          torch.nn.LeakyReLU's default slope);
        - 'elu': ``z if z > 0 else exp(z) - 1`` (Clevert, Unterthiner &
          Hochreiter 2016; alpha 1);
        - 'gelu': ``z Φ(z)``, Φ the standard normal distribution function
          (Hendrycks & Gimpel 2016; the exact form, as ``torch.nn.GELU()``,
          not the tanh approximation);
        - 'softplus': ``log(1 + exp(z))`` (Dugas et al. 2001), computed
          without overflow and without torch's switch to ``z`` above 20;
        - 'silu': ``z sigmoid(z)`` (Elfwing, Uchibe & Doya 2018; also
          called swish).
    solver : {'lbfgs', 'sgd', 'adam', 'localgain', 'rprop', 'rprop+', 'rprop-', 'irprop+', 'irprop-', 'adagrad', 'adadelta', 'rmsprop', 'adamax'} or BaseOptimizer, default='adam'
        The weight optimization solver.  'lbfgs', 'sgd' and 'adam' are
        scikit-learn's ('sgd' and 'adam' driven by ``momentum``,
        ``nesterovs_momentum``, ``beta_1``, ``beta_2``, ``epsilon``); the
        other names give gainprop's optimizers with their default settings
        (:data:`gainprop.optimizers.OPTIMIZERS`): 'localgain' is
        :class:`~gainprop.optimizers.LocalGain`, 'rprop' and 'irprop-' are
        iRprop−, 'rprop+', 'rprop-' and 'irprop+' the other
        :class:`~gainprop.optimizers.Rprop` variants, and 'adagrad',
        'adadelta', 'rmsprop' and 'adamax' the rules of those names.  An
        object from :mod:`gainprop.optimizers`
        (e.g. ``SGD(momentum=0.9)``) selects that rule with its own
        hyperparameters, and those it leaves at None take the estimator's
        parameter of the same meaning: ``SGD``'s ``momentum`` and
        ``nesterov`` the estimator's ``momentum`` and
        ``nesterovs_momentum``, ``Adam``'s ``beta_1``, ``beta_2`` and
        ``epsilon`` the estimator's (so ``SGD()`` trains as 'sgd' does; a
        value set on the object wins).  With an optimizer object, a
        parameter among ``momentum``, ``nesterovs_momentum``, ``beta_1``,
        ``beta_2``, ``epsilon`` that the object does not take (the rule has
        no use for it, or the object sets its own value), and, for rules
        that ignore the learning rate such as ``Rprop``,
        ``learning_rate_init``, ``learning_rate`` and ``power_t``, set away
        from its default, gives one
        :class:`~gainprop.optimizers.UnusedParameterWarning` per fit naming
        it; the string solvers ignore unused parameters silently, as
        scikit-learn's do.  'lbfgs' is scipy's L-BFGS-B on the full data (in
        float32 for float32 input, see :meth:`fit`).
    alpha : float, default=0.0001
        Strength of the L2 regularization term, divided by the sample size
        (the sum of sample weights) when added to the loss.
    batch_size : int, default='auto'
        Size of minibatches for stochastic optimizers.  When set to "auto",
        ``batch_size=min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'} or BaseSchedule, default='constant'
        Learning rate schedule for weight updates.  The strings behave as in
        scikit-learn (and, as there, the string solver 'adam' ignores them);
        a schedule object from :mod:`gainprop.schedules` (``StepDecay``,
        ``ReduceOnPlateau``, ``Cyclic``, ...) scales the rate η of any
        stochastic solver, per epoch or per mini-batch.
    learning_rate_init : float, default=0.001
        The initial learning rate η.
    power_t : float, default=0.5
        The exponent for inverse scaling learning rate.
    max_iter : int, default=200
        Maximum number of epochs (stochastic solvers) or iterations (lbfgs).
    shuffle : bool, default=True
        Whether to shuffle samples in each epoch.
    random_state : int, RandomState instance, default=None
        Determines weight and bias initialization, the train-validation split
        of early stopping, and batch sampling.
    tol : float, default=1e-4
        Tolerance for the optimization.
    verbose : bool, default=False
        Whether to print progress messages to stdout.
    warm_start : bool, default=False
        Reuse the solution of the previous call to fit as initialization.
    momentum : float, default=0.9
        Momentum for 'sgd' (and ``SGD(momentum=None)``), in [0, 1].
    nesterovs_momentum : bool, default=True
        Whether to use Nesterov's momentum with 'sgd' (and
        ``SGD(nesterov=None)``).
    early_stopping : bool, default=False
        Score the model on validation data after every epoch (the data fit
        gets as ``X_val`` and ``y_val``, else ``validation_fraction`` of the
        training data held out), stop when the score (``scoring``) has not
        improved by ``tol`` for ``n_iter_no_change`` epochs, and keep the
        weights of the best epoch.  Stochastic solvers only.
    validation_fraction : float, default=0.1
        Proportion of training data set aside for early stopping when fit
        gets no ``X_val``.
    beta_1 : float, default=0.9
        'adam' (and ``Adam(beta_1=None)``): decay of the first moment
        estimate, in [0, 1).
    beta_2 : float, default=0.999
        'adam' (and ``Adam(beta_2=None)``): decay of the second moment
        estimate, in [0, 1).
    epsilon : float, default=1e-8
        'adam' (and ``Adam(epsilon=None)``): value for numerical stability.
    n_iter_no_change : int, default=10
        Maximum number of epochs not meeting ``tol`` improvement.
    max_fun : int, default=15000
        'lbfgs': maximum number of loss function calls.
    n_threads : int, default=None
        Threads gainprop uses while this model trains or predicts (its OpenMP
        loops, which also run the blocks of every large matrix product on a
        single-threaded BLAS).  None uses every core available to the process
        (or ``OMP_NUM_THREADS`` when set).  Results do not depend on it.
    callbacks : list of Callback or callable, default=None
        Code run during a fit (:mod:`gainprop.callbacks`): objects with any
        of the hooks of :class:`~gainprop.callbacks.Callback`
        (``on_fit_begin``, ``on_epoch_end``, ``on_fit_end``), or plain
        callables called after every epoch (L-BFGS: iteration) with an
        :class:`~gainprop.callbacks.EpochRecord` (epoch, loss, validation
        score and loss, learning rate, elapsed time); returning True stops
        training.  :class:`~gainprop.callbacks.ProgressBar` shows progress.
    init : {'glorot_uniform', 'kaiming_normal', 'kaiming_uniform'} or ('uniform', a), default='glorot_uniform'
        Initial weights, drawn layer by layer (weights, then biases) from
        ``random_state``.  'glorot_uniform' is scikit-learn's (same draws);
        'kaiming_normal' is N(0, (gain / √fan_in)²) (He et al. 2015) and
        'kaiming_uniform' U(±gain √(3 / fan_in)), both with zero biases,
        where gain is the activation's gain as
        ``torch.nn.init.calculate_gain`` gives it: 1 for 'identity' and
        'logistic', 5/3 for 'tanh', √2 for 'relu', √(2 / (1 + 0.01²)) for
        'leaky_relu'.  torch defines no gain for 'elu', 'gelu', 'softplus'
        and 'silu'; they take √2, as the ReLU-like functions they are.
        ``('uniform', a)`` draws weights and biases from U(−a, a).
    batch_norm : bool, default=False
        Batch normalisation (Ioffe & Szegedy 2015) after each hidden
        affine map, before the activation: batch statistics in training,
        running statistics (momentum 0.1, ε = 1e-5, as torch) in prediction.
        The scales and shifts (``bn_gamma_``, ``bn_beta_``) live in the flat
        parameter buffer and are trained by the same optimizer step.
    dropout : float or array-like of shape (n_layers - 2,), default=0.0
        Dropout (Srivastava et al. 2014) on the outputs of the hidden layers:
        one rate for all, or one per hidden layer, each in [0, 1).  Inverted
        dropout: while training, each unit of each sample is dropped with
        probability p (set to 0) and kept ones are scaled by 1 / (1 − p), so
        ``predict`` uses every unit unchanged.  The masks come from a
        counter-based generator (Philox4x32-10, Salmon et al. 2011) keyed by a
        number drawn from ``random_state`` (only when dropout is used, after
        the initial weights, so that without dropout the draws are
        scikit-learn's) and counted by mini-batch across ``partial_fit``,
        warm starts and pickling: results do not depend on ``n_threads``.
        Needs a stochastic solver.  With ``batch_norm`` the mask follows the
        activation.
    input_dropout : float, default=0.0
        Dropout rate of the inputs, in [0, 1) (as ``dropout``; for sparse
        input, of the stored values).
    target_loss : float, default=None
        Stop a stochastic fit once the epoch's training loss falls below it
        (Ndauka & Zheng train until the loss is under 0.01).
    scoring : str, callable or None, default=None
        The validation score of early stopping (``validation_scores_``,
        higher is better): None is the estimator's ``score`` (accuracy;
        R² for the regressor), 'loss' the validation loss negated (the
        values of ``validation_loss_curve_`` with their sign changed), any
        other string a scikit-learn scorer name (``'neg_log_loss'``,
        ``'balanced_accuracy'``, ...) and a callable a scorer
        ``scorer(estimator, X, y)`` (:func:`sklearn.metrics.make_scorer`).
        Score and loss come from one forward pass over the validation data:
        scorers are handed a model whose predictions for it are those
        outputs, so they equal the scorer applied to the model of that
        epoch.
    class_weight : dict, list of dict or 'balanced', default=None
        Weights of the classes, multiplying ``sample_weight`` as in
        scikit-learn's other classifiers: ``{class_label: weight}`` (classes
        left out weigh 1), or 'balanced', ``n_samples / (n_classes *
        np.bincount(y))`` over the y of each fit.  For multi-label y, a list
        of one dict per output (keys 0 and 1), or 'balanced' per output,
        the weights of the outputs multiplied (as
        :class:`~sklearn.ensemble.RandomForestClassifier`).  With early
        stopping, the held-out ``validation_fraction`` keeps its samples'
        weights, class weights included; ``X_val`` has only
        ``sample_weight_val``.  ``partial_fit`` refuses 'balanced' (as
        :class:`~sklearn.linear_model.SGDClassifier`).

    Attributes
    ----------
    classes_ : ndarray or list of ndarray of shape (n_classes,)
        Class labels for each output.
    loss_ : float
        The current loss computed with the loss function.
    best_loss_ : float or None
        The minimum loss reached by the solver throughout fitting (None with
        early stopping).
    loss_curve_ : list of shape (`n_iter_`,)
        The loss at the end of each epoch (stochastic solvers).
    learning_rate_curve_ : list of shape (`n_iter_`,)
        The learning rate η used in each epoch (the mean over its mini-batches
        for per-iteration schedules); stochastic solvers only.
    rate_stats_ : dict of lists
        For optimizers with per-weight rates (``LocalGain``'s gains,
        ``Rprop``'s step sizes): ``{"mean": [...], "min": [...], "max": [...]}``
        over all weights at the end of each epoch, to see what the modifiers
        do.
    validation_scores_ : list of shape (`n_iter_`,) or None
        The validation score (``scoring``; by default the estimator's
        ``score``: accuracy, or R² for the regressor) at each epoch (early
        stopping only).
    validation_loss_curve_ : list of shape (`n_iter_`,) or None
        The loss on the validation set at each epoch, with early stopping
        (else None): the definition of ``loss_curve_`` applied to the
        validation set as one batch, the mean loss (weighted by
        ``sample_weight_val``) plus the L2 term ``alpha / 2 * ||W||² /
        (sum of the weights)``, so the two curves compare.  Continues with
        ``validation_scores_`` across warm starts.
    best_validation_score_ : float or None
        The best validation score (early stopping only).
    t_ : int
        The number of training samples seen by the solver during fitting.
    coefs_ : list of shape (n_layers - 1,)
        Weight matrices; views of the model's single flat parameter buffer.
    intercepts_ : list of shape (n_layers - 1,)
        Bias vectors; views of the same buffer.
    bn_gamma_, bn_beta_ : list of ndarray of shape (n_units,)
        With ``batch_norm=True``: each hidden layer's batch-norm scale and
        shift (views of the parameter buffer).
    bn_running_mean_, bn_running_var_ : list of ndarray of shape (n_units,)
        With ``batch_norm=True``: the running statistics used by predict.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit (only when X has string column
        names).
    n_iter_ : int
        The number of iterations the solver has run.
    n_layers_ : int
        Number of layers.
    n_outputs_ : int
        Number of outputs.
    out_activation_ : str
        Name of the output activation function.

    See Also
    --------
    MLPRegressor : Multi-layer Perceptron regressor.
    gainprop.optimizers : the optimizers ``solver`` accepts.

    Examples
    --------
    >>> from gainprop import MLPClassifier
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier(random_state=0, max_iter=50).fit(X / 16, y)
    >>> clf.score(X / 16, y) > 0.95
    True
    """

    _parameter_constraints: dict = {
        **BaseMultilayerPerceptron._parameter_constraints,
        "class_weight": [None, dict, list, StrOptions({"balanced"})],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        n_threads=None,
        callbacks=None,
        init="glorot_uniform",
        batch_norm=False,
        dropout=0.0,
        input_dropout=0.0,
        target_loss=None,
        scoring=None,
        class_weight=None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            loss="log_loss",
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            n_threads=n_threads,
            callbacks=callbacks,
            init=init,
            batch_norm=batch_norm,
            dropout=dropout,
            input_dropout=input_dropout,
            target_loss=target_loss,
            scoring=scoring,
        )
        self.class_weight = class_weight

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)

        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = fit_binarizer(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        return X, y, binarize(self._label_binarizer, y)

    def _encode_targets(self, y):
        """Targets as the loss reads them (a column per output), refusing
        labels the model has not seen."""
        if not self._label_binarizer.y_type_.startswith("multilabel"):
            unseen = np.setdiff1d(unique_labels(y), self.classes_)
            if len(unseen):
                raise ValueError(f"y_val has classes not in classes_ {self.classes_}: {unseen}.")
        return binarize(self._label_binarizer, y)

    def _decode_targets(self, Y):
        """Class labels from targets as the loss reads them."""
        return self._label_binarizer.inverse_transform(Y)

    def _fit_sample_weight(self, sample_weight, X, y, incremental):
        """sample_weight times the weight ``class_weight`` gives each sample's
        class (``compute_sample_weight``'s, multiplied in float64), in X's
        dtype."""
        if self.class_weight is not None:
            weights = self._class_sample_weight(y, incremental)
            if sample_weight is not None:
                weights = weights * _check_sample_weight(sample_weight, X, dtype=np.float64)
            sample_weight = weights
        return super()._fit_sample_weight(sample_weight, X, y, incremental)

    def _class_sample_weight(self, y, incremental):
        """The weight of each sample's class (float64), as scikit-learn's
        compute_sample_weight gives it: per output, multiplied over the
        outputs of multi-label targets."""
        class_weight = self.class_weight
        if isinstance(class_weight, str) and incremental:  # 'balanced'
            raise ValueError(
                "class_weight 'balanced' is not supported for partial_fit. In order to use "
                "'balanced' weights, use compute_class_weight('balanced', classes=classes, "
                "y=y) (or, for multi-label y, compute_sample_weight). In place of y you can use "
                "a large enough sample of the full training set target to properly estimate "
                "the class frequency distributions. Pass the resulting weights as the "
                "class_weight parameter.")
        if self._label_binarizer.y_type_.startswith("multilabel"):
            if isinstance(class_weight, dict):
                raise ValueError("For multi-label y, class_weight must be a list of dicts, one "
                                 "per output with the keys 0 and 1, or 'balanced'.")
            return compute_sample_weight(class_weight, y)
        if isinstance(class_weight, list):
            raise ValueError("class_weight is a list of dicts only for multi-label y (a dict "
                             "per output); for class labels give a dict or 'balanced'.")
        weights = compute_class_weight(class_weight, classes=self.classes_, y=y)
        return weights[np.searchsorted(self.classes_, y)]

    def predict(self, X):
        """Predict using the multi-layer perceptron classifier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray, shape (n_samples,) or (n_samples, n_classes)
            The predicted classes.
        """
        with self._model_lock().reading():
            self._check_fitted()  # under the lock: a first fit in progress is waited for
            return self._predict(X)

    def _predict(self, X, check_input=True):
        binary = self.n_outputs_ == 1
        out = self._forward_pass_fast(X, check_input=check_input, apply_output=not binary)
        if binary:  # the probability from the logit, as predict_proba has it
            expit(out, out=out)
        return decode(self._label_binarizer, out)

    def _predicts_from_activated_outputs(self):
        # binary: both probabilities come from the logit
        return self.n_outputs_ != 1

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight=sample_weight,
                                         score_function=accuracy_score)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with a single epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights (multiplied by the weights of a ``class_weight``
            dict; 'balanced' is refused here, since one call sees only part
            of the data: compute the weights with
            :func:`sklearn.utils.class_weight.compute_class_weight` and pass
            them as a dict).
        classes : array of shape (n_classes,), default=None
            Classes across all calls to partial_fit; required on the first
            call.

        Returns
        -------
        self : object
            Trained MLP model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True, classes=classes)

    def predict_log_proba(self, X):
        """Log of probability estimates.

        ``log(predict_proba(X))`` wherever the probability is a normal number
        (at least ``np.finfo(dtype).tiny``), so the two agree exactly there
        and have the same largest entry in every row; where the probability
        underflows, the log-softmax (or log-sigmoid) of the logits, which
        stays finite and below ``log(tiny)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            The predicted log-probability of each class, ordered as
            ``classes_``.
        """
        with self._model_lock().reading():
            self._check_fitted()  # under the lock: a first fit in progress is waited for
            binary = self.n_outputs_ == 1
            out = self._forward_pass_fast(X, apply_output=not binary)
            proba = self._proba_from_outputs(out)
            with np.errstate(divide="ignore"):
                log_proba = np.log(proba)
            underflow = proba < np.finfo(proba.dtype).tiny
            rows = np.flatnonzero(underflow.any(axis=1))
            if len(rows):
                # the logits of those rows (a second forward pass over them
                # alone, unless the pass gave logits)
                z = out[rows] if binary else self._forward_pass_fast(
                    self._predict_input(X)[rows], check_input=False, apply_output=False)
                exact = self._log_proba_from_logits(z)
                log_proba[rows] = np.where(underflow[rows], exact, log_proba[rows])
        return log_proba

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            The predicted probability of each class, ordered as ``classes_``.
            Probabilities that underflow are floored at the dtype's smallest
            normal number (``np.finfo(dtype).tiny``), never exactly 0.
        """
        with self._model_lock().reading():
            self._check_fitted()  # under the lock: a first fit in progress is waited for
            binary = self.n_outputs_ == 1
            proba = self._proba_from_outputs(self._forward_pass_fast(X, apply_output=not binary))
        # A probability that underflowed to 0 is floored at the smallest normal
        # number, so that log(predict_proba) stays finite like predict_log_proba.
        return np.maximum(proba, np.finfo(proba.dtype).tiny, out=proba)

    def _proba_from_outputs(self, out):
        """The probability of each class from the network's outputs (a binary
        model's: its logits), before the floor of predict_proba."""
        if self.n_outputs_ == 1:
            # binary: both columns from the logit (1 - p would round small
            # probabilities of the negative class to 0)
            z = out.ravel()
            return np.vstack([expit(-z), expit(z)]).T
        return out

    def _log_proba_from_logits(self, z):
        """The log-probabilities as a log-softmax or log-sigmoid of the logits
        (finite where the probabilities underflow)."""
        if self.out_activation_ == "softmax":
            return log_softmax(z, axis=1)
        if self.n_outputs_ == 1:
            z = z.ravel()
            return np.vstack([log_expit(-z), log_expit(z)]).T
        return log_expit(z)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, BaseMultilayerPerceptron):
    """Multi-layer Perceptron regressor, trained by gainprop's compiled core.

    A drop-in replacement for :class:`sklearn.neural_network.MLPRegressor`.
    This model optimizes the squared error (or the Poisson deviance) using
    LBFGS or a stochastic optimizer.

    Parameters
    ----------
    loss : {'squared_error', 'poisson'}, default='squared_error'
        The loss function: half squared error, or half Poisson deviance with
        an exponential output.  With several outputs, the squared error is
        reported averaged over the outputs (scikit-learn's convention) while
        the stochastic solvers step along the gradient of its sum over the
        outputs, exactly as scikit-learn does; 'lbfgs' minimises that same sum
        so its loss and gradient agree.
    {shared parameters}

    Attributes
    ----------
    {shared attributes}

    See Also
    --------
    MLPClassifier : Multi-layer Perceptron classifier.

    Notes
    -----
    With early stopping the validation score is by default the coefficient
    of determination R²; with ``scoring='loss'`` it is the negated
    validation loss (squared error averaged over the outputs, or Poisson
    deviance, plus the L2 term).

    Examples
    --------
    >>> from gainprop import MLPRegressor
    >>> from sklearn.datasets import make_regression
    >>> X, y = make_regression(n_samples=200, random_state=1)
    >>> reg = MLPRegressor(random_state=1, max_iter=2000, tol=0.1).fit(X, y)
    >>> reg.score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        **BaseMultilayerPerceptron._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        n_threads=None,
        callbacks=None,
        init="glorot_uniform",
        batch_norm=False,
        dropout=0.0,
        input_dropout=0.0,
        target_loss=None,
        scoring=None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            loss=loss,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            n_threads=n_threads,
            callbacks=callbacks,
            init=init,
            batch_norm=batch_norm,
            dropout=dropout,
            input_dropout=input_dropout,
            target_loss=target_loss,
            scoring=scoring,
        )

    def predict(self, X):
        """Predict using the multi-layer perceptron model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples, n_outputs)
            The predicted values.
        """
        with self._model_lock().reading():
            self._check_fitted()  # under the lock: a first fit in progress is waited for
            return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight=sample_weight,
                                         score_function=r2_score)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y, y

    def _encode_targets(self, y):
        """Targets as the loss reads them."""
        return y

    def _decode_targets(self, Y):
        """Targets as scorers see them (one column: a vector)."""
        return Y.ravel() if Y.shape[1] == 1 else Y

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with a single epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : ndarray of shape (n_samples,)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            Trained MLP model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)


def _docstring_entries(doc, section, exclude=()):
    """The entries of numpydoc ``section`` of a class docstring (4-space
    indented), less those whose names are in ``exclude``, as text."""
    lines = doc.split("\n")
    start = lines.index(f"    {section}") + 2
    end = next((i - 1 for i in range(start + 1, len(lines))
                if lines[i].startswith("    --") and lines[i].strip("- ") == ""), len(lines))
    entries, keep = [], True
    for line in lines[start:end]:
        if line.startswith("    ") and not line.startswith("     ") and " : " in line:
            names = {name.strip() for name in line.split(" : ")[0].split(",")}
            keep = not names & set(exclude)
        if keep:
            entries.append(line)
    return "\n".join(entries).strip("\n").removeprefix("    ")


# The regressor takes the classifier's parameters but class_weight, and has its
# attributes but classes_: one text, in the classifier's docstring, for both.
MLPRegressor.__doc__ = MLPRegressor.__doc__.replace(
    "{shared parameters}",
    _docstring_entries(MLPClassifier.__doc__, "Parameters", exclude={"class_weight"}),
).replace(
    "{shared attributes}",
    _docstring_entries(MLPClassifier.__doc__, "Attributes", exclude={"classes_"}),
)
