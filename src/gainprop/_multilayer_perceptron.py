"""MLPClassifier and MLPRegressor: scikit-learn's estimators on gainprop's core.

The parameters, defaults, validation, fitted attributes and behaviour are
those of scikit-learn 1.9's ``sklearn.neural_network`` estimators; the
training runs in C (one call per epoch, GIL released), and ``solver`` also
accepts any optimizer of :mod:`gainprop.optimizers`.
"""

import contextlib
import copy
import math
import os
import threading
import time
import warnings
from abc import ABC, abstractmethod
from numbers import Integral, Real

import numpy as np
import scipy.optimize
from scipy.special import expit, log_expit, log_softmax
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    _fit_context,
    is_classifier,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from threadpoolctl import ThreadpoolController

from . import _core
from ._engine import PREDICT_CHUNK_ROWS, TRAIN_CHUNK_ROWS, Engine, Layout, Matrix, check_sizes
from .callbacks import EpochRecord
from .optimizers import OPTIMIZERS, BaseOptimizer, _copy_into, get_optimizer
from .schedules import BaseSchedule

_NONFINITE_MESSAGE = (
    "Solver produced non-finite parameter weights. The input data may contain large "
    "values and need to be preprocessed."
)

try:  # scipy >= 1.15 deprecates L-BFGS-B's iprint
    from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
except ImportError:  # pragma: no cover

    def _get_additional_lbfgs_options_dict(key, value):
        return {key: value}


# Attributes that are views of the flat parameter buffer (rebuilt, never copied)
_BN_VIEWS = ("bn_gamma_", "bn_beta_", "bn_running_mean_", "bn_running_var_")
_VIEWS = ("coefs_", "intercepts_", "_views") + _BN_VIEWS


#: Version of the pickled training state; loading refuses other versions.
_STATE_VERSION = 1


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


def _uniform(a):
    """Is every element of a equal (and not NaN)?"""
    lo = a.min()
    return bool(lo == a.max())


class _Snapshot:
    """Weights, optimizer state and running statistics from before an epoch,
    to go back to if the epoch diverges.  The same buffers serve every epoch
    of a fit (a copy per epoch of a large network's weights and state would
    otherwise be fresh memory every time)."""

    def __init__(self):
        self.params = self.state = self.running = None
        self.start = None

    def save(self, params, state, running):
        self.params = _copy_into(self.params, params)
        self.running = None if running is None else _copy_into(self.running, running)
        if state.step == 0 and all(a is None or _uniform(a) for a in state.slots):
            # a state that has taken no step holds its starting values, most
            # often one value per slot: keep those, not a copy (in a fit of one
            # epoch the copy would be all the snapshot costs; the check reads
            # each slot once and allocates nothing)
            self.start = (type(state), dict(state.__dict__),
                          [None if a is None else (a[0], a.shape) for a in state.slots])
        else:
            self.start = None
            self.state = state.copy(into=self.state)

    def restore(self, params, running):
        """Put the weights back; return the saved optimizer state, whose
        arrays the caller now owns."""
        params[...] = self.params
        if running is not None:
            running[...] = self.running
        if self.start is not None:
            cls, attrs, fills = self.start
            state = object.__new__(cls)
            state.__dict__.update(attrs)
            state.slots = [None if f is None else np.full(f[1], f[0], dtype=f[0].dtype)
                           for f in fills]
            return state
        state, self.state = self.state, None
        return state


