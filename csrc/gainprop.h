/*
 * gainprop: the C core of a multi-layer perceptron trainer.
 *
 * C99 + optional OpenMP, no Python headers.  Every function exists twice, for
 * float (suffix _f32) and double (suffix _f64); both are generated from one
 * template (gp_net_impl.h, optim/step_impl.h) included twice.
 *
 * Conventions
 * -----------
 * - Matrices are row-major.  A layer maps units[i] inputs to units[i+1]
 *   outputs with W_i of shape (units[i], units[i+1]) and bias b_i.
 * - All trainable parameters live in ONE flat buffer `params`, laid out as
 *   scikit-learn packs them for L-BFGS: every W_i (row-major) in layer order,
 *   then every b_i.  The weights thus form the prefix [0, n_coef) of the
 *   buffer, which is the part L2 regularisation applies to.  The gradient
 *   buffer has the same layout.
 * - With batch normalisation, the scale γ and shift β of each hidden layer
 *   follow the biases in the buffer ([γ_1, β_1, γ_2, β_2, ...]); the running
 *   mean and variance (not trained) live in a separate buffer `running` laid
 *   out the same way ([mean_1, var_1, ...]).  Training uses batch statistics
 *   (a batch is then never split into blocks) and updates the running ones;
 *   gp_forward uses the running ones.
 * - The gradient is dL/dθ of the *mean* batch loss plus the L2 term
 *   alpha / (2 * sum(sample_weight)) * ||W||^2 (scikit-learn's definition),
 *   never its negative.
 * - Matrix products go through the BLAS gemm the caller hands in, split into
 *   blocks fixed by the shapes that our OpenMP threads run; the caller keeps
 *   BLAS single-threaded meanwhile (BLAS's own threading would change the
 *   summation order with the thread count).
 * - Every reduction uses a fixed chunking independent of the thread count, so
 *   results are bit-identical for any n_threads.
 */
#ifndef GAINPROP_H
#define GAINPROP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    GP_ACT_IDENTITY = 0,
    GP_ACT_LOGISTIC = 1,
    GP_ACT_TANH = 2,
    GP_ACT_RELU = 3,
    GP_ACT_SOFTMAX = 4, /* output only */
    GP_ACT_EXP = 5      /* output only (Poisson loss) */
} gp_activation;

typedef enum {
    GP_LOSS_SQUARED = 0,    /* 1/2 sum_k (y - t)^2 per sample; any element-wise output */
    GP_LOSS_LOG = 1,        /* softmax output: -sum_k t log p */
    GP_LOSS_BINARY_LOG = 2, /* logistic output: -sum_k t log p + (1-t) log(1-p) */
    GP_LOSS_POISSON = 3     /* exp output: sum_k t log(t / y) - t + y */
} gp_loss;

typedef enum {
    GP_OK = 0,
    GP_NONFINITE_LOSS = 1, /* a batch loss was NaN or infinite; no step was taken */
    GP_BAD_ARGUMENT = 2
} gp_status;

/* Fortran BLAS gemm, as scipy.linalg.cython_blas exports it. */
typedef void (*gp_sgemm_fn)(char *transa, char *transb, int *m, int *n, int *k,
                            float *alpha, float *a, int *lda, float *b, int *ldb,
                            float *beta, float *c, int *ldc);
typedef void (*gp_dgemm_fn)(char *transa, char *transb, int *m, int *n, int *k,
                            double *alpha, double *a, int *lda, double *b, int *ldb,
                            double *beta, double *c, int *ldc);

/* CBLAS gemm with 64-bit integers, as an ILP64 OpenBLAS exports it (numpy's
 * scipy-openblas64: scipy_cblas_sgemm64_).  When a network has one it is used
 * instead of the Fortran gemm, with the same column-major call. */
typedef void (*gp_cblas_sgemm64_fn)(int order, int transa, int transb, int64_t m, int64_t n,
                                    int64_t k, float alpha, const float *a, int64_t lda,
                                    const float *b, int64_t ldb, float beta, float *c,
                                    int64_t ldc);
