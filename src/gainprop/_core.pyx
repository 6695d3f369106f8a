# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: cdivision=True, embedsignature=True
"""Bindings to the C core (csrc/), and the boundary that guards it.

Every array handed to C is checked here, in one place per entry point,
against the network's layout: length, dtype, contiguity, the input's
column count, CSR structure, the rates' count and every optimizer slot the
rule reads.  A failed check raises ValueError naming the argument; C is never
called with anything unchecked.  Beyond that this module does no math: it
turns arrays into C pointers, releases the GIL, and checks for Ctrl-C
between chunks of mini-batches.  Arguments are marked IN / OUT / INOUT.

The C enums (activations, losses, statuses, optimizer kinds, Rprop variants,
slots) are exported from here; Python refers to them by name.
"""
import os
import time
import warnings

import numpy as np

from cpython.exc cimport PyErr_CheckSignals
from libc.stdint cimport SIZE_MAX, int32_t, int64_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset
from scipy.linalg.cython_blas cimport dgemm, sgemm


cdef extern from "gainprop.h" nogil:
    cpdef enum gp_activation:
        GP_ACT_IDENTITY
        GP_ACT_LOGISTIC
        GP_ACT_TANH
        GP_ACT_RELU
        GP_ACT_SOFTMAX
        GP_ACT_EXP
        GP_ACT_LEAKY_RELU
        GP_ACT_ELU
        GP_ACT_GELU
        GP_ACT_SOFTPLUS
        GP_ACT_SILU
    cpdef enum gp_loss:
        GP_LOSS_SQUARED
        GP_LOSS_LOG
        GP_LOSS_BINARY_LOG
        GP_LOSS_POISSON
    cpdef enum gp_status:
        GP_OK
        GP_NONFINITE_LOSS
        GP_BAD_ARGUMENT
    cpdef enum gp_optim_kind:
        GP_OPT_SGD
        GP_OPT_ADAM
        GP_OPT_LOCALGAIN
        GP_OPT_RPROP
        GP_OPT_ADAGRAD
        GP_OPT_ADADELTA
        GP_OPT_RMSPROP
        GP_OPT_ADAMAX
    cpdef enum gp_rprop_variant:
        GP_RPROP_PLUS
        GP_RPROP_MINUS
        GP_IRPROP_PLUS
        GP_IRPROP_MINUS
        GP_RPROP_MINIBATCH
    int GP_RPROP_N_VARIANTS
    cpdef enum gp_sgd_slot:
        GP_SGD_VELOCITY
    cpdef enum gp_adam_slot:
        GP_ADAM_EXP_AVG
        GP_ADAM_EXP_AVG_SQ
        GP_ADAM_MAX_EXP_AVG_SQ
    cpdef enum gp_localgain_slot:
        GP_LOCALGAIN_GAIN
        GP_LOCALGAIN_PREV_GRAD
        GP_LOCALGAIN_VELOCITY
    cpdef enum gp_rprop_slot:
        GP_RPROP_STEP_SIZE
        GP_RPROP_PREV
        GP_RPROP_PREV_DELTA
    cpdef enum gp_adagrad_slot:
        GP_ADAGRAD_SUM
    cpdef enum gp_adadelta_slot:
        GP_ADADELTA_SQUARE_AVG
        GP_ADADELTA_ACC_DELTA
    cpdef enum gp_rmsprop_slot:
        GP_RMSPROP_SQUARE_AVG
        GP_RMSPROP_GRAD_AVG
        GP_RMSPROP_MOMENTUM_BUFFER
    cpdef enum gp_adamax_slot:
        GP_ADAMAX_EXP_AVG
        GP_ADAMAX_EXP_INF

    ctypedef void (*gp_sgemm_fn)(char *, char *, int *, int *, int *, float *, float *, int *,
                                 float *, int *, float *, float *, int *)
    ctypedef void (*gp_dgemm_fn)(char *, char *, int *, int *, int *, double *, double *, int *,
                                 double *, int *, double *, double *, int *)
    ctypedef void (*gp_cblas_sgemm64_fn)(int, int, int, int64_t, int64_t, int64_t, float,
                                         const float *, int64_t, const float *, int64_t, float,
                                         float *, int64_t)
    ctypedef void (*gp_cblas_dgemm64_fn)(int, int, int, int64_t, int64_t, int64_t, double,
                                         const double *, int64_t, const double *, int64_t,
                                         double, double *, int64_t)
    ctypedef int (*gp_blas_get_threads_fn)()
    ctypedef void (*gp_blas_threads_fn)(int)

    ctypedef struct gp_net:
        int n_layers
        const int64_t *units
        const int64_t *coef_offset
        const int64_t *intercept_offset
        int64_t n_coef
        int64_t n_params
        int hidden_activation
        int output_activation
        int loss
        double alpha
        double loss_scale
        int batch_norm
        const int64_t *bn_offset
        int64_t n_running
        double bn_momentum
        double bn_eps
        const double *dropout
        int n_threads
        int64_t chunk_rows
        int whole_products
        gp_sgemm_fn sgemm
        gp_dgemm_fn dgemm
        gp_cblas_sgemm64_fn sgemm64
        gp_cblas_dgemm64_fn dgemm64
    ctypedef struct gp_matrix:
        int64_t n_rows
        int64_t n_cols
        const void *data
        const int64_t *indptr
        const int64_t *indices
    ctypedef struct gp_data:
        gp_matrix X
        const void *Y
        const void *sw
    ctypedef struct gp_dropout_stream:
        uint64_t key
        uint64_t batch
    uint64_t GP_DROPOUT_MAX_BATCH
    double GP_LEAKY_RELU_SLOPE
    ctypedef struct gp_buffers:
        void *params
        void *grad
        void *running
        void *work
        int64_t work_len
        double *scratch
        int64_t scratch_len

    ctypedef struct gp_sgd_hp:
        double momentum
        int nesterov
    ctypedef struct gp_adam_hp:
        double beta_1
        double beta_2
        double epsilon
        int sklearn_form
    ctypedef struct gp_localgain_hp:
        double bonus
        double penalty
        double gain_min
        double gain_max
        double smoothing
        double momentum
    ctypedef struct gp_rprop_hp:
        double eta_plus
        double eta_minus
        double step_min
        double step_max
        int variant
    ctypedef struct gp_adagrad_hp:
        double epsilon
    ctypedef struct gp_adadelta_hp:
        double rho
        double epsilon
    ctypedef struct gp_rmsprop_hp:
        double alpha
        double epsilon
        double momentum
    ctypedef struct gp_adamax_hp:
        double beta_1
        double beta_2
        double epsilon
    ctypedef union gp_optim_hp:
        gp_sgd_hp sgd
        gp_adam_hp adam
        gp_localgain_hp localgain
        gp_rprop_hp rprop
        gp_adagrad_hp adagrad
        gp_adadelta_hp adadelta
        gp_rmsprop_hp rmsprop
        gp_adamax_hp adamax
    ctypedef struct gp_optimizer:
        int kind
        double lr
        gp_optim_hp hp
        int64_t t
        double loss
        double prev_loss
        void *slot[3]
    ctypedef struct gp_l2_fold:
        int64_t n_coef
        double coef
        double sumsq
        double *partial
    ctypedef struct gp_epoch:
        const int64_t *order
        int64_t batch_size
        const double *lrs
        int64_t n_lrs
        double loss_sum
        int64_t n_done
        int64_t n_rows
        int l2_carried
        double l2_sumsq
        gp_dropout_stream dropout

    int GP_MAX_LAYERS
    int GP_OPT_MAX_SLOTS

    int gp_isa()
    const char *gp_isa_name()
    int gp_flushes_subnormals()
    int gp_probe_thread_flush(int n_threads, int *flags)
    int gp_openmp_enabled()
    int gp_serial_after_fork()
    void gp_set_blas_threads(gp_blas_get_threads_fn get, gp_blas_threads_fn set)
    int gp_blas_threads_held()
    void gp_blas_fork_restore()
    int gp_optimizer_complete(const gp_optimizer *opt)
    int64_t gp_l2_fold_partial_size(int64_t n_coef)
    int64_t gp_work_size(const gp_net *net, int64_t n_features, int64_t n_outputs, int dense_gather)
    int64_t gp_forward_work_size(const gp_net *net, int64_t n_features, int64_t n_outputs,
                                 int64_t n_rows)
    int64_t gp_scratch_size(const gp_net *net)
    void gp_dropout_keep(const gp_dropout_stream *s, int layer, double p, int64_t row0,
                         int64_t n_rows, int64_t n_cols, unsigned char *keep)
    void gp_philox4x32(const uint32_t *counter, const uint32_t *key, uint32_t *out)

    int gp_forward_f32(const gp_net *, const gp_matrix *, const gp_buffers *, float *, int)
    int gp_forward_f64(const gp_net *, const gp_matrix *, const gp_buffers *, double *, int)
    int gp_loss_grad_f32(const gp_net *, const gp_data *, const gp_buffers *,
                         const gp_dropout_stream *, double *, double *)
    int gp_loss_grad_f64(const gp_net *, const gp_data *, const gp_buffers *,
                         const gp_dropout_stream *, double *, double *)
    int gp_train_batches_f32(const gp_net *, const gp_data *, const gp_buffers *, gp_optimizer *,
                             gp_epoch *, int64_t, int64_t)
    int gp_train_batches_f64(const gp_net *, const gp_data *, const gp_buffers *, gp_optimizer *,
                             gp_epoch *, int64_t, int64_t)
    int gp_optim_step_f32(gp_optimizer *, int64_t, float *, float *, gp_l2_fold *, int)
    int gp_optim_step_f64(gp_optimizer *, int64_t, double *, double *, gp_l2_fold *, int)