def _check_state(state):
    """Validate an unpickled model's buffers against its layout: a tampered or
    truncated pickle must raise ValueError, never reach the C core."""
    version = state.get("_gainprop_state_version")
    if version != _STATE_VERSION:
        raise ValueError(f"Cannot load a gainprop model with state version {version!r}; this "
                         f"gainprop reads version {_STATE_VERSION}.")
    layout = state.get("_layout")
    if not isinstance(layout, Layout):
        raise ValueError("Corrupted gainprop model: no valid layout.")
    units = layout.units
    if (len(units) < 2 or not all(isinstance(u, int) and u >= 1 for u in units)
            or Layout(units, layout.batch_norm).__dict__ != layout.__dict__):
        raise ValueError(f"Corrupted gainprop model: inconsistent layout {units!r}.")
    params = state.get("_params")
    if (not isinstance(params, np.ndarray) or params.ndim != 1
            or params.dtype not in (np.float32, np.float64)
            or params.shape[0] != layout.n_params or not params.flags.c_contiguous):
        raise ValueError(f"Corrupted gainprop model: the parameter buffer must be a contiguous "
                         f"float32/float64 array of {layout.n_params} values.")
    if not np.isfinite(params).all():
        raise ValueError("Corrupted gainprop model: non-finite parameters.")
    running = state.get("_running")
    if layout.batch_norm:
        if (not isinstance(running, np.ndarray) or running.dtype != params.dtype
                or running.shape != (layout.n_running,) or not np.isfinite(running).all()):
            raise ValueError("Corrupted gainprop model: bad batch-norm running statistics.")
    elif running is not None:
        raise ValueError("Corrupted gainprop model: running statistics without batch norm.")
    opt = state.get("_optimizer")
    if opt is not None:
        slots = getattr(opt, "slots", None)
        if (not isinstance(slots, list) or len(slots) > _core.MAX_STATE_SLOTS
                or not isinstance(getattr(opt, "kind", None), int)
                or len(getattr(opt, "hyper", ())) > _core.MAX_HYPERPARAMETERS):
            raise ValueError("Corrupted gainprop model: bad optimizer state.")
        for slot in slots:
            if slot is not None and (not isinstance(slot, np.ndarray) or slot.dtype != params.dtype
                                     or slot.shape != params.shape
                                     or not slot.flags.c_contiguous):
                raise ValueError("Corrupted gainprop model: optimizer state does not match the "
                                 "parameters.")


def _check_memory(layout, dtype):
    """Refuse, before allocating, a network whose buffers cannot fit in memory:
    parameters, gradient, best/snapshot copies and up to three optimizer slots."""
    need = layout.n_params * np.dtype(dtype).itemsize * 6
    try:
        avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return
    if need > avail:
        raise MemoryError(
            f"The network {list(layout.units)} has {layout.n_params:,} parameters; training it "
            f"needs about {need / 2**30:,.1f} GiB, more than this machine's "
            f"{avail / 2**30:,.1f} GiB. Use smaller hidden_layer_sizes."
        )


def _fit_binarizer(y):
    """LabelBinarizer().fit(y).  For class labels of one column of integers or
    strings (the usual case) the fitted attributes are set directly from
    np.unique: the target-type checks of LabelBinarizer.fit cost more than a
    short fit's epoch, and they only tell binary from multiclass here."""
    if (y.ndim == 1 and len(y) > 0 and y.dtype.kind in "biuU"):
        classes = np.unique(y)
        if classes.dtype.kind == "U":  # as unique_labels: as wide as the longest label
            classes = classes.astype(f"<U{max(1, max(len(c) for c in classes))}")
        if len(classes) >= 2:
            lb = LabelBinarizer()
            lb.y_type_ = "binary" if len(classes) == 2 else "multiclass"
            lb.sparse_input_ = False
            lb.classes_ = classes
            return lb
    return LabelBinarizer().fit(y)


def _binarize(lb, y):
    """lb.transform(y) as booleans.  Class labels of one column (binary or
    multiclass, the usual case) are looked up with searchsorted directly:
    LabelBinarizer.transform checks the target type again, which costs more
    than a short fit's epoch."""
    classes = lb.classes_
    if (lb.y_type_ in ("binary", "multiclass") and y.ndim == 1 and len(classes) >= 2
            and y.dtype.kind in "biufUS" and classes.dtype.kind == y.dtype.kind):
        idx = np.searchsorted(classes, y)
        idx[idx == len(classes)] = 0
        if np.array_equal(classes[idx], y):  # every label known
            if lb.y_type_ == "binary":
                return (idx == 1).reshape(-1, 1)
            Y = np.zeros((len(y), len(classes)), dtype=bool)
            Y[np.arange(len(y)), idx] = True
            return Y
    return lb.transform(y).astype(bool)


