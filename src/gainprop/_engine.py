"""The bridge between the estimators and the C core.

Layout of the flat parameter buffer, conversion of inputs to what the C core
reads, and the per-fit work buffers.  Nothing here is public.
"""

import numpy as np
import scipy.sparse as sp

from . import _core

# (loss, output activation) -> the C loss (a name of _core.LOSSES).  The
# estimators use canonical pairs, whose output delta is y - t; squared error
# also takes a squashing output (the back-propagation lecture's sigmoid
# network), with delta (y - t) f'(y).
_C_LOSS = {
    ("squared_error", "identity"): "squared",
    ("squared_error", "logistic"): "squared",
    ("squared_error", "tanh"): "squared",
    ("squared_error", "relu"): "squared",
    ("log_loss", "softmax"): "log",
    ("log_loss", "logistic"): "binary_log",
    ("poisson", "exp"): "poisson",
}

#: Batch normalisation's epsilon, added to the variance (as torch's default).
BN_EPS = 1e-5

#: Rows per forward/backward block while training (bounds the work memory of
#: full-batch training) and while predicting.
TRAIN_CHUNK_ROWS = 4096
PREDICT_CHUNK_ROWS = 1024

_INT32_MAX = np.iinfo(np.int32).max


class Layout:
    """Where each layer's weights and biases sit in the flat buffer.

    All weights first (layer by layer, row-major), then all biases: the
    order of scikit-learn's ``_pack``, so the weights are the prefix
    ``[0, n_coef)`` that L2 applies to.  With batch normalisation, each
    hidden layer's scale γ and shift β follow ([γ_1, β_1, γ_2, β_2, ...]);
    the running statistics use the same layout in a buffer of their own
    ([mean_1, var_1, ...], ``n_running`` values).
    """

    def __init__(self, units, batch_norm=False):
        self.units = tuple(int(u) for u in units)
        self.batch_norm = bool(batch_norm)
        offset = 0
        self.coef_offset = []
        for fan_in, fan_out in zip(self.units[:-1], self.units[1:]):
            self.coef_offset.append(offset)
            offset += fan_in * fan_out
        self.n_coef = offset
        self.intercept_offset = []
        for fan_out in self.units[1:]:
            self.intercept_offset.append(offset)
            offset += fan_out
        self.bn_offset = []
        if self.batch_norm:
            for width in self.units[1:-1]:
                self.bn_offset.append(offset)
                offset += 2 * width
        self.n_params = offset
        self.n_running = offset - self.bn_offset[0] if self.bn_offset else 0

    def __eq__(self, other):
        return (isinstance(other, Layout) and self.units == other.units
                and self.batch_norm == other.batch_norm)

    def __hash__(self):
        return hash((self.units, self.batch_norm))

    def _pairs(self, buf, base):
        return [(buf[o - base : o - base + u], buf[o - base + u : o - base + 2 * u])
                for o, u in zip(self.bn_offset, self.units[1:-1])]

    def bn_views(self, params):
        """[(gamma_i, beta_i)] views of the parameter buffer."""
        return self._pairs(params, 0)

    def running_views(self, running):
        """[(mean_i, var_i)] views of the running-statistics buffer."""
        return self._pairs(running, self.bn_offset[0]) if self.bn_offset else []

    @property
    def n_layers(self):
        """Number of weight layers."""
        return len(self.units) - 1

    def coef_views(self, params):
        return [
            params[o : o + fi * fo].reshape(fi, fo)
            for o, fi, fo in zip(self.coef_offset, self.units[:-1], self.units[1:])
        ]

    def intercept_views(self, params):
        return [params[o : o + fo] for o, fo in zip(self.intercept_offset, self.units[1:])]


def check_sizes(units, batch_rows):
    """Refuse networks whose buffers or BLAS dimensions cannot be handled,
    before anything is allocated."""
    if len(units) - 1 > _core.MAX_LAYERS:
        raise ValueError(
            f"At most {_core.MAX_LAYERS - 1} hidden layers are supported, got {len(units) - 2}."
        )
    for u in units:
        if u > _INT32_MAX:
            raise ValueError(f"Layer size {u} exceeds the BLAS limit of {_INT32_MAX} units.")
    if batch_rows > _INT32_MAX:
        raise ValueError(f"Batch of {batch_rows} rows exceeds the BLAS limit of {_INT32_MAX}.")