ctypedef fused floating:
    float
    double

MAX_LAYERS = GP_MAX_LAYERS
#: Dropout's batch counter stays below this (56 bits of Philox's counter).
DROPOUT_MAX_BATCH = GP_DROPOUT_MAX_BATCH
#: leaky_relu's negative slope.
LEAKY_RELU_SLOPE = GP_LEAKY_RELU_SLOPE


def _names(enum, prefix):
    """{lower-case name without the prefix: member} of a C enum."""
    return {m.name[len(prefix):].lower(): m for m in enum if m.name.startswith(prefix)}


#: Activations and losses by name, from the C enums.
ACTIVATIONS = _names(gp_activation, "GP_ACT_")
#: The activations a hidden layer may have (the others are output functions).
HIDDEN_ACTIVATIONS = {name: act for name, act in ACTIVATIONS.items()
                      if act not in (GP_ACT_SOFTMAX, GP_ACT_EXP)}
LOSSES = _names(gp_loss, "GP_LOSS_")
#: The state slots of each rule: {kind: {slot name: index}}, from the C enums.
SLOTS = {
    GP_OPT_SGD: _names(gp_sgd_slot, "GP_SGD_"),
    GP_OPT_ADAM: _names(gp_adam_slot, "GP_ADAM_"),
    GP_OPT_LOCALGAIN: _names(gp_localgain_slot, "GP_LOCALGAIN_"),
    GP_OPT_RPROP: _names(gp_rprop_slot, "GP_RPROP_"),
    GP_OPT_ADAGRAD: _names(gp_adagrad_slot, "GP_ADAGRAD_"),
    GP_OPT_ADADELTA: _names(gp_adadelta_slot, "GP_ADADELTA_"),
    GP_OPT_RMSPROP: _names(gp_rmsprop_slot, "GP_RMSPROP_"),
    GP_OPT_ADAMAX: _names(gp_adamax_slot, "GP_ADAMAX_"),
}

# Seconds of C work between two checks for Ctrl-C.
_CHUNK_SECONDS = 0.1


def philox4x32(counter, key):
    """One Philox4x32-10 block (Salmon et al. 2011), the generator of
    dropout's masks: four 32-bit words from a counter of four and a key of
    two (for the tests: Random123's known answers)."""
    cdef uint32_t c[4]
    cdef uint32_t k[2]
    cdef uint32_t out[4]
    cdef int j
    if len(counter) != 4 or len(key) != 2:
        raise ValueError("philox4x32 takes a counter of 4 words and a key of 2")
    for j in range(4):
        c[j] = _uint(counter[j], 32, "counter word")
    for j in range(2):
        k[j] = _uint(key[j], 32, "key word")
    gp_philox4x32(c, k, out)
    return tuple(int(out[j]) for j in range(4))


def dropout_keep(key, batch, int layer, double rate, int64_t row0, int64_t n_rows,
                 int64_t n_cols):
    """Dropout's keep/drop draws as the kernels make them: a uint8 array of
    shape (n_rows, n_cols), 1 where unit j of row row0 + r (counted in its
    mini-batch) of layer `layer` (0: the inputs, i: hidden layer i's outputs)
    is kept in mini-batch number `batch` at rate `rate`.  Every draw is a pure
    function of (key, batch, layer, row, unit)."""
    cdef gp_dropout_stream s
    s.key = _uint(key, 64, "key")
    s.batch = _uint(batch, 64, "batch")
    if s.batch >= GP_DROPOUT_MAX_BATCH:
        raise ValueError(f"batch must be below {GP_DROPOUT_MAX_BATCH}")
    if not 0 <= layer < 256 or not 0 <= rate < 1 or row0 < 0 or n_rows < 0 or n_cols < 0:
        raise ValueError("dropout_keep needs 0 <= layer < 256, 0 <= rate < 1 and "
                         "non-negative rows and columns")
    if n_rows > 2 ** 32 - row0:  # (row0 + n_rows could overflow int64)
        raise ValueError("a mini-batch has fewer than 2**32 rows")
    cdef unsigned char[:, ::1] keep = np.empty((n_rows, n_cols), dtype=np.uint8)
    if n_rows and n_cols:
        gp_dropout_keep(&s, layer, rate, row0, n_rows, n_cols, &keep[0, 0])
    return np.asarray(keep)


cdef uint64_t _uint(value, int bits, str name) except? 0:
    """An integer in [0, 2**bits), else ValueError naming it.  Compared as a
    Python int: with a C int exponent, 2 ** bits is a double here, and a
    numpy integer compared with it is rounded to float64 first (2**64 - 1
    became 2**64 and was refused)."""
    if (isinstance(value, bool) or not isinstance(value, (int, np.integer))
            or int(value) < 0 or int(value) >> bits):
        raise ValueError(f"{name} must be an integer in [0, 2**{bits}), got {value!r}")
    return <uint64_t>int(value)


def openmp_enabled():
    """True when the C kernels were compiled with OpenMP."""
    return bool(gp_openmp_enabled())


def kernel_isa():
    """The instruction set the C kernels run with: "avx2" or "baseline"."""
    return gp_isa_name().decode()


