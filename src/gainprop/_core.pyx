# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: cdivision=True, embedsignature=True
"""Thin bindings to the C core (csrc/).

This module checks nothing the Python layer has already validated and does no
math: it turns memoryviews into C pointers, hands C the BLAS gemm of
scipy.linalg.cython_blas, releases the GIL, and checks for Ctrl-C between
chunks of mini-batches.  Arguments are marked IN / OUT / INOUT.
"""
import os
import time
import warnings

import numpy as np

from cpython.exc cimport PyErr_CheckSignals
from libc.stdint cimport int64_t
from scipy.linalg.cython_blas cimport dgemm, sgemm


cdef extern from "gainprop.h" nogil:
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
        double bn_momentum
        double bn_eps
        int n_threads
        int64_t chunk_rows
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
    ctypedef struct gp_optimizer:
        int kind
        double lr
        double hp[8]
        int64_t t
        double loss
        double prev_loss
        void *state[4]
        int l2_carried
        double l2_sumsq
    int GP_MAX_LAYERS
    int GP_OPT_MAX_HP
    int GP_OPT_MAX_STATE

    int gp_isa()
    const char *gp_isa_name()
    int gp_flushes_subnormals()
    int gp_probe_thread_flush(int n_threads, int *flags)
    int gp_openmp_enabled()
    int64_t gp_work_size(const gp_net *net, int64_t n_features, int64_t n_outputs, int dense_gather)
    int64_t gp_scratch_size(const gp_net *net)

    int gp_forward_f32(const gp_net *, const gp_matrix *, const float *, const float *, float *,
                       int, float *)
    int gp_forward_f64(const gp_net *, const gp_matrix *, const double *, const double *,
                       double *, int, double *)
    int gp_loss_grad_f32(const gp_net *, const gp_matrix *, const float *, const float *,
                         const int64_t *, int64_t, const float *, float *, float *, double *,
                         double *, double *)
    int gp_loss_grad_f64(const gp_net *, const gp_matrix *, const double *, const double *,
                         const int64_t *, int64_t, const double *, double *, double *, double *,
                         double *, double *)
    int gp_train_batches_f32(const gp_net *, const gp_matrix *, const float *, const float *,
                             const int64_t *, int64_t, int64_t, int64_t, int64_t, const double *,
                             float *, float *, float *, gp_optimizer *, float *, double *,
                             double *, int64_t *)
    int gp_train_batches_f64(const gp_net *, const gp_matrix *, const double *, const double *,
                             const int64_t *, int64_t, int64_t, int64_t, int64_t, const double *,
                             double *, double *, double *, gp_optimizer *, double *, double *,
                             double *, int64_t *)
    void gp_optim_step_f32(gp_optimizer *, int64_t, float *, const float *, int)
    void gp_optim_step_f64(gp_optimizer *, int64_t, double *, const double *, int)


ctypedef fused floating:
    float
    double

MAX_LAYERS = GP_MAX_LAYERS
MAX_HYPERPARAMETERS = GP_OPT_MAX_HP
MAX_STATE_SLOTS = GP_OPT_MAX_STATE

# Status codes of the C core (gp_status).
STATUS_OK = 0
STATUS_NONFINITE_LOSS = 1
STATUS_BAD_ARGUMENT = 2

# Seconds of C work between two checks for Ctrl-C.
_CHUNK_SECONDS = 0.1


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


def thread_flush_flags(int n_threads):
    """For the tests: whether each thread of the OpenMP pool that the kernels
    use from this thread flushes subnormals right now (outside any kernel,
    all should be False)."""
    cdef int[::1] flags = np.zeros(max(n_threads, 1), dtype=np.intc)
    cdef int ran = gp_probe_thread_flush(n_threads, &flags[0])
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


# Choose the kernels' instruction set now, before any of our threads exists.
_isa_request = os.environ.get("GAINPROP_ISA", "")
if _isa_request.strip().lower() not in ("", "auto", "baseline", "avx2"):
    warnings.warn(f"GAINPROP_ISA={_isa_request!r} is not one of 'auto', 'avx2', 'baseline'; "
                  "the kernels use the best instruction set of this CPU", RuntimeWarning)
gp_isa()


cdef inline const int64_t *_iptr(const int64_t[::1] a) noexcept nogil:
    return NULL if a is None or a.shape[0] == 0 else &a[0]