def check_sparse(X, name="X"):
    """Refuse a sparse matrix whose structure is unsound, before scipy, scikit-learn or
    the core read it: scipy's compiled routines (sorting indices, converting
    formats, selecting rows) trust the structure and read or write out of bounds
    when it lies.  Checks CSR, CSC and BSR (index pointers rising from 0 to the
    number of stored values, every index inside the matrix) and COO (every
    coordinate inside the matrix); other formats are built from Python objects
    that scipy checks as it converts them.  ValueError naming `name`."""
    if not sp.issparse(X):
        return
    fmt = X.format
    try:
        shape = tuple(int(n) for n in X.shape)
        if len(shape) != 2 or min(shape) < 0:
            raise ValueError
        if fmt in ("csr", "csc", "bsr"):
            indptr, indices, data = X.indptr, X.indices, X.data
            block = (1, 1)
            if fmt == "bsr":
                block = tuple(int(b) for b in data.shape[1:])
                if data.ndim != 3 or min(block) < 1 or shape[0] % block[0] or shape[1] % block[1]:
                    raise ValueError
            major, minor = ((shape[0], shape[1]) if fmt != "csc" else (shape[1], shape[0]))
            major //= block[0] if fmt == "bsr" else 1
            minor //= block[1] if fmt == "bsr" else 1
            sound = (isinstance(data, np.ndarray) and isinstance(indptr, np.ndarray)
                     and indptr.shape == (major + 1,) and data.shape[:1] == indices.shape[:1]
                     and _core.compressed_sound(indptr, indices, minor))
        elif fmt == "coo":
            coords, data = X.coords, X.data
            sound = isinstance(data, np.ndarray) and len(coords) == 2 and all(
                isinstance(c, np.ndarray) and c.ndim == 1 and c.dtype.kind in "iu"
                and c.shape == data.shape[:1] and data.ndim == 1
                and (c.size == 0 or (c.min() >= 0 and c.max() < n))
                for c, n in zip(coords, shape))
        else:
            return
    except (AttributeError, TypeError, ValueError):
        sound = False
    if not sound:
        raise ValueError(
            f"{name} is not a sound {fmt.upper()} matrix: its index pointers must rise from 0 "
            "to the number of stored values and every stored index must lie inside its shape "
            f"{getattr(X, 'shape', '?')}")


def c_array(a, dtype):
    """a as a C-contiguous, aligned ndarray of dtype: np.ascontiguousarray,
    and a copy of an unaligned array (np.frombuffer at an odd offset, a field
    of a packed record), which C may not read through a typed pointer."""
    a = np.ascontiguousarray(a, dtype=dtype)
    return a if a.flags.aligned else a.copy()


class Matrix:
    """An input matrix as the C core reads it: flat dense rows or CSR with
    int64 indices, in the compute dtype."""

    def __init__(self, X, dtype):
        if sp.issparse(X):
            check_sparse(X)
            X = sp.csr_matrix(X, dtype=dtype)
            if not X.has_sorted_indices:
                X = X.sorted_indices()
            self.data = c_array(X.data, dtype)
            self.indptr = c_array(X.indptr, np.int64)
            self.indices = c_array(X.indices, np.int64)
            self.sparse = True
        else:
            X = c_array(X, dtype)
            self.data = X.reshape(-1)
            self.indptr = self.indices = None
            self.sparse = False
        self.n_rows, self.n_cols = X.shape

    def args(self):
        return (self.data, self.indptr, self.indices, self.n_rows, self.n_cols)


class DropoutStream:
    """Dropout's random stream of one model: the Philox key of its masks and
    the number of its next mini-batch.

    Each unit's keep/drop draw is a pure function of (key, batch, layer, row
    in the batch, unit) (see ``_core.dropout_keep``), so a model continued by
    ``partial_fit``, a warm start or after unpickling draws the masks it would
    have drawn in one fit.

    Attributes
    ----------
    key : int or None
        The 64-bit Philox key, drawn from ``random_state`` by the first fit
        that uses dropout (after the initial weights); None until then.
    batch : int
        The number of the next mini-batch since the model was first fitted;
        every mini-batch of a stochastic solver advances it, with dropout or
        without.
    """

    def __init__(self, key=None, batch=0):
        self.key = key
        self.batch = batch

    def __repr__(self):
        return f"DropoutStream(key={self.key!r}, batch={self.batch!r})"

    def check(self):
        """Raise ValueError unless key is None or an int in [0, 2**64) and
        batch an int in [0, DROPOUT_MAX_BATCH]."""
        def is_int(v):
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        if ((self.key is not None and not (is_int(self.key) and 0 <= self.key < 2**64))
                or not is_int(self.batch) or not 0 <= self.batch <= _core.DROPOUT_MAX_BATCH):
            raise ValueError(f"malformed dropout stream {self!r}")