def flushes_subnormals():
    """True when the kernels flush subnormals to zero on this platform (x86
    with SSE, AArch64) while they run."""
    return bool(gp_flushes_subnormals())


def serial_after_fork():
    """True in a process forked after the kernels ran OpenMP threads: they
    run on one thread here (the OpenMP runtime's pool did not survive the
    fork)."""
    return bool(gp_serial_after_fork())


def thread_flush_flags(int n_threads):
    """For the tests: whether each thread of the OpenMP pool that the kernels
    use from this thread flushes subnormals right now (outside any kernel,
    all should be False)."""
    cdef int[::1] flags = np.zeros(max(n_threads, 1), dtype=np.intc)
    cdef int ran = gp_probe_thread_flush(max(n_threads, 1), &flags[0])
    return [bool(f) for f in flags[:ran]]


# The gemm networks made from now on call: NULL means scipy.linalg.cython_blas's
# Fortran sgemm / dgemm; set_ilp64_gemm installs an ILP64 CBLAS pair instead.
cdef gp_cblas_sgemm64_fn _sgemm64 = NULL
cdef gp_cblas_dgemm64_fn _dgemm64 = NULL


def set_ilp64_gemm(size_t sgemm_address, size_t dgemm_address):
    """Make networks created from now on call these CBLAS gemm functions with
    64-bit integers (cblas_sgemm64_ / cblas_dgemm64_ of an ILP64 OpenBLAS,
    given as addresses); 0, 0 goes back to scipy.linalg.cython_blas."""
    global _sgemm64, _dgemm64
    if (sgemm_address == 0) != (dgemm_address == 0):
        raise ValueError("give both gemm addresses or neither")
    _sgemm64 = <gp_cblas_sgemm64_fn>sgemm_address
    _dgemm64 = <gp_cblas_dgemm64_fn>dgemm_address


def ilp64_gemm_addresses():
    """(sgemm, dgemm) addresses networks made now will call; (0, 0) when they
    call scipy.linalg.cython_blas."""
    return <size_t>_sgemm64, <size_t>_dgemm64


def set_blas_threads(size_t get_address, size_t set_address):
    """Install the thread-count functions (openblas_get_num_threads,
    openblas_set_num_threads, as addresses) of the BLAS the products call:
    the kernels hold it at one thread while they run.  0, 0: leave BLAS
    alone.  Returns True when the kernels now hold BLAS themselves."""
    if (get_address == 0) != (set_address == 0):
        raise ValueError("give both BLAS thread functions or neither")
    gp_set_blas_threads(<gp_blas_get_threads_fn>get_address, <gp_blas_threads_fn>set_address)
    return bool(gp_blas_threads_held())


def blas_threads_held():
    """Do the kernels hold BLAS at one thread themselves (see set_blas_threads)?"""
    return bool(gp_blas_threads_held())


def _after_fork_in_child():
    gp_blas_fork_restore()


# A child forked while a kernel of another thread held BLAS at one thread
# gets its BLAS thread count back (the C fork handler may not set it).
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# Choose the kernels' instruction set now, before any of our threads exists.
_isa_request = os.environ.get("GAINPROP_ISA", "")
if _isa_request.strip().lower() not in ("", "auto", "baseline", "avx2"):
    warnings.warn(f"GAINPROP_ISA={_isa_request!r} is not one of 'auto', 'avx2', 'baseline'; "
                  "the kernels use the best instruction set of this CPU", RuntimeWarning)
gp_isa()


# ---------------------------------------------------------------------------
# The boundary: checks of every array against the network's layout
# ---------------------------------------------------------------------------
cdef str _describe(a):
    if not isinstance(a, np.ndarray):
        return type(a).__name__
    flags = a.flags
    what = [word for word, bad in (("unaligned", not flags.aligned),
                                   ("non-contiguous", not flags.c_contiguous),
                                   ("read-only", not flags.writeable)) if bad]
    return " ".join(what + [f"{a.dtype} array of shape {a.shape}"])


cdef _check_array(a, str name, tuple shape, dtype, bint writable=False):
    """a is an aligned C-contiguous ndarray of this dtype and shape (-1: at
    least 0 elements, checked by the caller); else ValueError naming it.  (Written
    as plain loops: every prediction checks four arrays.)"""
    cdef Py_ssize_t i, n = len(shape)
    cdef bint ok = isinstance(a, np.ndarray) and a.ndim == n and a.dtype == dtype
    if ok:
        flags = a.flags
        ok = flags.c_contiguous and flags.aligned and (not writable or flags.writeable)
    if ok:
        got = a.shape
        for i in range(n):
            if shape[i] >= 0 and got[i] != shape[i]:
                ok = False
                break
    if not ok:
        want = " x ".join("any" if s < 0 else str(s) for s in shape)
        raise ValueError(f"{name} must be an aligned C-contiguous"
                         f"{' writable' if writable else ''} "
                         f"{np.dtype(dtype)} array of shape ({want}), got {_describe(a)}")


ctypedef fused index_t:
    int32_t
    int64_t


cdef bint _csr_sound(const index_t[::1] indptr, const index_t[::1] indices,
                     int64_t n_cols) noexcept nogil:
    """indptr non-decreasing from 0 to nnz = len(indices), every index in
    [0, n_cols)."""
    cdef int64_t n = indptr.shape[0] - 1, nnz = indices.shape[0], r, p
    if n < 0 or indptr[0] != 0 or indptr[n] != nnz:
        return False
    for r in range(n):
        if indptr[r + 1] < indptr[r]:
            return False
    for p in range(nnz):
        if indices[p] < 0 or indices[p] >= n_cols:
            return False
    return True


def compressed_sound(indptr, indices, int64_t n_minor):
    """Is (indptr, indices) the structure of a sound compressed sparse matrix
    (CSR, CSC or BSR) with n_minor columns (rows for CSC, block columns for
    BSR)?  indptr rises from 0 to len(indices) and every index is in
    [0, n_minor).  Both must be 1-D integer arrays; any other input is not
    sound.  Reads every index once, without the GIL."""
    if not (isinstance(indptr, np.ndarray) and isinstance(indices, np.ndarray)
            and indptr.ndim == 1 and indices.ndim == 1 and indptr.shape[0] >= 1
            and indptr.dtype.kind in "iu" and indices.dtype.kind in "iu"):
        return False
    cdef const int32_t[::1] indptr32, indices32
    cdef const int64_t[::1] indptr64, indices64
    cdef bint ok
    if indptr.dtype == indices.dtype == np.int32:
        indptr32 = np.ascontiguousarray(indptr)
        indices32 = np.ascontiguousarray(indices)
        with nogil:
            ok = _csr_sound(indptr32, indices32, n_minor)
        return ok
    for a in (indptr, indices):  # uint64 values past the int64 range would wrap
        if a.dtype.kind == "u" and a.dtype.itemsize == 8 and a.size and (
                a.max() > np.iinfo(np.int64).max):
            return False
    indptr64 = np.ascontiguousarray(indptr, dtype=np.int64)
    indices64 = np.ascontiguousarray(indices, dtype=np.int64)
    with nogil:
        ok = _csr_sound(indptr64, indices64, n_minor)
    return ok


