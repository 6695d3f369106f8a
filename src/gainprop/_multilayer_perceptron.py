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

import os
import pickle
import warnings
from abc import ABC, abstractmethod
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context, is_classifier
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from scipy.special import expit, log_expit, log_softmax

from . import _core, _runtime
from ._engine import (
    PREDICT_CHUNK_ROWS,
    TRAIN_CHUNK_ROWS,
    DropoutStream,
    Engine,
    Layout,
    Matrix,
    check_sizes,
)
from ._labels import binarize, fit_binarizer
from ._persistence import HIDDEN_ACTIVATIONS, STATE_VERSION, check_state
from ._training import (
    NONFINITE_MESSAGE,
    SKLEARN_TRANSIENT,
    Callbacks,
    CallbackSupportMixin,
    StochasticSetup,
    StochasticTrainer,
    fit_lbfgs,
)
from .callbacks import FitInfo
from .optimizers import OPTIMIZERS, BaseOptimizer, get_optimizer
from .schedules import BaseSchedule, _from_estimator

# Attributes that are views of the flat parameter buffer (rebuilt, never copied)
_BN_VIEWS = ("bn_gamma_", "bn_beta_", "bn_running_mean_", "bn_running_var_")
_VIEWS = ("coefs_", "intercepts_", "_views") + _BN_VIEWS
#: Attributes of the running process and of one fit, never pickled, committed
#: or copied.
_TRANSIENT = ("_gp_lock",) + SKLEARN_TRANSIENT
#: The histories of a fit, copied into a fitted copy.
_HISTORIES = ("loss_curve_", "learning_rate_curve_", "validation_scores_")
#: scikit-learn's callback API (set_callbacks), with scikit-learn >= 1.9.
_CALLBACK_BASES = (CallbackSupportMixin,) if CallbackSupportMixin is not None else ()
_ABSENT = object()


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


def _available_memory():
    """Bytes this process may still allocate: the smallest of the memory
    available on the machine, the cgroup's limit and the address-space
    limit that apply (None when none can be read)."""
    limits = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            value = f.read().strip()
        with open("/sys/fs/cgroup/memory.current") as f:
            used = int(f.read().strip())
        if value.isdigit():
            limits.append(int(value) - used)
    except (OSError, ValueError):
        pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    except (ImportError, ValueError, OSError):
        pass
    if not limits:
        try:
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
            return None
    return min(limits)


def _check_memory(layout, dtype, n_copies, work_elements, what):
    """Refuse, before allocating, a fit whose buffers cannot fit in memory:
    n_copies of the parameter buffer (parameters, gradient, optimizer slots,
    snapshot, best weights) and the work memory of its batches."""
    itemsize = np.dtype(dtype).itemsize
    need = (n_copies * layout.n_params + work_elements) * itemsize
    avail = _available_memory()
    if avail is not None and need > avail:
        raise MemoryError(
            f"The network {list(layout.units)} has {layout.n_params:,} parameters; {what} needs "
            f"about {need / 2**30:,.2f} GiB, more than the {avail / 2**30:,.2f} GiB available "
            "to this process. Use smaller hidden_layer_sizes or batch_size."
        )


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