class Predictor:
    """A network for predictions.  Made once per model and setting (the
    estimator caches it) and immutable; the work memory is allocated per
    call, sized by the call's rows, so concurrent predictions never share
    it and a one-row prediction touches a few kilobytes."""

    def __init__(self, layout, activation, out_activation, n_threads):
        self.layout = layout
        self.n_threads = n_threads
        # the forward pass reads no loss: any the output activation goes with
        # (so that a model predicts whatever its loss parameter is set to now)
        c_loss = next(c for (_, out), c in _C_LOSS.items() if out == out_activation)
        self.net = _core.Net(layout, activation, out_activation, c_loss,
                             0.0, 1.0, int(n_threads), PREDICT_CHUNK_ROWS, bn_eps=BN_EPS)

    def forward(self, X, params, running=None, apply_output=True):
        """Network output (or logits) for all rows of X (a Matrix); batch
        normalisation uses the running statistics."""
        chunk = max(1, min(X.n_rows, PREDICT_CHUNK_ROWS))
        work = np.empty(self.net.forward_work_size(X.n_rows, chunk), dtype=params.dtype)
        out = np.empty((X.n_rows, self.layout.units[-1]), dtype=params.dtype)
        self.net.forward(X, params, running, out, apply_output, work, chunk)
        return out


class Engine:
    """A network compiled for the C core, with its work buffers.

    One Engine serves one fit (or consecutive partial_fit calls with the same
    shapes): all work memory is allocated here, once, and reused by every
    mini-batch.  Every call goes through the checks of gainprop._core.Net.
    """

    def __init__(self, layout, activation, out_activation, loss, alpha, n_threads,
                 chunk_rows, dtype, n_features, dense_gather, dropout=None, input_dropout=0.0):
        self.layout = layout
        self.dtype = np.dtype(dtype)
        self.n_threads = n_threads
        self.net = self._net(layout, activation, out_activation, loss, alpha, n_threads,
                             chunk_rows, n_features, dropout, input_dropout)
        self.loss_scale = self.net.loss_scale
        self.work = np.empty(self.net.work_size(dense_gather), dtype=dtype)
        self.scratch = np.empty(self.net.scratch_size(), dtype=np.float64)
        self.grad = np.empty(layout.n_params, dtype=dtype)

    @staticmethod
    def _net(layout, activation, out_activation, loss, alpha, n_threads, chunk_rows,
             n_features, dropout=None, input_dropout=0.0):
        c_loss = _C_LOSS[(loss, out_activation)]
        # scikit-learn reports the squared error averaged over the outputs but
        # steps along the gradient of their sum; the core computes the sum.
        loss_scale = 1.0 / layout.units[-1] if c_loss == "squared" else 1.0
        check_sizes(layout.units, chunk_rows)
        if n_features != layout.units[0]:
            raise ValueError(f"X has {n_features} features, but the network takes "
                             f"{layout.units[0]}")
        return _core.Net(layout, activation, out_activation, c_loss, float(alpha), loss_scale,
                         int(n_threads), int(chunk_rows), bn_eps=BN_EPS, dropout=dropout,
                         input_dropout=float(input_dropout))

    @classmethod
    def nbytes(cls, layout, activation, out_activation, loss, chunk_rows, dtype, n_features,
               dense_gather, dropout=None, input_dropout=0.0):
        """Bytes an Engine of these settings allocates (gradient, work and
        scratch), without allocating them."""
        net = cls._net(layout, activation, out_activation, loss, 0.0, 1, chunk_rows, n_features,
                       dropout, input_dropout)
        return ((layout.n_params + net.work_size(dense_gather)) * np.dtype(dtype).itemsize
                + net.scratch_size() * 8)

    def forward(self, X, params, running=None, apply_output=True):
        """Network output (or logits) for all rows of X (a Matrix); batch
        normalisation uses the running statistics."""
        out = np.empty((X.n_rows, self.layout.units[-1]), dtype=self.dtype)
        need = self.net.forward_work_size(X.n_rows)  # more than a fit's with several blocks
        work = self.work if self.work.shape[0] >= need else np.empty(need, dtype=self.dtype)
        self.net.forward(X, params, running, out, apply_output, work)
        return out

    def loss_grad(self, X, Y, sample_weight, params, dropout=None):
        """(mean data loss, L2 term) over all rows; gradient in self.grad.
        With dropout the rows are one mini-batch, masked as batch number
        ``dropout.batch`` of the stream ``dropout`` (a DropoutStream)."""
        return self.net.loss_grad(X, Y, sample_weight, params, self.grad, self.work,
                                  self.scratch, dropout)

    def train_epoch(self, X, Y, sample_weight, order, batch_size, batch_lrs, params, running,
                    state, dropout=None):
        """One epoch in C: (loss sum, rows stepped on, status); ``dropout`` (a
        DropoutStream) is advanced by the batches done."""
        return self.net.train_epoch(X, Y, sample_weight, order, batch_size, batch_lrs, params,
                                    self.grad, running, state, self.work, self.scratch, dropout)