cdef bint _all_finite(const floating *x, int64_t n) noexcept nogil:
    """No NaN or infinity among x[0:n]?  x * 0 is 0 for a finite x and NaN
    otherwise; eight independent sums keep the loop from waiting on one."""
    cdef floating acc[8]
    cdef int64_t i, k
    for k in range(8):
        acc[k] = 0
    for i in range(0, n - n % 8, 8):
        for k in range(8):
            acc[k] += x[i + k] * 0
    for i in range(n - n % 8, n):
        acc[0] += x[i] * 0
    for k in range(1, 8):
        acc[0] += acc[k]
    return acc[0] == 0


cdef enum:
    _MAX_SPANS = 16


cdef class _Spans:
    """The memory each array of one call covers, to refuse a call in which a
    buffer the core writes overlaps any other of its arrays (the kernels
    take them as restrict pointers: an overlap would be undefined behaviour,
    and a slot or gradient aliasing the weights would corrupt them)."""
    cdef size_t lo[_MAX_SPANS]
    cdef size_t hi[_MAX_SPANS]
    cdef bint written[_MAX_SPANS]
    cdef list names
    cdef int n

    def __cinit__(self):
        self.names = []
        self.n = 0

    cdef add(self, str name, const void *p, size_t nbytes, bint written):
        if p == NULL or nbytes == 0:
            return
        if self.n == _MAX_SPANS:  # a new entry point with more arrays: raise the bound
            raise RuntimeError(f"gainprop: more than {_MAX_SPANS} arrays in one call")
        self.lo[self.n] = <size_t>p
        self.hi[self.n] = <size_t>p + nbytes
        self.written[self.n] = written
        self.names.append(name)
        self.n += 1

    cdef check(self):
        cdef int i, j
        for i in range(self.n):
            for j in range(i + 1, self.n):
                if ((self.written[i] or self.written[j])
                        and self.lo[i] < self.hi[j] and self.lo[j] < self.hi[i]):
                    raise ValueError(f"{self.names[i]} and {self.names[j]} share memory; "
                                     "every buffer the core writes must be an array of its own")


cdef _input_spans(_Spans spans, const floating[::1] X_data, const int64_t[::1] X_indptr,
                  const int64_t[::1] X_indices):
    spans.add("X", _fptr(X_data), X_data.shape[0] * sizeof(floating), False)
    if X_indptr is not None:
        spans.add("X.indptr", _iptr(X_indptr), X_indptr.shape[0] * sizeof(int64_t), False)
        spans.add("X.indices", _iptr(X_indices), X_indices.shape[0] * sizeof(int64_t), False)


cdef _model_spans(_Spans spans, const floating[::1] params, const floating[::1] running,
                  bint writes):
    spans.add("params", _fptr(params), params.shape[0] * sizeof(floating), writes)
    if running is not None:
        spans.add("running", _fptr(running), running.shape[0] * sizeof(floating), writes)


cdef _target_spans(_Spans spans, const floating[:, ::1] Y, const floating[::1] sample_weight):
    if Y.shape[0]:
        spans.add("Y", &Y[0, 0], Y.shape[0] * Y.shape[1] * sizeof(floating), False)
    if sample_weight is not None:
        spans.add("sample_weight", _fptr(sample_weight),
                  sample_weight.shape[0] * sizeof(floating), False)


cdef _work_spans(_Spans spans, floating[::1] grad, floating[::1] work, double[::1] scratch):
    spans.add("grad", _fptr(grad), grad.shape[0] * sizeof(floating), True)
    spans.add("work", _fptr(work), work.shape[0] * sizeof(floating), True)
    if scratch is not None and scratch.shape[0]:
        spans.add("scratch", &scratch[0], scratch.shape[0] * sizeof(double), True)


cdef _slot_spans(_Spans spans, gp_optimizer *opt, kind, size_t nbytes):
    cdef int j
    for name, j in SLOTS[kind].items():
        spans.add(f"optimizer slot {name!r}", opt.slot[j], nbytes, True)


cdef bint _rows_sound(const int64_t[::1] order, int64_t n_rows) noexcept nogil:
    cdef int64_t i
    for i in range(order.shape[0]):
        if order[i] < 0 or order[i] >= n_rows:
            return False
    return True