typedef void (*gp_cblas_dgemm64_fn)(int order, int transa, int transb, int64_t m, int64_t n,
                                    int64_t k, double alpha, const double *a, int64_t lda,
                                    const double *b, int64_t ldb, double beta, double *c,
                                    int64_t ldc);
enum { GP_CBLAS_COL_MAJOR = 102, GP_CBLAS_NO_TRANS = 111, GP_CBLAS_TRANS = 112 };

/* The network: shapes, activations, loss and threading.  Dtype-free. */
typedef struct {
    int n_layers;                     /* number of weight layers (hidden + 1) */
    const int64_t *units;             /* n_layers + 1 unit counts, units[0] = n_features */
    const int64_t *coef_offset;       /* n_layers offsets of W_i in params */
    const int64_t *intercept_offset;  /* n_layers offsets of b_i in params */
    int64_t n_coef;                   /* number of weights: params[0, n_coef) */
    int64_t n_params;                 /* total length of params */
    int hidden_activation;            /* gp_activation */
    int output_activation;            /* gp_activation */
    int loss;                         /* gp_loss */
    double alpha;                     /* L2 strength */
    double loss_scale;                /* reported batch data loss = scale * mean loss */
    int batch_norm;                   /* batch normalisation after each hidden affine map */
    const int64_t *bn_offset;         /* per hidden layer: offset of gamma (beta follows) */
    double bn_momentum;               /* running statistics: r <- (1 - m) r + m batch */
    double bn_eps;
    int n_threads;                    /* >= 1: OpenMP threads for our loops */
    int64_t chunk_rows;               /* rows per forward/backward pass (work size) */
    gp_sgemm_fn sgemm;
    gp_dgemm_fn dgemm;
    gp_cblas_sgemm64_fn sgemm64;      /* optional: used instead of sgemm */
    gp_cblas_dgemm64_fn dgemm64;      /* optional: used instead of dgemm */
} gp_net;

/* An input matrix: dense row-major (indptr == NULL) or CSR. */
typedef struct {
    int64_t n_rows;
    int64_t n_cols;
    const void *data;       /* float or double, matching the function's suffix */
    const int64_t *indptr;  /* CSR: n_rows + 1 entries; NULL for dense */
    const int64_t *indices; /* CSR: column of each stored value */
} gp_matrix;

/* Optimizer kinds.  One enum entry, one csrc/optim/<name>.inc, one Python class. */
typedef enum {
    GP_OPT_SGD = 0,       /* sgd.inc */
    GP_OPT_ADAM = 1,      /* adam.inc */
    GP_OPT_LOCALGAIN = 2, /* localgain.inc */
    GP_OPT_RPROP = 3,     /* rprop.inc */
    GP_OPT_ADAGRAD = 4,   /* adagrad.inc */
    GP_OPT_ADADELTA = 5,  /* adadelta.inc */
    GP_OPT_RMSPROP = 6,   /* rmsprop.inc */
    GP_OPT_ADAMAX = 7,    /* adamax.inc */
    GP_OPT_N_KINDS
} gp_optim_kind;

#define GP_MAX_LAYERS 256 /* weight layers; checked at the Python boundary */
#define GP_OPT_MAX_HP 8
#define GP_OPT_MAX_STATE 4

/*
 * An optimizer: its rule, hyperparameters, step counter and state slots.
 * state[j] are flat arrays of n_params elements in the params dtype.
 * t counts the steps already taken; a step uses t + 1 and stores it.
 */