cdef inline void *_fptr(const floating[::1] a) noexcept nogil:
    # (const dropped: the C prototypes say which arguments are read-only)
    return NULL if a is None or a.shape[0] == 0 else <void *>&a[0]


cdef class Net:
    """A network's shapes and settings as the C core sees them.

    Parameters
    ----------
    units : sequence of int
        Units of every layer, inputs first, outputs last.
    hidden_activation, output_activation, loss : int
        gp_activation / gp_loss codes (see gainprop._layout).
    alpha : float
        L2 strength.
    loss_scale : float
        Factor applied to the mean data loss when reporting it (scikit-learn
        reports the squared error averaged over outputs).
    n_threads : int
        Threads of our OpenMP loops.
    chunk_rows : int
        Rows processed per forward/backward block; sizes the work buffer.
    coef_offset, intercept_offset : sequence of int
        Offsets of every W_i and b_i in the flat buffer.
    n_coef, n_params : int
        Weights (the L2 prefix) and all parameters.
    bn_offset : sequence of int or None
        Batch normalisation: offset of each hidden layer's gamma (beta
        follows); None without batch normalisation.
    bn_momentum, bn_eps : float
        Running-statistics momentum and variance epsilon.
    """
    cdef gp_net net
    cdef readonly object units_array, coef_offset_array, intercept_offset_array, bn_offset_array
    cdef const int64_t[::1] _units, _coef_offset, _intercept_offset, _bn_offset

    def __init__(self, units, int hidden_activation, int output_activation, int loss,
                 double alpha, double loss_scale, int n_threads, int64_t chunk_rows,
                 coef_offset, intercept_offset, int64_t n_coef, int64_t n_params,
                 bn_offset=None, double bn_momentum=0.1, double bn_eps=1e-5):
        import numpy as np
        self.units_array = np.ascontiguousarray(units, dtype=np.int64)
        self.coef_offset_array = np.ascontiguousarray(coef_offset, dtype=np.int64)
        self.intercept_offset_array = np.ascontiguousarray(intercept_offset, dtype=np.int64)
        self._units = self.units_array
        self._coef_offset = self.coef_offset_array
        self._intercept_offset = self.intercept_offset_array
        self.net.n_layers = <int>(self._units.shape[0] - 1)
        self.net.units = &self._units[0]
        self.net.coef_offset = &self._coef_offset[0]
        self.net.intercept_offset = &self._intercept_offset[0]
        self.net.n_coef = n_coef
        self.net.n_params = n_params
        self.net.hidden_activation = hidden_activation
        self.net.output_activation = output_activation
        self.net.loss = loss
        self.net.alpha = alpha
        self.net.loss_scale = loss_scale
        self.net.n_threads = max(1, n_threads)
        self.net.chunk_rows = max(1, chunk_rows)
        self.net.batch_norm = bn_offset is not None and len(bn_offset) > 0
        self.bn_offset_array = np.ascontiguousarray(
            bn_offset if self.net.batch_norm else [0], dtype=np.int64)
        self._bn_offset = self.bn_offset_array
        self.net.bn_offset = &self._bn_offset[0]
        self.net.bn_momentum = bn_momentum
        self.net.bn_eps = bn_eps
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

    def work_size(self, int64_t n_features, int64_t n_outputs, bint dense_gather):
        """Elements of the work buffer (params dtype) this network needs."""
        return gp_work_size(&self.net, n_features, n_outputs, dense_gather)

    def scratch_size(self):
        """Elements of the float64 scratch buffer this network needs."""
        return gp_scratch_size(&self.net)

    def forward(self,
                const floating[::1] X_data,        # IN  dense rows (flat) or CSR values
                const int64_t[::1] X_indptr,       # IN  None for dense
                const int64_t[::1] X_indices,      # IN  None for dense
                int64_t n_rows, int64_t n_cols,
                const floating[::1] params,         # IN
                const floating[::1] running,        # IN  batch-norm running statistics, or None
                floating[:, ::1] out,               # OUT (n_rows, n_outputs)
                bint apply_output,
                floating[::1] work):                # scratch
        """Forward pass: out = network output (or logits if not apply_output)."""
        cdef gp_matrix X = _matrix(X_data, X_indptr, X_indices, n_rows, n_cols)
        cdef int st
        cdef void *outp = NULL if out.shape[0] == 0 else <void *>&out[0, 0]
        with nogil:
            if floating is float:
                st = gp_forward_f32(&self.net, &X, &params[0], <float *>_fptr(running),
                                    <float *>outp, apply_output, <float *>_fptr(work))
            else:
                st = gp_forward_f64(&self.net, &X, &params[0], <double *>_fptr(running),
                                    <double *>outp, apply_output, <double *>_fptr(work))
        return st

    def loss_grad(self,
                  const floating[::1] X_data, const int64_t[::1] X_indptr,
                  const int64_t[::1] X_indices, int64_t n_rows, int64_t n_cols,
                  const floating[:, ::1] Y,         # IN  targets (n_rows, n_outputs)
                  const floating[::1] sample_weight,  # IN  or None
                  const floating[::1] params,       # IN
                  floating[::1] grad,               # OUT
                  floating[::1] work, double[::1] scratch):
        """Mean data loss, L2 term and gradient over all rows (one full batch).

        Returns
        -------
        data_loss, l2 : float
        """
        cdef gp_matrix X = _matrix(X_data, X_indptr, X_indices, n_rows, n_cols)
        cdef double data_loss = 0.0, l2 = 0.0
        cdef const void *yp = NULL if Y.shape[0] == 0 else <const void *>&Y[0, 0]
        with nogil:
            if floating is float:
                gp_loss_grad_f32(&self.net, &X, <float *>yp, <float *>_fptr(sample_weight),
                                 NULL, n_rows, &params[0], &grad[0], <float *>_fptr(work),
                                 &scratch[0], &data_loss, &l2)
            else:
                gp_loss_grad_f64(&self.net, &X, <double *>yp, <double *>_fptr(sample_weight),
                                 NULL, n_rows, &params[0], &grad[0], <double *>_fptr(work),
                                 &scratch[0], &data_loss, &l2)
        return data_loss, l2

    def train_epoch(self,
                    const floating[::1] X_data, const int64_t[::1] X_indptr,
                    const int64_t[::1] X_indices, int64_t n_rows, int64_t n_cols,
                    const floating[:, ::1] Y,          # IN
                    const floating[::1] sample_weight, # IN or None
                    const int64_t[::1] order,          # IN  row order, or None
                    int64_t batch_size,
                    const double[::1] batch_lrs,       # IN  rate of each batch, or None
                    floating[::1] params,              # INOUT
                    floating[::1] grad,                # work memory (gradients)
                    floating[::1] running,             # INOUT batch-norm running stats, or None
                    optimizer,                         # INOUT: an _OptimizerState
                    floating[::1] work, double[::1] scratch):
        """Train one epoch: every mini-batch, with the GIL released.

        The batches run in chunks of about 0.1 s; between chunks the GIL is
        taken to check for Ctrl-C, which raises KeyboardInterrupt with the
        model consistent (every batch either fully applied or not at all).

        Returns
        -------
        loss_sum : float
            Sum over the batches done of batch loss times batch size.
        n_done : int
            Batches stepped.
        status : int
            STATUS_OK, or STATUS_NONFINITE_LOSS when a batch loss was not
            finite (that batch was not stepped).
        """
        cdef gp_matrix X = _matrix(X_data, X_indptr, X_indices, n_rows, n_cols)
        cdef gp_optimizer opt
        cdef int64_t n_batches = (n_rows + batch_size - 1) // batch_size
        cdef int64_t b = 0, step = 1, done = 0, e
        cdef double loss_sum = 0.0, elapsed
        cdef int st = 0, j
        cdef floating[::1] slot
        cdef const void *yp = NULL if Y.shape[0] == 0 else <const void *>&Y[0, 0]
        cdef const double *lrp = NULL if batch_lrs is None else &batch_lrs[0]
        cdef list keep = []

        opt.kind = optimizer.kind
        opt.lr = optimizer.lr
        hyper = optimizer.hyper
        for j in range(GP_OPT_MAX_HP):
            opt.hp[j] = hyper[j] if j < len(hyper) else 0.0
        opt.t = optimizer.step
        opt.loss = optimizer.prev_loss
        opt.prev_loss = optimizer.prev_loss
        opt.l2_carried = 0
        slots = optimizer.slots
        for j in range(GP_OPT_MAX_STATE):
            if j < len(slots) and slots[j] is not None:
                slot = slots[j]
                keep.append(slot)
                opt.state[j] = <void *>&slot[0]
            else:
                opt.state[j] = NULL

        try:
            while b < n_batches:
                e = min(n_batches, b + step)
                t0 = time.perf_counter()
                with nogil:
                    if floating is float:
                        st = gp_train_batches_f32(&self.net, &X, <float *>yp,
                                                  <float *>_fptr(sample_weight), _iptr(order),
                                                  n_rows, batch_size, b, e, lrp, &params[0],
                                                  &grad[0], <float *>_fptr(running), &opt,
                                                  <float *>_fptr(work),
                                                  &scratch[0], &loss_sum, &done)
                    else:
                        st = gp_train_batches_f64(&self.net, &X, <double *>yp,
                                                  <double *>_fptr(sample_weight), _iptr(order),
                                                  n_rows, batch_size, b, e, lrp, &params[0],
                                                  &grad[0], <double *>_fptr(running), &opt,
                                                  <double *>_fptr(work),
                                                  &scratch[0], &loss_sum, &done)
                elapsed = time.perf_counter() - t0
                b += done
                if st != 0:
                    break
                PyErr_CheckSignals()
                # aim for chunks of _CHUNK_SECONDS, growing at most 8x at a time
                step = max(1, min(8 * step, <int64_t>(step * _CHUNK_SECONDS / max(elapsed, 1e-6))))
        finally:
            optimizer.step = opt.t
            optimizer.prev_loss = opt.prev_loss
            optimizer.lr = opt.lr
        return loss_sum, b, st

    def optimizer_step(self, floating[::1] params, const floating[::1] grad, optimizer):
        """One optimizer step over the whole buffer (the Python twin of the C
        driver, for tests)."""
        return optimizer_step(params, grad, optimizer, self.net.n_threads)