cdef class Net:
    """A network's shapes and settings as the C core sees them, and the
    checked entry points into it.

    Parameters
    ----------
    layout : gainprop._engine.Layout
        Units of every layer and the offsets of every W_i, b_i (and batch
        norm's γ_i, β_i) in the flat parameter buffer.
    hidden_activation, output_activation : str
        Names from ``ACTIVATIONS``.
    loss : str
        A name from ``LOSSES``.
    alpha : float
        L2 strength.
    loss_scale : float
        Factor applied to the mean data loss when reporting it (scikit-learn
        reports the squared error averaged over outputs).
    n_threads : int
        Threads of our OpenMP loops.
    chunk_rows : int
        Rows processed per forward/backward block; sizes the work buffer.
    bn_momentum, bn_eps : float
        Running-statistics momentum and variance epsilon (batch norm).
    dropout : sequence of float, optional
        Dropout rate of each hidden layer's outputs, each in [0, 1) (None:
        no dropout).
    input_dropout : float, default=0.0
        Dropout rate of the inputs, in [0, 1).
    """
    cdef gp_net net
    cdef readonly object units, n_params, n_running, n_outputs, n_features
    cdef readonly bint has_dropout, input_dropout
    cdef object _keep
    cdef const int64_t[::1] _units, _coef_offset, _intercept_offset, _bn_offset
    cdef const double[::1] _dropout

    def __init__(self, layout, str hidden_activation, str output_activation, str loss,
                 double alpha, double loss_scale, int n_threads, int64_t chunk_rows,
                 double bn_momentum=0.1, double bn_eps=1e-5, dropout=None,
                 double input_dropout=0.0):
        units = np.ascontiguousarray(layout.units, dtype=np.int64)
        coef = np.ascontiguousarray(layout.coef_offset, dtype=np.int64)
        intercept = np.ascontiguousarray(layout.intercept_offset, dtype=np.int64)
        bn = np.ascontiguousarray(layout.bn_offset if layout.batch_norm else [0], dtype=np.int64)
        if not 2 <= units.shape[0] <= GP_MAX_LAYERS + 1:
            raise ValueError(f"a network needs 1 to {GP_MAX_LAYERS} weight layers")
        if hidden_activation not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"hidden_activation must be one of {sorted(HIDDEN_ACTIVATIONS)}, "
                             f"got {hidden_activation!r}")
        rates = _dropout_rates(dropout, input_dropout, units.shape[0] - 2)
        self._keep = (units, coef, intercept, bn, rates)
        self._units, self._coef_offset, self._intercept_offset, self._bn_offset = self._keep[:4]
        self._dropout = rates
        self.has_dropout = bool(np.any(rates > 0))
        self.input_dropout = rates[0] > 0
        self.units = tuple(int(u) for u in units)
        self.n_params = int(layout.n_params)
        self.n_running = int(layout.n_running)
        self.n_features = self.units[0]
        self.n_outputs = self.units[len(self.units) - 1]
        self.net.n_layers = <int>(units.shape[0] - 1)
        self.net.units = &self._units[0]
        self.net.coef_offset = &self._coef_offset[0]
        self.net.intercept_offset = &self._intercept_offset[0]
        self.net.n_coef = layout.n_coef
        self.net.n_params = layout.n_params
        self.net.hidden_activation = ACTIVATIONS[hidden_activation]
        self.net.output_activation = ACTIVATIONS[output_activation]
        self.net.loss = LOSSES[loss]
        self.net.alpha = alpha
        self.net.loss_scale = loss_scale
        self.net.n_threads = max(1, n_threads)
        self.net.chunk_rows = max(1, chunk_rows)
        self.net.whole_products = 0
        self.net.batch_norm = bool(layout.batch_norm)
        self.net.bn_offset = &self._bn_offset[0]
        self.net.n_running = layout.n_running
        self.net.bn_momentum = bn_momentum
        self.net.bn_eps = bn_eps
        # no rates at all without dropout: the kernels' plain path
        self.net.dropout = &self._dropout[0] if self.has_dropout else NULL
        self.net.sgemm = <gp_sgemm_fn>sgemm
        self.net.dgemm = <gp_dgemm_fn>dgemm
        self.net.sgemm64 = _sgemm64
        self.net.dgemm64 = _dgemm64

    @property
    def chunk_rows(self):
        return self.net.chunk_rows

    @property
    def n_threads(self):
        return self.net.n_threads

    @property
    def loss_scale(self):
        return self.net.loss_scale

    def work_size(self, bint dense_gather, int64_t chunk_rows=0):
        """Elements of the work buffer (params dtype) training and loss_grad
        need, with blocks of chunk_rows rows (0: the network's own): a pass's
        work and, when some block of at most chunk_rows rows is split between
        the threads (csrc gp_splits_some_rows), the second half's gradient;
        ValueError when they cannot be counted in 64 bits."""
        cdef gp_net net = self.net
        cdef int64_t n
        if chunk_rows > 0:
            net.chunk_rows = chunk_rows
        n = gp_work_size(&net, self.n_features, self.n_outputs, dense_gather)
        if n < 0:
            raise ValueError(f"the work memory of a network {list(self.units)} with blocks of "
                             f"{net.chunk_rows} rows cannot be addressed")
        return n

    def forward_work_size(self, int64_t n_rows, int64_t chunk_rows=0):
        """Elements of the work buffer (params dtype) forward needs for
        n_rows rows in blocks of chunk_rows (0: the network's own): one
        block's work for each block run at once (one per thread when there
        are several blocks); ValueError when they cannot be counted in 64
        bits."""
        cdef gp_net net = self.net
        cdef int64_t n
        if chunk_rows > 0:
            net.chunk_rows = chunk_rows
        n = gp_forward_work_size(&net, self.n_features, self.n_outputs, max(0, n_rows))
        if n < 0:
            raise ValueError(f"the work memory of a network {list(self.units)} with blocks of "
                             f"{net.chunk_rows} rows cannot be addressed")
        return n

    def scratch_size(self):
        """Elements of the float64 scratch buffer this network needs."""
        return gp_scratch_size(&self.net)

    # -- checks, one per kind of argument ---------------------------------
    cdef object _check_model(self, params, running, bint uses_running=True, bint writes=True):
        """The parameter buffer and (when the call uses them) the running
        statistics, writable when the call writes them; returns the dtype."""
        dtype = getattr(params, "dtype", None)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"params must be a float32 or float64 array, got {_describe(params)}")
        _check_array(params, "params", (self.n_params,), dtype, writes)
        if self.net.batch_norm and uses_running:
            _check_array(running, "running", (self.n_running,), dtype, writes)
        elif running is not None:
            raise ValueError("running statistics given to a network without batch norm")
        return dtype

    cdef _check_input(self, X, dtype):
        """X (a gainprop._engine.Matrix): its arrays, its column count
        (units[0]) and, for CSR, its structure."""
        cdef int64_t n_rows = X.n_rows
        if X.n_cols != self.n_features:
            raise ValueError(f"X has {X.n_cols} features, but the network takes "
                             f"{self.n_features}")
        if n_rows < 0:
            raise ValueError("X has a negative number of rows")
        if X.indptr is None:
            _check_array(X.data, "X", (n_rows * self.n_features,), dtype)
            return
        _check_array(X.indptr, "X.indptr", (n_rows + 1,), np.int64)
        _check_array(X.indices, "X.indices", (-1,), np.int64)
        _check_array(X.data, "X.data", (X.indices.shape[0],), dtype)
        if not _csr_sound[int64_t](X.indptr, X.indices, self.n_features):
            raise ValueError("X is not a sound CSR matrix: its indptr must rise from 0 to the "
                             "number of stored values, and every column index must be in "
                             f"[0, {self.n_features})")

    cdef _check_targets(self, Y, sample_weight, int64_t n_rows, dtype):
        _check_array(Y, "Y", (n_rows, self.n_outputs), dtype)
        if sample_weight is not None:
            _check_array(sample_weight, "sample_weight", (n_rows,), dtype)

    cdef gp_dropout_stream _check_stream(self, stream, int64_t n_batches) except *:
        """Dropout's stream (an object with int attributes key and batch) for
        n_batches batches from stream.batch on; (0, 0) when the network has
        no dropout and stream is None."""
        cdef gp_dropout_stream s
        s.key = s.batch = 0
        if stream is None:
            if self.has_dropout:
                raise ValueError("a network with dropout needs dropout's stream (key and batch)")
            return s
        if self.has_dropout or stream.key is not None:
            s.key = _uint(stream.key, 64, "dropout's key")
        s.batch = _uint(stream.batch, 64, "dropout's batch")
        if s.batch > GP_DROPOUT_MAX_BATCH - <uint64_t>n_batches:
            raise ValueError(f"dropout's batch counter must stay below {GP_DROPOUT_MAX_BATCH}")
        return s

    cdef _check_work(self, work, scratch, grad, int64_t need, dtype):
        """work holds at least need values; scratch and grad (unless None)
        their sizes."""
        _check_array(work, "work", (-1,), dtype, True)
        if work.shape[0] < need:
            raise ValueError(f"work must hold at least {need} values, got {work.shape[0]}")
        if scratch is not None:
            _check_array(scratch, "scratch", (-1,), np.float64, True)
            if scratch.shape[0] < self.scratch_size():
                raise ValueError(f"scratch must hold at least {self.scratch_size()} values")
        if grad is not None:
            _check_array(grad, "grad", (self.n_params,), dtype, True)

    # -- entry points -------------------------------------------------------
    def forward(self, X, params, running, out, bint apply_output, work, int64_t chunk_rows=0):
        """Forward pass: out (OUT, n_rows x n_outputs) = network output, or
        its logits when not apply_output; batch norm uses the running
        statistics.  X is a gainprop._engine.Matrix; the rows go in blocks
        of chunk_rows (0: the network's own), which size the work buffer."""
        if chunk_rows < 0:
            raise ValueError("chunk_rows must be at least 1 (or 0)")
        dtype = self._check_model(params, running, True, False)
        self._check_input(X, dtype)
        _check_array(out, "out", (X.n_rows, self.n_outputs), dtype, True)
        self._check_work(work, None, None, self.forward_work_size(X.n_rows, chunk_rows), dtype)
        st = self._forward(X.data, X.indptr, X.indices, X.n_rows, params, running, out,
                           apply_output, work, chunk_rows)
        _raise_for(st)

    def _forward(self, const floating[::1] X_data, const int64_t[::1] X_indptr,
                 const int64_t[::1] X_indices, int64_t n_rows,
                 const floating[::1] params, const floating[::1] running,
                 floating[:, ::1] out, bint apply_output, floating[::1] work,
                 int64_t chunk_rows):
        cdef gp_matrix X = _matrix(X_data, X_indptr, X_indices, n_rows, self.net.units[0])
        cdef gp_buffers buf = _buffers(_fptr(params), NULL, _fptr(running), _fptr(work),
                                       work.shape[0], None)
        cdef void *outp = NULL if out.shape[0] == 0 else <void *>&out[0, 0]
        cdef gp_net net = self.net
        cdef int st
        cdef _Spans spans = _Spans()
        _input_spans(spans, X_data, X_indptr, X_indices)
        _model_spans(spans, params, running, False)
        spans.add("out", outp, out.shape[0] * out.shape[1] * sizeof(floating), True)
        spans.add("work", _fptr(work), work.shape[0] * sizeof(floating), True)
        spans.check()
        if chunk_rows > 0:
            net.chunk_rows = chunk_rows
        with nogil:
            if floating is float:
                st = gp_forward_f32(&net, &X, &buf, <float *>outp, apply_output)
            else:
                st = gp_forward_f64(&net, &X, &buf, <double *>outp, apply_output)
        return st

    def forward_rows(self, X, params, running, bint apply_output, bint check_finite):
        """The fast path of a prediction: checks, work memory and the forward
        pass of a plain array in one call.  Returns the network output (or
        its logits when not apply_output) as a new array, or None, having
        done nothing, when X is not a C-contiguous, aligned 2-D ndarray of
        params' dtype with the network's number of columns and at least one row, or
        when check_finite and a value of X is NaN or infinite: the caller
        then takes the general path (whose checks and errors are
        scikit-learn's).  The rows go in blocks of the network's chunk_rows.
        The model is checked as forward checks it; out and the work memory
        are allocated here, so they overlap nothing."""
        if not (type(X) is np.ndarray and X.ndim == 2):
            return None
        shape = X.shape
        flags = X.flags
        if (shape[0] < 1 or shape[1] != self.n_features or not flags.c_contiguous
                or not flags.aligned):
            return None
        dtype = self._check_model(params, running, True, False)
        if X.dtype != dtype:
            return None
        if dtype == np.float32:
            return self._forward_rows[float](X, params, running, apply_output, check_finite,
                                             dtype)
        return self._forward_rows[double](X, params, running, apply_output, check_finite, dtype)

    cdef object _forward_rows(self, const floating[:, ::1] X, const floating[::1] params,
                              const floating[::1] running, bint apply_output,
                              bint check_finite, dtype):
        cdef gp_net net = self.net
        cdef int64_t n_rows = X.shape[0], work_len
        cdef gp_matrix Xm
        cdef gp_buffers buf
        cdef floating[:, ::1] outv
        cdef void *work
        cdef bint finite = True
        cdef int st = GP_OK
        net.chunk_rows = min(n_rows, net.chunk_rows)
        work_len = self.forward_work_size(n_rows, net.chunk_rows)
        if <uint64_t>work_len > SIZE_MAX // sizeof(floating):
            raise ValueError(f"the work memory of a prediction ({work_len} values) cannot be "
                             "addressed")
        out = np.empty((n_rows, self.n_outputs), dtype)
        outv = out
        work = malloc(max(1, work_len) * sizeof(floating))
        if work == NULL:
            raise MemoryError(f"gainprop: no memory for the work buffer of a prediction "
                              f"({work_len} values)")
        Xm.n_rows = n_rows
        Xm.n_cols = X.shape[1]
        Xm.data = &X[0, 0]
        Xm.indptr = Xm.indices = NULL
        buf = _buffers(_fptr(params), NULL, _fptr(running), work, work_len, None)
        with nogil:
            if check_finite:
                finite = _all_finite(&X[0, 0], n_rows * X.shape[1])
            if finite:
                if floating is float:
                    st = gp_forward_f32(&net, &Xm, &buf, &outv[0, 0], apply_output)
                else:
                    st = gp_forward_f64(&net, &Xm, &buf, &outv[0, 0], apply_output)
        free(work)
        _raise_for(st)
        return out if finite else None

    def loss_grad(self, X, Y, sample_weight, params, grad, work, scratch, dropout=None):
        """Mean data loss, L2 term and gradient (OUT: grad) over all rows of X
        (one full batch; batch norm uses batch statistics and leaves the
        running ones alone).  With dropout the rows are one mini-batch whose
        masks are those of batch number ``dropout.batch`` with key
        ``dropout.key`` (IN; the gradient checks fix the masks this way).

        Returns
        -------
        data_loss, l2 : float
        """
        cdef gp_dropout_stream stream
        dtype = self._check_model(params, None, False, False)
        self._check_input(X, dtype)
        self._check_targets(Y, sample_weight, X.n_rows, dtype)
        self._check_work(work, scratch, grad,
                         self.work_size(X.indptr is None and self.input_dropout), dtype)
        if X.n_rows < 1:
            raise ValueError("loss_grad needs at least one row")
        if self.net.batch_norm and X.n_rows > self.net.chunk_rows:
            raise ValueError("with batch norm the rows must fit one block (chunk_rows)")
        if self.has_dropout and X.n_rows > 2 ** 32:
            raise ValueError("a mini-batch has fewer than 2**32 rows")
        stream = self._check_stream(dropout, 1)
        return self._loss_grad(X.data, X.indptr, X.indices, X.n_rows, Y, sample_weight, params,
                               grad, work, scratch, stream.key, stream.batch)

    def _loss_grad(self, const floating[::1] X_data, const int64_t[::1] X_indptr,
                   const int64_t[::1] X_indices, int64_t n_rows, const floating[:, ::1] Y,
                   const floating[::1] sample_weight, const floating[::1] params,
                   floating[::1] grad, floating[::1] work, double[::1] scratch, uint64_t key,
                   uint64_t batch):
        cdef gp_data data
        cdef gp_buffers buf = _buffers(_fptr(params), _fptr(grad), NULL, _fptr(work),
                                       work.shape[0], scratch)
        cdef gp_dropout_stream stream
        cdef double data_loss = 0.0, l2 = 0.0
        cdef int st
        stream.key = key
        stream.batch = batch
        data.X = _matrix(X_data, X_indptr, X_indices, n_rows, self.net.units[0])
        data.Y = NULL if Y.shape[0] == 0 else <const void *>&Y[0, 0]
        data.sw = _fptr(sample_weight)
        spans = _Spans()
        _input_spans(spans, X_data, X_indptr, X_indices)
        _target_spans(spans, Y, sample_weight)
        spans.add("params", _fptr(params), params.shape[0] * sizeof(floating), False)
        _work_spans(spans, grad, work, scratch)
        spans.check()
        with nogil:
            if floating is float:
                st = gp_loss_grad_f32(&self.net, &data, &buf, &stream, &data_loss, &l2)
            else:
                st = gp_loss_grad_f64(&self.net, &data, &buf, &stream, &data_loss, &l2)
        _raise_for(st)
        return data_loss, l2

    def train_epoch(self, X, Y, sample_weight, order, int64_t batch_size, batch_lrs, params,
                    grad, running, optimizer, work, scratch, dropout=None):
        """Train one pass over the data: every mini-batch, with the GIL
        released.

        X, Y, sample_weight (IN) are the data, order (IN) the row order of
        the pass or None, batch_lrs (IN) the rate of each batch or None;
        params, running and optimizer's state are INOUT, grad, work and
        scratch work memory.  dropout (INOUT; required with dropout) is
        dropout's stream, an object with int attributes key and batch: the
        masks of the pass's batches are those of batch numbers batch, batch +
        1, ..., and batch is advanced by the batches done.  The batches run
        in chunks of about 0.1 s;
        between chunks the GIL is taken to check for Ctrl-C, which raises
        KeyboardInterrupt with the model consistent (every batch either fully
        applied or not at all).

        Returns
        -------
        loss_sum : float
            Sum over the batches stepped of batch loss times batch size.
        n_rows : int
            Rows of the batches stepped (not of batches skipped because their
            weights sum to 0).
        status : gp_status
            GP_OK, or GP_NONFINITE_LOSS when a batch loss was not finite
            (that batch was not stepped).
        """
        cdef int64_t n_rows = X.n_rows
        cdef gp_dropout_stream stream
        dtype = self._check_model(params, running)
        self._check_input(X, dtype)
        self._check_targets(Y, sample_weight, n_rows, dtype)
        dense_gather = X.indptr is None and (order is not None or self.input_dropout)
        self._check_work(work, scratch, grad, self.work_size(dense_gather), dtype)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if self.net.batch_norm and batch_size > self.net.chunk_rows:
            raise ValueError("with batch norm a batch must fit one block (chunk_rows)")
        if self.has_dropout and batch_size > 2 ** 32:
            raise ValueError("with dropout a mini-batch has fewer than 2**32 rows")
        # a batch past the rows is one batch of them (and n_rows + batch_size
        # would overflow int64 here and in the core for a batch_size near 2**63)
        batch_size = min(batch_size, max(n_rows, 1))
        n_batches = (n_rows + batch_size - 1) // batch_size
        stream = self._check_stream(dropout, n_batches)
        if order is not None:
            _check_array(order, "order", (n_rows,), np.int64)
            if not _rows_sound(order, n_rows):
                raise ValueError(f"order must hold row numbers in [0, {n_rows})")
        if batch_lrs is not None:
            _check_array(batch_lrs, "batch_lrs", (n_batches,), np.float64)
        slots = _optimizer_slots(optimizer, self.n_params, dtype)
        return self._train_epoch(X.data, X.indptr, X.indices, n_rows, Y, sample_weight, order,
                                 batch_size, batch_lrs, params, grad, running, optimizer, slots,
                                 work, scratch, dropout, stream.key, stream.batch)

    def _train_epoch(self, const floating[::1] X_data, const int64_t[::1] X_indptr,
                     const int64_t[::1] X_indices, int64_t n_rows, const floating[:, ::1] Y,
                     const floating[::1] sample_weight, const int64_t[::1] order,
                     int64_t batch_size, const double[::1] batch_lrs, floating[::1] params,
                     floating[::1] grad, floating[::1] running, optimizer, list slots,
                     floating[::1] work, double[::1] scratch, dropout, uint64_t key,
                     uint64_t batch):
        cdef gp_data data
        cdef gp_buffers buf = _buffers(_fptr(params), _fptr(grad), _fptr(running), _fptr(work),
                                       work.shape[0], scratch)
        cdef gp_optimizer opt
        cdef gp_epoch ep
        cdef int64_t n_batches = (n_rows + batch_size - 1) // batch_size
        cdef int64_t b = 0, step = 1, e
        cdef double elapsed
        cdef int st = GP_OK
        data.X = _matrix(X_data, X_indptr, X_indices, n_rows, self.net.units[0])
        data.Y = NULL if Y.shape[0] == 0 else <const void *>&Y[0, 0]
        data.sw = _fptr(sample_weight)
        _fill_optimizer(&opt, optimizer, slots)
        ep.order = NULL if order is None or order.shape[0] == 0 else &order[0]
        ep.batch_size = batch_size
        ep.lrs = NULL if batch_lrs is None else &batch_lrs[0]
        ep.n_lrs = 0 if batch_lrs is None else batch_lrs.shape[0]
        ep.loss_sum = 0.0
        ep.n_done = ep.n_rows = 0
        ep.l2_carried = 0
        ep.l2_sumsq = 0.0
        spans = _Spans()
        _input_spans(spans, X_data, X_indptr, X_indices)
        _target_spans(spans, Y, sample_weight)
        if order is not None:
            spans.add("order", ep.order, order.shape[0] * sizeof(int64_t), False)
        if batch_lrs is not None:
            spans.add("batch_lrs", ep.lrs, batch_lrs.shape[0] * sizeof(double), False)
        _model_spans(spans, params, running, True)
        _work_spans(spans, grad, work, scratch)
        _slot_spans(spans, &opt, optimizer.kind, params.shape[0] * sizeof(floating))
        spans.check()
        ep.dropout.key = key
        ep.dropout.batch = batch
        try:
            while b < n_batches:
                e = min(n_batches, b + step)
                t0 = time.perf_counter()
                with nogil:
                    if floating is float:
                        st = gp_train_batches_f32(&self.net, &data, &buf, &opt, &ep, b, e)
                    else:
                        st = gp_train_batches_f64(&self.net, &data, &buf, &opt, &ep, b, e)
                elapsed = time.perf_counter() - t0
                b = ep.n_done
                if st != GP_OK:
                    break
                PyErr_CheckSignals()
                # aim for chunks of _CHUNK_SECONDS, growing at most 8x at a time
                step = max(1, min(8 * step, <int64_t>(step * _CHUNK_SECONDS / max(elapsed, 1e-6))))
        finally:
            optimizer.step = opt.t
            optimizer.prev_loss = opt.prev_loss
            optimizer.lr = opt.lr
            if dropout is not None:
                dropout.batch = int(ep.dropout.batch)
        if st == GP_BAD_ARGUMENT:
            _raise_for(st)
        return ep.loss_sum, ep.n_rows, gp_status(st)