typedef struct {
    int kind;
    double lr;                       /* η for the next step */
    double hp[GP_OPT_MAX_HP];
    int64_t t;
    double loss;                     /* loss at the current weights (loss-aware rules) */
    double prev_loss;                /* loss at the previous step */
    void *state[GP_OPT_MAX_STATE];
    /* Carried between the gp_train_batches calls of one pass over the data;
     * nothing else reads them.  l2_carried = 0 before the first call (a
     * zero-filled struct is right); while it is 1, l2_sumsq is sum(W^2) of the
     * current weights and the weight part of grad is zero (the L2 term is folded
     * into the step).  Between the calls of a pass, params and grad must not
     * change. */
    int l2_carried;
    double l2_sumsq;
} gp_optimizer;

/* Number of work elements (in the params dtype) and double scratch needed. */
int64_t gp_work_size(const gp_net *net, int64_t n_features, int64_t n_outputs, int dense_gather);
int64_t gp_scratch_size(const gp_net *net);

/* Are the OpenMP loops compiled in? */
int gp_openmp_enabled(void);

/* The instruction set the kernels run with: 0 baseline, 1 AVX2 (x86-64), and
 * its name.  Chosen once per process from the CPU; GAINPROP_ISA=baseline in the
 * environment forces the baseline kernels (they give the same bits). */
int gp_isa(void);
const char *gp_isa_name(void);

/* Do the kernels flush subnormals on this platform (see gp_common.h)?  And, for
 * the tests: which of n_threads OpenMP threads flush right now (flags[j]);
 * returns the number of threads that ran. */
int gp_flushes_subnormals(void);
int gp_probe_thread_flush(int n_threads, int *flags);

#define GP_DECLARE(REAL, SFX)                                                              \
    /* Forward pass of X in chunks; out (n_rows x n_out) gets the output layer's        \
     * activation, or its pre-activation (logits) when apply_output == 0. */             \
    int gp_forward_##SFX(const gp_net *net, const gp_matrix *X, const REAL *params,       \
                         const REAL *running, REAL *out, int apply_output, REAL *work);   \
    /* Loss and gradient of the rows `rows` (NULL: all rows) of X: grad gets            \
     * d/dθ [mean loss + L2]; *data_loss the weighted mean data loss (unscaled),         \
     * *l2 the L2 term.  One step's gradient (batch statistics, running ones left        \
     * alone); the optimizer is not called. */                                           \
    int gp_loss_grad_##SFX(const gp_net *net, const gp_matrix *X, const REAL *Y,          \
                           const REAL *sw, const int64_t *rows, int64_t n_rows,           \
                           const REAL *params, REAL *grad, REAL *work, double *scratch,   \
                           double *data_loss, double *l2);                                \
    /* Train batches [batch_begin, batch_end) of an epoch.  Batch b holds rows          \
     * order[b*bs : (b+1)*bs] (or that range itself when order is NULL).  Adds each      \
     * batch's reported loss times its size to *loss_acc; *n_done gets the number of     \
     * batches stepped.  lrs (NULL: opt->lr) gives the rate of each batch of the epoch.  \
     * Stops without stepping at a non-finite batch loss (GP_NONFINITE_LOSS).  Set       \
     * opt->l2_carried = 0 before the first call of a pass and leave params and grad     \
     * alone between its calls; grad is work memory (its weight part ends zero). */      \
    int gp_train_batches_##SFX(const gp_net *net, const gp_matrix *X, const REAL *Y,      \
                               const REAL *sw, const int64_t *order, int64_t n_samples,   \
                               int64_t batch_size, int64_t batch_begin,                   \
                               int64_t batch_end, const double *lrs, REAL *params,        \
                               REAL *grad, REAL *running, gp_optimizer *opt, REAL *work,  \
                               double *scratch, double *loss_acc, int64_t *n_done);       \
    /* One fused optimizer step over params[0, n). */                                     \
    void gp_optim_step_##SFX(gp_optimizer *opt, int64_t n, REAL *params, const REAL *grad, \
                             int n_threads);

GP_DECLARE(float, f32)
GP_DECLARE(double, f64)

#undef GP_DECLARE

#ifdef __cplusplus
}
#endif

#endif /* GAINPROP_H */