class _BlasLimit:
    """BLAS thread limits for the fits running in this process: the first fit
    to enter sets them, the last to leave restores the original ones, so that
    fits in several Python threads never leave BLAS limited (with per-fit
    limits, one fit's restore would undo another's).  threadpoolctl's view of
    the loaded libraries is made once per process: scanning them costs about a
    millisecond, which a short fit would pay every time; the BLAS the core
    calls (numpy's OpenBLAS or scipy's, see gainprop._blas) is loaded before
    gainprop._core is imported, so it is always in the view."""

    def __init__(self):
        self._lock = threading.Lock()
        self._controller = None
        self._limiter = None
        self._active = 0

    @contextlib.contextmanager
    def __call__(self, limit):
        with self._lock:
            if self._active == 0:
                if self._controller is None:
                    self._controller = ThreadpoolController()
                self._limiter = self._controller.limit(limits=limit, user_api="blas")
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    self._limiter.restore_original_limits()
                    self._limiter = None


_blas_limit = _BlasLimit()


def _effective_n_threads(n_threads):
    """Threads for our OpenMP loops: n_threads, or all usable cores (honouring
    OMP_NUM_THREADS) when None."""
    if n_threads is not None:
        return int(n_threads)
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class BaseMultilayerPerceptron(BaseEstimator, ABC):
    """Base class for MLP classification and regression.

    Warning: This class should not be used directly.  Use derived classes
    instead.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
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
        self.target_loss = target_loss

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

    def _sync_params(self):
        """Take arrays the user assigned to coefs_ / intercepts_ (or the bn_*
        attributes) into the buffers.

        scikit-learn users set ``coefs_`` and ``intercepts_`` by hand (to
        start from known weights, say); the next warm-start fit or
        partial_fit continues from the assigned values.
        """
        for name, views in self._views.items():
            current = getattr(self, name, None)
            if not isinstance(current, (list, tuple)) or len(current) != len(views):
                raise ValueError(
                    f"{name} must be a list of {len(views)} arrays, got {type(current).__name__}"
                    f" of length {len(current) if hasattr(current, '__len__') else '?'}."
                )
            changed = not isinstance(current, list)
            for i, (arr, view) in enumerate(zip(current, views)):
                if arr is view:
                    continue
                arr = np.asarray(arr)
                if arr.shape != view.shape:
                    raise ValueError(
                        f"{name}[{i}] has shape {arr.shape}, expected {view.shape}."
                    )
                view[...] = arr
                changed = True
            if changed:
                setattr(self, name, list(views))

    def _to_dtype(self, dtype):
        """The compute dtype follows X: move the buffers and optimizer state to it."""
        if self._params.dtype == dtype:
            return
        running = None if self._running is None else self._running.astype(dtype)
        self._set_buffer(self._params.astype(dtype), self._layout, running)
        if getattr(self, "_best_params", None) is not None:
            self._best_params = self._best_params.astype(dtype)
        if getattr(self, "_best_running", None) is not None:
            self._best_running = self._best_running.astype(dtype)
        if getattr(self, "_optimizer", None) is not None:
            self._optimizer.astype(dtype)

    def __getstate__(self):
        if hasattr(self, "_params"):
            self._sync_params()
        state = super().__getstate__()
        state = dict(state)
        # The views are rebuilt from the buffer on load.
        for key in _VIEWS:
            state.pop(key, None)
        if "_params" in state:
            state["_gainprop_state_version"] = _STATE_VERSION
        return state

    def __setstate__(self, state):
        if "_params" in state:
            _check_state(state)  # before any C code can touch the buffers
        super().__setstate__(state)
        if "_params" in state:
            self._set_buffer(self._params, self._layout, self._running)

    # ------------------------------------------------------------------
    # Engines: C networks and their work buffers
    # ------------------------------------------------------------------
    def _engine(self, chunk_rows, n_features, dense_gather):
        """A C network for the current buffer with fresh work memory.  Made per
        call (allocation is cheap next to an epoch), so that concurrent calls
        never share work buffers and a fitted model holds no work memory."""
        return Engine(self._layout, self.activation, self.out_activation_, self.loss, self.alpha,
                      self._threads(), chunk_rows, self._params.dtype, n_features, dense_gather)

    def _threads(self):
        return _effective_n_threads(self.n_threads)

    def _blas_limits(self):
        """Keep BLAS single-threaded while the core runs: the core splits
        every large matrix product into fixed blocks that its own threads hand
        to BLAS, so the result does not depend on the thread count and the
        two thread pools never compete for cores.  A serial (no OpenMP) build
        lets BLAS use the n_threads threads instead (while several fits run,
        the first one's limit holds)."""
        limit = 1 if _core.openmp_enabled() else self._threads()
        return _blas_limit(limit)

    # ------------------------------------------------------------------
    # Initialisation
    # ------------------------------------------------------------------
    def _initialize(self, y, layer_units, dtype):
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
        _check_memory(layout, dtype)
        params = np.empty(layout.n_params, dtype=dtype)
        coefs = layout.coef_views(params)
        intercepts = layout.intercept_views(params)
        rs = self._random_state
        kind, a = self._init_scheme()
        # each layer's weights, then its biases, from random_state: with the
        # default this is scikit-learn's Glorot-uniform, same calls, same order
        for i in range(self.n_layers_ - 1):
            fan_in, fan_out = layer_units[i], layer_units[i + 1]
            if kind == "glorot_uniform":
                factor = 2.0 if self.activation == "logistic" else 6.0
                bound = np.sqrt(factor / (fan_in + fan_out))
                _draw_into(coefs[i], rs.uniform, -bound, bound)
                intercepts[i][...] = rs.uniform(-bound, bound, fan_out)
            elif kind == "kaiming_normal":  # He et al. 2015: N(0, 2 / fan_in)
                _draw_into(coefs[i], rs.normal, 0.0, np.sqrt(2.0 / fan_in))
                intercepts[i][...] = 0.0
            elif kind == "kaiming_uniform":  # same variance, uniform
                bound = np.sqrt(6.0 / fan_in)
                _draw_into(coefs[i], rs.uniform, -bound, bound)
                intercepts[i][...] = 0.0
            else:  # ("uniform", a): seed 000's U(-a, a) for weights and biases
                _draw_into(coefs[i], rs.uniform, -a, a)
                intercepts[i][...] = rs.uniform(-a, a, fan_out)
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
        self._optimizer = None

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

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------
    def _fit(self, X, y, sample_weight=None, incremental=False):
        if not incremental:
            return self._fit_once(X, y, sample_weight, incremental)
        # A partial_fit that fails (diverges, or meets bad input) leaves the
        # model exactly as it was before the call.
        if hasattr(self, "_params"):
            self._sync_params()
        saved = copy.deepcopy({k: v for k, v in self.__dict__.items() if k not in _VIEWS})
        try:
            return self._fit_once(X, y, sample_weight, incremental)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            if "_params" in saved:
                self._set_buffer(self._params, self._layout, self._running)
            raise

    def _fit_once(self, X, y, sample_weight, incremental):
        hidden_layer_sizes = self._hidden_layer_sizes()
        self._init_scheme()  # validate before anything changes
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)

        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        n_samples, n_features = X.shape
        if n_samples < 1:
            raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)

        if y.ndim == 1:
            y = y.reshape((-1, 1))
        layer_units = [n_features] + hidden_layer_sizes + [y.shape[1]]
        check_sizes(layer_units, 1)

        if not first_pass:
            if tuple(layer_units) != self._layout.units:
                raise ValueError(
                    f"The network has layers {list(self._layout.units)} but this call needs "
                    f"{layer_units}; refit with warm_start=False to change shapes."
                )
            if bool(self.batch_norm) != self._layout.batch_norm:
                raise ValueError("batch_norm cannot change between warm-started fits; refit "
                                 "with warm_start=False.")
        self.n_outputs_ = y.shape[1]
        self._random_state = check_random_state(self.random_state)

        if first_pass:
            self._initialize(y, layer_units, X.dtype)
        else:
            self._sync_params()
            self._to_dtype(X.dtype)

        with self._blas_limits():
            if self._is_stochastic():
                self._fit_stochastic(X, y, sample_weight, incremental)
            else:
                self._fit_lbfgs(X, y, sample_weight)

        if not np.isfinite(self._params).all():
            raise ValueError(_NONFINITE_MESSAGE)
        return self

    def _fit_lbfgs(self, X, y, sample_weight):
        if self.batch_norm:
            raise ValueError("batch_norm=True needs a stochastic solver (its running statistics "
                             "come from mini-batches), not 'lbfgs'.")
        dtype = self._params.dtype
        Xm = Matrix(X, dtype)
        Y = np.ascontiguousarray(y, dtype=dtype)
        sw = None if sample_weight is None else np.ascontiguousarray(sample_weight, dtype=dtype)
        engine = self._engine(min(X.shape[0], TRAIN_CHUNK_ROWS), X.shape[1], False)
        params = self._params

        def loss_grad(packed):
            params[...] = packed
            data_loss, l2 = engine.loss_grad(Xm, Y, sw, params)
            return data_loss + l2, engine.grad.astype(np.float64)

        iprint = 1 if (self.verbose is True or self.verbose >= 1) else -1
        opt_res = scipy.optimize.minimize(
            loss_grad,
            params.astype(np.float64),
            method="L-BFGS-B",
            jac=True,
            options={
                "maxfun": self.max_fun,
                "maxiter": self.max_iter,
                "gtol": self.tol,
                **_get_additional_lbfgs_options_dict("iprint", iprint),
            },
        )
        self.n_iter_ = _check_optimize_result("lbfgs", opt_res, self.max_iter)
        params[...] = opt_res.x
        if engine.loss_scale == 1.0:
            self.loss_ = float(opt_res.fun)
        else:  # report scikit-learn's convention (squared error averaged over outputs)
            data_loss, l2 = engine.loss_grad(Xm, Y, sw, params)
            self.loss_ = engine.loss_scale * data_loss + l2

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
                "rates lose their meaning (seed 000, seed 001). Use batch_size='auto' (the full "
                f"data set) or at least {optimizer.min_batch_size} samples.",
                UserWarning,
            )
        return batch_size

    def _uses_sklearn_schedule(self):
        """scikit-learn applies its learning_rate strings to 'sgd' only."""
        return not (isinstance(self.solver, str) and self.solver == "adam")

    def _schedule(self):
        return self.learning_rate if isinstance(self.learning_rate, BaseSchedule) else None

    def _split_validation(self, X, y, sample_weight):
        """scikit-learn's early-stopping split (same draws)."""
        should_stratify = is_classifier(self) and self.n_outputs_ == 1
        stratify = y if should_stratify else None
        if sample_weight is None:
            X_train, X_val, y_train, y_val = train_test_split(
                X, y, random_state=self._random_state, test_size=self.validation_fraction,
                stratify=stratify,
            )
            sample_weight_train = sample_weight_val = None
        else:
            (X_train, X_val, y_train, y_val, sample_weight_train,
             sample_weight_val) = train_test_split(
                X, y, sample_weight, random_state=self._random_state,
                test_size=self.validation_fraction, stratify=stratify,
            )
        if X_val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the "
                "size of your dataset."
            )
        if is_classifier(self):
            y_val = self._label_binarizer.inverse_transform(y_val)
        return X_train, X_val, y_train, y_val, sample_weight_train, sample_weight_val

    def _fit_stochastic(self, X, y, sample_weight, incremental):
        dtype = self._params.dtype
        optimizer = get_optimizer(self.solver, self)
        schedule = self._schedule()
        state = getattr(self, "_optimizer", None)
        # fresh state for a new fit, and when the solver changed since the
        # last partial_fit (the old state belongs to another rule)
        fresh = (not incremental or state is None or state.kind != optimizer._kind
                 or state.slot_names != tuple(n or "" for n in optimizer._slots()))
        if fresh:
            self._optimizer = optimizer._make_state(
                self._layout.n_params, dtype, self.learning_rate_init
            )
            self._schedule_state = (schedule._start(self.learning_rate_init)
                                    if schedule is not None else None)
            self.learning_rate_curve_ = []
            if optimizer._rate_slot is not None:
                self.rate_stats_ = {"mean": [], "min": [], "max": []}
            else:
                self.__dict__.pop("rate_stats_", None)
        if schedule is not None and not optimizer.uses_learning_rate:
            warnings.warn(
                f"{type(optimizer).__name__} does not use the learning rate, so the schedule "
                f"{schedule!r} has no effect.", UserWarning,
            )

        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if getattr(self, "loss_curve_", None) is None:
            # a warm start from lbfgs, which keeps no per-epoch history
            # (scikit-learn fails here)
            self.loss_curve_ = []
            self._no_improvement_count = 0
        early_stopping = self.early_stopping
        if early_stopping:
            (X_train, X_val, y_train, y_val, sample_weight_train,
             sample_weight_val) = self._split_validation(X, y, sample_weight)
            if getattr(self, "_best_params", None) is None:
                # a new fit, or a warm start that turned early stopping (back)
                # on: a new validation history from the current weights
                # (scikit-learn fails here: its validation_scores_ is None)
                self._best_params = self._params.copy()
                self._best_running = None if self._running is None else self._running.copy()
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
        else:
            X_train, y_train, sample_weight_train = X, y, sample_weight
            X_val = y_val = sample_weight_val = None
            if getattr(self, "best_loss_", None) is None:  # a warm start that turned it off
                self.best_loss_ = np.inf
            # the best weights belong to early stopping: not kept, not pickled
            self._best_params = self._best_running = None
        if (schedule is None) != (self._schedule_state is None):  # learning_rate changed
            self._schedule_state = (schedule._start(self.learning_rate_init)
                                    if schedule is not None else None)
        sstate = self._schedule_state
        if sstate is not None:
            sstate.use_validation = early_stopping

        n_samples = X_train.shape[0]
        sample_idx = np.arange(n_samples, dtype=np.int64)
        batch_size = self._batch_size(n_samples, optimizer)
        if self.batch_norm and batch_size < 2:
            raise ValueError("batch_norm=True needs mini-batches of at least 2 samples, got "
                             f"batch_size={batch_size}.")
        n_batches = -(-n_samples // batch_size)
        Xm = Matrix(X_train, dtype)
        Y = np.ascontiguousarray(y_train, dtype=dtype)
        sw = (None if sample_weight_train is None
              else np.ascontiguousarray(sample_weight_train, dtype=dtype))
        # batch statistics need each batch in one block
        chunk_rows = batch_size if self.batch_norm else min(batch_size, TRAIN_CHUNK_ROWS)
        engine = self._engine(chunk_rows, X.shape[1], not Xm.sparse and self.shuffle)
        params = self._params
        callbacks = list(self.callbacks or [])
        saved = _Snapshot()
        t_start = time.perf_counter()

        try:
            self.n_iter_ = 0
            for it in range(self.max_iter):
                if self.shuffle:
                    # sklearn.utils.shuffle(sample_idx, random_state=...) draws a
                    # permutation with random_state.shuffle(arange(n)) and indexes by
                    # it; the same swaps applied in place give the same order,
                    # without its input checks (a short fit paid them every epoch)
                    self._random_state.shuffle(sample_idx)
                order = sample_idx if self.shuffle else None

                state = self._optimizer
                batch_lrs = None
                if schedule is not None:
                    rates = schedule._rates(sstate, n_batches)
                    if np.ndim(rates):
                        batch_lrs = rates
                        epoch_lr = float(np.mean(rates))
                    else:
                        state.lr = epoch_lr = float(rates)
                else:
                    epoch_lr = state.lr

                # what to go back to if this epoch diverges (copied into the
                # same buffers every epoch)
                running = self._running
                saved.save(params, state, running)
                loss_sum, n_done, status = engine.train_epoch(
                    Xm, Y, sw, order, batch_size, batch_lrs, params, running, state
                )
                # one read of the weights: their sum is finite when they all
                # are (a float64 sum of huge float64 weights can overflow, so
                # a non-finite sum is checked weight by weight)
                if (status == _core.STATUS_NONFINITE_LOSS
                        or (not math.isfinite(np.add.reduce(params, dtype=np.float64))
                            and not np.isfinite(params).all())):
                    self._optimizer = saved.restore(params, running)
                    if not early_stopping:
                        raise ValueError(
                            f"{_NONFINITE_MESSAGE} Training diverged in epoch "
                            f"{self.n_iter_ + 1} (the loss or a weight became NaN or infinite); "
                            "the model keeps the weights from before that epoch. Try a smaller "
                            "learning_rate_init."
                        )
                    # as scikit-learn: the epoch scores NaN and the best weights are kept
                    self.n_iter_ += 1
                    self.t_ += n_samples
                    self.loss_curve_.append(np.nan)
                    self.learning_rate_curve_.append(epoch_lr)
                    self.validation_scores_.append(np.nan)
                    warnings.warn(
                        f"Training diverged in epoch {self.n_iter_}; stopping early and "
                        "keeping the best validation weights. Try a smaller learning_rate_init.",
                        ConvergenceWarning,
                    )
                    break

                self.n_iter_ += 1
                self.loss_ = loss_sum / n_samples
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                self.learning_rate_curve_.append(epoch_lr)
                if optimizer._rate_slot is not None:
                    rates = self._optimizer.state_dict()[optimizer._rate_slot]
                    self.rate_stats_["mean"].append(float(rates.mean(dtype=np.float64)))
                    self.rate_stats_["min"].append(float(rates.min()))
                    self.rate_stats_["max"].append(float(rates.max()))
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))

                self._update_no_improvement_count(early_stopping, X_val, y_val, sample_weight_val)

                # learning rate updated at the end of each epoch
                if schedule is not None:
                    val = self.validation_scores_[-1] if early_stopping else np.nan
                    msg = schedule._end_epoch(sstate, n_batches, self.loss_, val)
                    if msg and self.verbose:
                        print(msg)
                elif self.learning_rate == "invscaling" and self._uses_sklearn_schedule():
                    state.lr = float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t

                stop_requested = False
                if callbacks:
                    record = EpochRecord(
                        epoch=self.n_iter_, loss=self.loss_,
                        validation_score=self.validation_scores_[-1] if early_stopping else None,
                        learning_rate=epoch_lr, elapsed=time.perf_counter() - t_start,
                        max_iter=self.max_iter, estimator=self,
                    )
                    for callback in callbacks:
                        stop_requested = bool(callback(record)) or stop_requested
                if stop_requested:
                    if self.verbose:
                        print("A callback asked to stop training.")
                    break
                if self.target_loss is not None and self.loss_ < self.target_loss:
                    if self.verbose:
                        print(f"Training loss fell below target_loss={self.target_loss}. "
                              "Stopping.")
                    break

                if self._no_improvement_count > self.n_iter_no_change:
                    if early_stopping:
                        msg = (
                            "Validation score did not improve more than tol=%f for %d "
                            "consecutive epochs." % (self.tol, self.n_iter_no_change)
                        )
                    else:
                        msg = (
                            "Training loss did not improve more than tol=%f for %d "
                            "consecutive epochs." % (self.tol, self.n_iter_no_change)
                        )
                    if self._trigger_stopping(msg, state, schedule, sstate):
                        break
                    self._no_improvement_count = 0

                if incremental:
                    break

                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        "Stochastic Optimizer: Maximum iterations (%d) reached and the "
                        "optimization hasn't converged yet." % self.max_iter,
                        ConvergenceWarning,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")

        if early_stopping:
            params[...] = self._best_params
            if self._running is not None:
                self._running[...] = self._best_running

    def _trigger_stopping(self, msg, state, schedule, sstate):
        """scikit-learn's rule: stop, unless learning_rate='adaptive', which
        divides the rate by 5 until it falls to 1e-6.  A plateau-handling
        schedule (ReduceOnPlateau) stops training only once it cannot reduce
        the rate any further."""
        if schedule is not None:
            if schedule.handles_plateau and not schedule._exhausted(sstate):
                return False
            if self.verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate != "adaptive" or not self._uses_sklearn_schedule():
            if self.verbose:
                print(msg + " Stopping.")
            return True
        if state.lr <= 1e-6:
            if self.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        state.lr /= 5.0
        if self.verbose:
            print(msg + " Setting learning rate to %f" % state.lr)
        return False

    def _update_no_improvement_count(self, early_stopping, X, y, sample_weight):
        if early_stopping:
            val_score = self._score(X, y, sample_weight=sample_weight)
            self.validation_scores_.append(val_score)
            if self.verbose:
                print("Validation score: %f" % self.validation_scores_[-1])
            last_valid_score = self.validation_scores_[-1]
            if last_valid_score < (self.best_validation_score_ + self.tol):
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last_valid_score > self.best_validation_score_:
                self.best_validation_score_ = last_valid_score
                self._best_params[...] = self._params
                if self._running is not None:
                    self._best_running[...] = self._running
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

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
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        self._sync_params()
        dtype = self._params.dtype
        Xm = Matrix(X, dtype)
        engine = self._engine(max(1, min(Xm.n_rows, PREDICT_CHUNK_ROWS)), Xm.n_cols, False)
        with self._blas_limits():
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
    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Activation function for the hidden layers.
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
        'kaiming_normal' is N(0, 2 / fan_in) (He et al. 2015; seed 002) and
        'kaiming_uniform' U(±√(6 / fan_in)), both with zero biases;
        ``('uniform', a)`` draws weights and biases from U(−a, a) (seed 000).
    batch_norm : bool, default=False
        Batch normalisation (Ioffe & Szegedy 2015; seed 002) after each hidden
        affine map, before the activation: batch statistics in training,
        running statistics (momentum 0.1, ε = 1e-5, as torch) in prediction.
        The scales and shifts (``bn_gamma_``, ``bn_beta_``) live in the flat
        parameter buffer and are trained by the same optimizer step.
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
            self._label_binarizer = _fit_binarizer(y)
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
        return X, _binarize(self._label_binarizer, y)

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
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

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
        z = self._forward_pass_fast(X, apply_output=False)
        if self.out_activation_ == "softmax":
            return log_softmax(z, axis=1)
        if self.n_outputs_ == 1:
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
        if self.n_outputs_ == 1:
            # both columns from the logit: 1 - p would round small
            # probabilities of the negative class to 0
            z = self._forward_pass_fast(X, apply_output=False).ravel()
            proba = np.vstack([expit(-z), expit(z)]).T
        else:
            proba = self._forward_pass_fast(X)
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
batch_norm, target_loss
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