cdef _dropout_rates(dropout, double input_dropout, int64_t n_hidden):
    """[input rate, one rate per hidden layer] as float64, each checked to
    be in [0, 1)."""
    hidden = np.zeros(n_hidden) if dropout is None else np.asarray(dropout, dtype=np.float64)
    if hidden.shape != (n_hidden,):
        raise ValueError(f"dropout must hold one rate per hidden layer ({n_hidden}), got "
                         f"{hidden.shape[0] if hidden.ndim == 1 else hidden.shape}")
    rates = np.ascontiguousarray(np.concatenate([[input_dropout], hidden]))
    if not np.all((rates >= 0) & (rates < 1)):
        raise ValueError(f"dropout rates must be in [0, 1), got {rates.tolist()}")
    return rates


cdef gp_matrix _matrix(const floating[::1] data, const int64_t[::1] indptr,
                       const int64_t[::1] indices, int64_t n_rows, int64_t n_cols):
    cdef gp_matrix X
    X.n_rows = n_rows
    X.n_cols = n_cols
    X.data = _fptr(data)
    X.indptr = _iptr(indptr)
    X.indices = _iptr(indices)
    return X


cdef gp_buffers _buffers(void *params, void *grad, void *running, void *work, int64_t work_len,
                         double[::1] scratch):
    cdef gp_buffers buf
    buf.params = params
    buf.grad = grad
    buf.running = running
    buf.work = work
    buf.work_len = work_len
    buf.scratch = NULL if scratch is None or scratch.shape[0] == 0 else &scratch[0]
    buf.scratch_len = 0 if scratch is None else scratch.shape[0]
    return buf