cdef gp_matrix _matrix(const floating[::1] data, const int64_t[::1] indptr,
                       const int64_t[::1] indices, int64_t n_rows, int64_t n_cols):
    cdef gp_matrix X
    X.n_rows = n_rows
    X.n_cols = n_cols
    X.data = _fptr(data)
    X.indptr = _iptr(indptr)
    X.indices = _iptr(indices)
    if indptr is not None and X.indptr == NULL:
        raise ValueError("CSR indptr must not be empty")
    return X


def optimizer_step(floating[::1] params,            # INOUT
                   const floating[::1] grad,        # IN
                   optimizer,                       # INOUT: an _OptimizerState
                   int n_threads=1):
    """Apply one fused optimizer step to a flat parameter buffer.

    `optimizer` carries kind, lr, hyper, step, prev_loss, loss and slots;
    step and prev_loss are updated.  Used by tests to feed gradients
    directly to the update rule.
    """
    cdef gp_optimizer opt
    cdef int j
    cdef floating[::1] slot
    cdef list keep = []
    cdef int64_t n = params.shape[0]
    if grad.shape[0] != n:
        raise ValueError("params and grad differ in length")
    opt.kind = optimizer.kind
    opt.lr = optimizer.lr
    hyper = optimizer.hyper
    for j in range(GP_OPT_MAX_HP):
        opt.hp[j] = hyper[j] if j < len(hyper) else 0.0
    opt.t = optimizer.step
    opt.loss = getattr(optimizer, "loss", optimizer.prev_loss)
    opt.prev_loss = optimizer.prev_loss
    opt.l2_carried = 0
    slots = optimizer.slots
    for j in range(GP_OPT_MAX_STATE):
        if j < len(slots) and slots[j] is not None:
            slot = slots[j]
            if slot.shape[0] != n:
                raise ValueError("optimizer state slot %d has the wrong length" % j)
            keep.append(slot)
            opt.state[j] = <void *>&slot[0]
        else:
            opt.state[j] = NULL
    if n == 0:
        return
    with nogil:
        if floating is float:
            gp_optim_step_f32(&opt, n, &params[0], &grad[0], max(1, n_threads))
        else:
            gp_optim_step_f64(&opt, n, &params[0], &grad[0], max(1, n_threads))
    optimizer.step = opt.t
    optimizer.prev_loss = opt.prev_loss