class BaseMultilayerPerceptron(*_CALLBACK_BASES, BaseEstimator, ABC):
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

    # ------------------------------------------------------------------
    # The flat parameter buffer and its views
    # ------------------------------------------------------------------

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
        """[(view, array)] for the arrays the user assigned to coefs_,
        intercepts_ or the bn_* attributes (validated; nothing written).

        scikit-learn users set ``coefs_`` and ``intercepts_`` by hand (to
        start from known weights, say); the next warm-start fit or
        partial_fit continues from the assigned values.
        """
        pending = []
        for name, views in self._views.items():
            current = getattr(self, name, None)
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
                pending.append((view, arr))
            if not isinstance(current, list):
                pending.append((None, None))
        return pending

    def _sync_params(self):
        """Take the arrays the user assigned (see _assigned_weights) into the
        buffers, in place."""
        pending = self._assigned_weights()
        for view, arr in pending:
            if view is not None:
                view[...] = arr
        if pending:
            self._set_buffer(self._params, self._layout, self._running)

    def _stage_buffers(self, dtype):
        """On a staging copy: buffers in dtype holding the assigned weights,
        new arrays wherever something changes (the committed model's arrays
        are never written before the commit)."""
        params, running = self._params, self._running
        pending = self._assigned_weights()
        writable = params.flags.writeable and (running is None or running.flags.writeable)
        if pending or params.dtype != dtype or not writable:
            params = params.astype(dtype)  # a copy
            running = None if running is None else running.astype(dtype)
            old = self._layout
            for (view, arr) in pending:
                if view is not None:  # the same place in the new buffer
                    offset = (view.__array_interface__["data"][0]
                              - self._params.__array_interface__["data"][0])
                    start = offset // self._params.itemsize
                    params[start:start + view.size] = arr.reshape(-1)
            self._set_buffer(params, old, running)
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
            fitted = {k: copy.__dict__.get(k) for k in _VIEWS + ("_params", "_running")}
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
        """The estimator's lock (made on first use, never pickled or copied)."""
        lock = self.__dict__.get("_gp_lock")
        if lock is None:
            lock = _runtime.model_lock(self)
        return lock

    def _staged(self):
        """A staging copy: a new instance sharing this one's attributes, on
        which a fit prepares the attributes it will commit."""
        staged = object.__new__(type(self))
        staged.__dict__.update(self.__dict__)
        return staged

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
    def _prepare_fit(self, X, y, sample_weight, incremental, classes):
        """Everything a fit does before its first epoch, on a staging copy:
        validation, labels, the network, the solver's state.  Returns what
        the training loop needs."""
        hidden = self._hidden_layer_sizes()
        self._init_scheme()  # validate before anything changes
        dropout = self._uses_dropout(len(hidden))
        if dropout and not self._is_stochastic():
            raise ValueError("dropout needs a stochastic solver (its masks are drawn per "
                             "mini-batch), not 'lbfgs'.")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        if incremental and is_classifier(self):
            self._partial_fit_labels(y, classes)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if X.shape[0] < 1:
            raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
            if not np.any(sample_weight):
                raise ValueError("Sample weights must contain at least one non-zero number.")
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        units = [X.shape[1]] + hidden + [y.shape[1]]
        check_sizes(units, 1)
        if not first_pass:
            self._check_warm_start(units)
        self.n_outputs_ = y.shape[1]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, units, X.dtype)
        else:
            self._stage_buffers(X.dtype)
        self._stage_dropout_stream(dropout)
        if self._is_stochastic():
            return self._prepare_stochastic(X, y, sample_weight, incremental)
        return self._prepare_lbfgs(X, y, sample_weight)

    def _check_warm_start(self, units):
        if tuple(units) != self._layout.units:
            raise ValueError(
                f"The network has layers {list(self._layout.units)} but this call needs "
                f"{units}; refit with warm_start=False to change shapes."
            )
        if bool(self.batch_norm) != self._layout.batch_norm:
            raise ValueError("batch_norm cannot change between warm-started fits; refit "
                             "with warm_start=False.")

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
        if not is_classifier(self):
            self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"
        layout = Layout(layer_units, self.batch_norm)
        _check_memory(layout, dtype, 2, 0, "training it")
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
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

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
        if np.any(np.array(hidden) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden}.")
        return [int(h) for h in hidden]

    def _prepare_lbfgs(self, X, y, sample_weight):
        if self.batch_norm:
            raise ValueError("batch_norm=True needs a stochastic solver (its running statistics "
                             "come from mini-batches), not 'lbfgs'.")
        dtype = self._params.dtype
        chunk_rows = min(X.shape[0], TRAIN_CHUNK_ROWS)
        engine = self._engine(chunk_rows, X.shape[1], False, training=True)
        # parameters, gradient, L-BFGS-B's float64 iterate and its history
        _check_memory(self._layout, dtype, 2 + 2 * (1 + 2 * 10) * 8 // dtype.itemsize,
                      engine.work.size, "training it")
        Y = np.ascontiguousarray(y, dtype=dtype)
        sw = None if sample_weight is None else np.ascontiguousarray(sample_weight, dtype=dtype)
        return (Matrix(X, dtype), Y, sw, engine)

    def _prepare_stochastic(self, X, y, sample_weight, incremental):
        """The optimizer and schedule states, the validation split, the batch
        size and the engine of a stochastic fit."""
        dtype = self._params.dtype
        rule = get_optimizer(self.solver, self)
        schedule = _from_estimator(self.learning_rate, self.power_t, self.solver)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        fresh = not incremental or self._optimizer is None or not self._optimizer.matches(rule)
        if fresh:
            rule._validate()
            self._optimizer = None  # new state below, once the memory is checked
            self.learning_rate_curve_ = []
            if rule._rate_slot is not None:
                self.rate_stats_ = {"mean": [], "min": [], "max": []}
            else:
                self.__dict__.pop("rate_stats_", None)
        if fresh or self._schedule_state is None or not self._schedule_state.matches(schedule):
            self._schedule_state = schedule._start(self.learning_rate_init)
        if isinstance(self.learning_rate, BaseSchedule) and not rule.uses_learning_rate:
            warnings.warn(f"{type(rule).__name__} does not use the learning rate, so the schedule "
                          f"{schedule!r} has no effect.", UserWarning)
        if getattr(self, "loss_curve_", None) is None:
            # a warm start from lbfgs, which keeps no per-epoch history
            # (scikit-learn fails here)
            self.loss_curve_ = []
            self._no_improvement_count = 0
        X, y, sample_weight, validation = self._validation_split(X, y, sample_weight)
        batch_size = self._batch_size(X.shape[0], rule)
        if self.batch_norm and batch_size < 2:
            raise ValueError("batch_norm=True needs mini-batches of at least 2 samples, got "
                             f"batch_size={batch_size}.")
        Xm = Matrix(X, dtype)
        # batch statistics need each batch in one block
        chunk_rows = batch_size if self.batch_norm else min(batch_size, TRAIN_CHUNK_ROWS)
        # dense rows are copied into a block when shuffled or masked by input dropout
        engine = self._engine(chunk_rows, X.shape[1],
                              not Xm.sparse and (self.shuffle or self.input_dropout > 0),
                              training=True)
        copies = 3 + len(rule._slots()) * (1 if fresh and not incremental else 2) + (
            2 if validation is not None else 0)
        _check_memory(self._layout, dtype, copies, engine.work.size, "training it")
        if self._optimizer is None:
            self._optimizer = rule._make_state(self._layout.n_params, dtype,
                                               self.learning_rate_init)
        Y = np.ascontiguousarray(y, dtype=dtype)
        sw = None if sample_weight is None else np.ascontiguousarray(sample_weight, dtype=dtype)
        self.n_iter_ = 0  # epochs of this call
        return StochasticSetup(X=Xm, Y=Y, sample_weight=sw, validation=validation, engine=engine,
                               batch_size=batch_size, schedule=schedule, incremental=incremental)

    def _validation_split(self, X, y, sample_weight):
        """(X, y, sample_weight) to train on and the validation data, with
        early stopping (scikit-learn's split, same draws); the best weights
        start from the current ones when a new validation history starts."""
        if not self.early_stopping:
            if getattr(self, "best_loss_", None) is None:  # a warm start that turned it off
                self.best_loss_ = np.inf
            # the best weights belong to early stopping: not kept, not pickled
            self._best_params = self._best_running = None
            return X, y, sample_weight, None
        stratify = y if is_classifier(self) and self.n_outputs_ == 1 else None
        arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
        split = train_test_split(*arrays, random_state=self._random_state,
                                 test_size=self.validation_fraction, stratify=stratify)
        X_train, X_val, y_train, y_val = split[:4]
        sw_train, sw_val = split[4:] if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' or "
                             "the size of your dataset.")
        if is_classifier(self):
            y_val = self._label_binarizer.inverse_transform(y_val)
        if getattr(self, "_best_params", None) is None:
            # a new fit, or a warm start that turned early stopping (back) on:
            # a new validation history from the current weights (scikit-learn
            # fails here: its validation_scores_ is None)
            self._best_params = self._params.copy()
            self._best_running = None if self._running is None else self._running.copy()
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
        return X_train, y_train, sw_train, (X_val, y_val, sw_val)

    def _batch_size(self, n_samples, optimizer):
        if self.batch_size == "auto":
            # sign-based per-weight rules need the full-batch gradient
            return n_samples if optimizer.full_batch else min(200, n_samples)
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
    def _fit(self, X, y, sample_weight=None, incremental=False, classes=None):
        with self._model_lock().writing():
            staged = self._staged()
            prepared = staged._prepare_fit(X, y, sample_weight, incremental, classes)
            undo = self._commit(staged)
            metadata = None if sample_weight is None else {"sample_weight": sample_weight}
            self._train(prepared, incremental, undo, (X, y, metadata))
        return self

    def _train(self, prepared, incremental, undo, user_data):
        """The committed model's training: epochs, or L-BFGS's iterations.
        user_data: (X, y, metadata) as the user passed them, for callbacks."""
        stochastic = isinstance(prepared, StochasticSetup)
        info = FitInfo(estimator=self, max_epochs=1 if incremental else self.max_iter,
                       incremental=incremental, solver="stochastic" if stochastic else "lbfgs")
        callbacks = Callbacks(self, self.callbacks, info, *user_data)
        with _runtime.blas_guard(_runtime.n_threads(self.n_threads)):
            if not stochastic:
                fit_lbfgs(self, *prepared, callbacks)
            else:
                trainer = StochasticTrainer(self, prepared, callbacks)
                try:
                    trainer.run()
                except ValueError:
                    if incremental and trainer.reason == "diverged":
                        # the snapshot put the arrays back; the attributes too:
                        # a partial_fit that diverges leaves the model as it was
                        self._restore_attributes(undo)
                    raise
        if not np.isfinite(self._params).all():
            raise ValueError(NONFINITE_MESSAGE)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            The input data.  float32 input trains in float32, anything else
            in float64.
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers
            in regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            Returns a trained MLP model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

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
    def _forward_pass_fast(self, X, check_input=True, apply_output=True):
        """Output of the network (or its logits) for X."""
        with self._model_lock().reading():
            if check_input:
                X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
            self._sync_params()
            dtype = self._params.dtype
            Xm = Matrix(X, dtype)
            engine = self._engine(max(1, min(Xm.n_rows, PREDICT_CHUNK_ROWS)), Xm.n_cols, False)
            with _runtime.blas_guard(engine.n_threads):
                return engine.forward(Xm, self._params, self._running, apply_output)

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
    solver : {'lbfgs', 'sgd', 'adam'} or BaseOptimizer, default='adam'
        The weight optimization solver.  'sgd' and 'adam' are scikit-learn's
        (driven by ``momentum``, ``nesterovs_momentum``, ``beta_1``,
        ``beta_2``, ``epsilon``); an object from :mod:`gainprop.optimizers`
        (e.g. ``SGD(momentum=0.9)``) selects that rule with its own
        hyperparameters; 'lbfgs' is scipy's L-BFGS-B on the full data.
    alpha : float, default=0.0001
        Strength of the L2 regularization term, divided by the sample size
        (the sum of sample weights) when added to the loss.
    batch_size : int, default='auto'
        Size of minibatches for stochastic optimizers.  When set to "auto",
        ``batch_size=min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'} or BaseSchedule, \
            default='constant'
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
        Momentum for 'sgd', in [0, 1].
    nesterovs_momentum : bool, default=True
        Whether to use Nesterov's momentum with 'sgd'.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when the
        validation score stops improving.
    validation_fraction : float, default=0.1
        Proportion of training data set aside for early stopping.
    beta_1 : float, default=0.9
        'adam': decay of the first moment estimate, in [0, 1).
    beta_2 : float, default=0.999
        'adam': decay of the second moment estimate, in [0, 1).
    epsilon : float, default=1e-8
        'adam': value for numerical stability.
    n_iter_no_change : int, default=10
        Maximum number of epochs not meeting ``tol`` improvement.
    max_fun : int, default=15000
        'lbfgs': maximum number of loss function calls.
    n_threads : int, default=None
        Threads gainprop uses while this model trains or predicts (its OpenMP
        loops, which also run the blocks of every large matrix product on a
        single-threaded BLAS).  None uses every core available to the process
        (or ``OMP_NUM_THREADS`` when set).  Results do not depend on it.
    init : {'glorot_uniform', 'kaiming_normal', 'kaiming_uniform'} or \
            ('uniform', a), default='glorot_uniform'
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
        Batch normalisation (Ioffe & Szegedy 2015; seed 002) after each hidden
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
        (seed 002 trains until the loss is under 0.01).
    callbacks : list of callable, default=None
        Called after every epoch of a stochastic solver with a
        :class:`gainprop.callbacks.EpochRecord` (epoch, loss, validation
        score, learning rate, elapsed time); a callback returning True stops
        training.  :class:`gainprop.callbacks.ProgressBar` shows progress.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray of shape (n_classes,)
        Class labels for each output.
    loss_ : float
        The current loss computed with the loss function.
    best_loss_ : float or None
        The minimum loss reached by the solver throughout fitting (None with
        early stopping).
    loss_curve_ : list of shape (n_iter_,)
        The loss at the end of each epoch (stochastic solvers).
    learning_rate_curve_ : list of shape (n_iter_,)
        The learning rate η used in each epoch (the mean over its mini-batches
        for per-iteration schedules); stochastic solvers only.
    rate_stats_ : dict of lists
        For optimizers with per-weight rates (``LocalGain``'s gains,
        ``Rprop``'s step sizes): ``{"mean": [...], "min": [...], "max": [...]}``
        over all weights at the end of each epoch, to see what the modifiers
        do (seed 000).
    validation_scores_ : list of shape (n_iter_,) or None
        Accuracy on the held-out validation set at each epoch (early
        stopping only).
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
    feature_names_in_ : ndarray of shape (n_features_in_,)
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
        )

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
        return X, binarize(self._label_binarizer, y)

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
        check_is_fitted(self)
        with self._model_lock().reading():
            return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

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
            Sample weights.
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
        """Log of probability estimates, computed as a log-softmax (or
        log-sigmoid) of the logits, so it stays finite where the probability
        underflows to 0.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            The predicted log-probability of each class, ordered as
            ``classes_``.
        """
        check_is_fitted(self)
        with self._model_lock().reading():
            z = self._forward_pass_fast(X, apply_output=False)
            softmax, binary = self.out_activation_ == "softmax", self.n_outputs_ == 1
        if softmax:
            return log_softmax(z, axis=1)
        if binary:
            z = z.ravel()
            return np.vstack([log_expit(-z), log_expit(z)]).T
        return log_expit(z)

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
        check_is_fitted(self)
        with self._model_lock().reading():
            binary = self.n_outputs_ == 1
            # binary: both columns from the logit (1 - p would round small
            # probabilities of the negative class to 0)
            out = self._forward_pass_fast(X, apply_output=not binary)
        if binary:
            z = out.ravel()
            proba = np.vstack([expit(-z), expit(z)]).T
        else:
            proba = out
        # A probability that underflowed to 0 is floored at the smallest normal
        # number, so that log(predict_proba) stays finite like predict_log_proba.
        return np.maximum(proba, np.finfo(proba.dtype).tiny, out=proba)

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
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate, \
learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, \
warm_start, momentum, nesterovs_momentum, early_stopping, validation_fraction, \
beta_1, beta_2, epsilon, n_iter_no_change, max_fun, n_threads, callbacks, init, \
batch_norm, dropout, input_dropout, target_loss
        As in :class:`MLPClassifier`.  With early stopping the validation
        score is the coefficient of determination R².

    Attributes
    ----------
    loss_, best_loss_, loss_curve_, learning_rate_curve_, rate_stats_, validation_scores_, \
best_validation_score_, t_, coefs_, intercepts_, bn_gamma_, bn_beta_, bn_running_mean_, \
bn_running_var_, n_features_in_, feature_names_in_, n_iter_, n_layers_, n_outputs_, \
out_activation_
        As in :class:`MLPClassifier`.

    See Also
    --------
    MLPClassifier : Multi-layer Perceptron classifier.

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
        check_is_fitted(self)
        with self._model_lock().reading():
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
        return X, y

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