cdef inline const int64_t *_iptr(const int64_t[::1] a) noexcept nogil:
    return NULL if a is None or a.shape[0] == 0 else &a[0]


cdef inline void *_fptr(const floating[::1] a) noexcept nogil:
    # (const dropped: the C prototypes say which arguments are read-only)
    return NULL if a is None or a.shape[0] == 0 else <void *>&a[0]


cdef _raise_for(int status):
    if status == GP_BAD_ARGUMENT:  # the checks above should make this unreachable
        raise ValueError("gainprop core: an argument failed the core's structural checks")


# ---------------------------------------------------------------------------
# Optimizers: the one place that fills the C struct from an _OptimizerState
# ---------------------------------------------------------------------------
cdef list _optimizer_slots(state, int64_t n_params, dtype):
    """The state's slot arrays in the C rule's order (None where absent),
    each checked; ValueError for an unknown kind, an unknown or malformed slot,
    or a missing one the rule reads."""
    kind = state.kind
    if kind not in SLOTS:
        raise ValueError(f"optimizer state: unknown rule {kind!r}")
    index = SLOTS[kind]
    slots = [None] * GP_OPT_MAX_SLOTS
    if not isinstance(state.slots, dict):
        raise ValueError("optimizer state: slots must be a dict of arrays")
    for name, arr in state.slots.items():
        if name not in index:
            raise ValueError(f"optimizer state: {gp_optim_kind(kind).name} has no slot {name!r}")
        _check_array(arr, f"optimizer slot {name!r}", (n_params,), dtype, True)
        slots[index[name]] = arr
    return slots


cdef dict _hyper_fields(gp_optim_kind kind):
    """The field names of a rule's hyperparameter struct (from the struct)."""
    cdef gp_optim_hp hp
    memset(&hp, 0, sizeof(hp))
    if kind == GP_OPT_SGD:
        return hp.sgd
    if kind == GP_OPT_ADAM:
        return hp.adam
    if kind == GP_OPT_LOCALGAIN:
        return hp.localgain
    if kind == GP_OPT_RPROP:
        return hp.rprop
    if kind == GP_OPT_ADAGRAD:
        return hp.adagrad
    if kind == GP_OPT_ADADELTA:
        return hp.adadelta
    if kind == GP_OPT_RMSPROP:
        return hp.rmsprop
    return hp.adamax


cdef _fill_optimizer(gp_optimizer *opt, state, list slots):
    """opt <- state (kind, rate, hyperparameters by name, step, losses, slots).
    ValueError when the hyperparameters are not exactly the rule's struct's
    (names, real values, flags 0 or 1, a known Rprop variant) or a slot the
    rule reads is missing."""
    cdef int j
    kind = gp_optim_kind(state.kind)
    rule = getattr(getattr(state, "rule", None), "__class__", type(None)).__name__
    hyper = state.hyper
    fields = _hyper_fields(kind)
    if not isinstance(hyper, dict) or set(hyper) != set(fields):
        raise ValueError(f"optimizer state: {rule} has the hyperparameters {sorted(fields)}, "
                         f"got {sorted(hyper) if isinstance(hyper, dict) else hyper!r}")
    for name, value in hyper.items():
        if isinstance(fields[name], int):  # a flag or the Rprop variant
            if not isinstance(value, (int, np.integer)) or not (
                    0 <= value < (GP_RPROP_N_VARIANTS if name == "variant" else 2)):
                raise ValueError(f"optimizer state: {rule}'s {name} must be an integer flag "
                                 f"or variant, got {value!r}")
        elif not isinstance(value, (float, int, np.floating, np.integer)) or isinstance(
                value, bool) or not np.isfinite(value):
            raise ValueError(f"optimizer state: {rule}'s {name} must be a finite number, "
                             f"got {value!r}")
    opt.kind = kind
    opt.lr = state.lr
    opt.t = state.step
    opt.loss = getattr(state, "loss", state.prev_loss)
    opt.prev_loss = state.prev_loss
    if kind == GP_OPT_SGD:
        opt.hp.sgd = hyper
    elif kind == GP_OPT_ADAM:
        opt.hp.adam = hyper
    elif kind == GP_OPT_LOCALGAIN:
        opt.hp.localgain = hyper
    elif kind == GP_OPT_RPROP:
        opt.hp.rprop = hyper
    elif kind == GP_OPT_ADAGRAD:
        opt.hp.adagrad = hyper
    elif kind == GP_OPT_ADADELTA:
        opt.hp.adadelta = hyper
    elif kind == GP_OPT_RMSPROP:
        opt.hp.rmsprop = hyper
    else:
        opt.hp.adamax = hyper
    for j in range(GP_OPT_MAX_SLOTS):
        opt.slot[j] = NULL if slots[j] is None else <void *>(<size_t>slots[j].ctypes.data)
    if not gp_optimizer_complete(opt):
        names = ", ".join(n for n, i in SLOTS[kind].items() if slots[i] is None)
        raise ValueError(f"optimizer state: {rule} (with these settings) reads a slot that is "
                         f"missing ({names})")


def optimizer_step(params, grad, optimizer, int n_threads=1, l2=None):
    """Apply one fused optimizer step to a flat parameter buffer.

    params (INOUT) and grad (IN; written with the L2 fold) are flat arrays
    of one dtype; `optimizer` (INOUT) is an _OptimizerState (its step and
    prev_loss are updated; an attribute `loss` is the loss at the current
    weights for loss-aware rules).  l2=(n_coef, coef) is the L2 fold
    (gp_l2_fold): after the rule, grad's first n_coef values become coef
    times the new weights (the next batch's L2 term; grad must already hold
    this batch's) and the step returns the new weights' square sum.  Used by
    tests to feed gradients directly to the update rule.
    """
    dtype = getattr(params, "dtype", None)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"params must be a float32 or float64 array, got {_describe(params)}")
    n = params.shape[0] if params.ndim == 1 else -1
    _check_array(params, "params", (n,), dtype, True)
    _check_array(grad, "grad", (n,), dtype, l2 is not None)
    slots = _optimizer_slots(optimizer, n, dtype)
    if l2 is not None and not 0 <= l2[0] <= n:
        raise ValueError(f"l2's n_coef must be in [0, {n}]")
    return _step(params, grad, optimizer, slots, max(1, n_threads), l2)


def _step(floating[::1] params, floating[::1] grad, optimizer, list slots, int n_threads, l2):
    cdef gp_optimizer opt
    cdef gp_l2_fold fold
    cdef gp_l2_fold *foldp = NULL
    cdef int64_t n = params.shape[0]
    cdef int st
    cdef double[::1] partial
    _fill_optimizer(&opt, optimizer, slots)
    if l2 is not None:
        fold.n_coef = l2[0]
        fold.coef = l2[1]
        partial = np.zeros(gp_l2_fold_partial_size(fold.n_coef), dtype=np.float64)
        fold.partial = &partial[0]
        foldp = &fold
    if n == 0:
        return None
    spans = _Spans()
    spans.add("params", &params[0], n * sizeof(floating), True)
    spans.add("grad", &grad[0], n * sizeof(floating), l2 is not None)
    _slot_spans(spans, &opt, optimizer.kind, n * sizeof(floating))
    spans.check()
    with nogil:
        if floating is float:
            st = gp_optim_step_f32(&opt, n, &params[0], &grad[0], foldp, n_threads)
        else:
            st = gp_optim_step_f64(&opt, n, &params[0], &grad[0], foldp, n_threads)
    _raise_for(st)
    optimizer.step = opt.t
    optimizer.prev_loss = opt.prev_loss
    return fold.sumsq if l2 is not None else None
