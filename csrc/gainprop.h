/*
 * gainprop: the C core of a multi-layer perceptron trainer.
 *
 * C99 + optional OpenMP, no Python headers.  Every function exists twice, for
 * float (suffix _f32) and double (suffix _f64); both are generated from one
 * template (gp_net_impl.h, optim/step_impl.h) included twice.  Pointers typed
 * `void *` below point to elements of the function's type.
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
 *   blocks fixed by the shapes that our OpenMP threads run, each on one BLAS
 *   thread (BLAS's own threading would change the summation order with the
 *   thread count).
 * - Every reduction uses a fixed chunking independent of the thread count, so
 *   results are bit-identical for any n_threads.
 * - Hidden activations: the derivatives of identity, logistic, tanh, relu,
 *   leaky_relu, elu and softplus are computed from the activation's value;
 *   gelu and silu need the pre-activation, which training keeps in a work
 *   block of its own (counted by gp_work_size).
 * - Dropout (Srivastava et al. 2014), inverted: in training, unit j of row r
 *   of layer l (l = 0: the inputs, l = i: hidden layer i's outputs) is kept
 *   with probability 1 - p_l and then scaled by 1 / (1 - p_l); prediction
 *   keeps every unit.  The keep/drop draw is a pure function of (key, batch,
 *   l, r, j) (gp_dropout_stream; Philox4x32-10, see gp_dropout_keep), so the
 *   masks do not depend on threads, blocks or instruction set.  The kernels
 *   store the kept values unscaled (a dropped one is 0) and fold the factor
 *   1 / (1 - p_l) into the products that read layer l's values: the forward
 *   product, the weight gradient and the delta passed back to layer l.
 * - The Python layer checks every argument against the network's layout
 *   before it calls a function here.  The entry points repeat the cheap
 *   structural checks (shapes, lengths, the slots a rule reads) and return
 *   GP_BAD_ARGUMENT instead of touching memory when one fails: a last line
 *   of defence, never the first.
 */
#ifndef GAINPROP_H
#define GAINPROP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gp_activation {
    GP_ACT_IDENTITY = 0,
    GP_ACT_LOGISTIC = 1,
    GP_ACT_TANH = 2,
    GP_ACT_RELU = 3,
    GP_ACT_SOFTMAX = 4,    /* output only */
    GP_ACT_EXP = 5,        /* output only (Poisson loss) */
    GP_ACT_LEAKY_RELU = 6, /* hidden only: z > 0 ? z : GP_LEAKY_RELU_SLOPE z */
    GP_ACT_ELU = 7,        /* hidden only: z > 0 ? z : exp(z) - 1 (alpha 1) */
    GP_ACT_GELU = 8,       /* hidden only: z Phi(z), the exact form (as torch.nn.GELU()) */
    GP_ACT_SOFTPLUS = 9,   /* hidden only: log(1 + exp(z)), without threshold */
    GP_ACT_SILU = 10,      /* hidden only: z sigmoid(z) */
    GP_ACT_N_KINDS
} gp_activation;

/* leaky_relu's negative slope (torch.nn.LeakyReLU's default). */
#define GP_LEAKY_RELU_SLOPE 0.01

typedef enum gp_loss {
    GP_LOSS_SQUARED = 0,    /* 1/2 sum_k (y - t)^2 per sample; any element-wise output */
    GP_LOSS_LOG = 1,        /* softmax output: -sum_k t log p */
    GP_LOSS_BINARY_LOG = 2, /* logistic output: -sum_k t log p + (1-t) log(1-p) */
    GP_LOSS_POISSON = 3,    /* exp output: sum_k t log(t / y) - t + y */
    GP_LOSS_N_KINDS
} gp_loss;

typedef enum gp_status {
    GP_OK = 0,
    GP_NONFINITE_LOSS = 1, /* a batch loss was NaN or infinite; no step was taken */
    GP_BAD_ARGUMENT = 2    /* a structural check failed; nothing was touched */
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

/* The thread count of the BLAS the products call (OpenBLAS's
 * openblas_get_num_threads / openblas_set_num_threads). */
typedef int (*gp_blas_get_threads_fn)(void);
typedef void (*gp_blas_threads_fn)(int n_threads);

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
    int64_t n_running;                /* length of the running-statistics buffer */
    double bn_momentum;               /* running statistics: r <- (1 - m) r + m batch */
    double bn_eps;
    const double *dropout;            /* n_layers rates in [0, 1) or NULL (none): [0] the
                                         inputs, [i] hidden layer i's outputs */
    int n_threads;                    /* >= 1: OpenMP threads for our loops */
    int64_t chunk_rows;               /* rows per forward/backward pass (work size) */
    int whole_products;               /* 1: every matrix product in one BLAS call (the
                                         blocks of rows gp_forward runs side by side);
                                         0: split by shape (gp_gemm_blocks) */
    gp_sgemm_fn sgemm;
    gp_dgemm_fn dgemm;
    gp_cblas_sgemm64_fn sgemm64;      /* optional: used instead of sgemm */
    gp_cblas_dgemm64_fn dgemm64;      /* optional: used instead of dgemm */
} gp_net;

/* An input matrix: dense row-major (indptr == NULL) or CSR. */
typedef struct {
    int64_t n_rows;
    int64_t n_cols;
    const void *data;       /* dense: n_rows * n_cols values; CSR: the stored values */
    const int64_t *indptr;  /* CSR: n_rows + 1 entries; NULL for dense */
    const int64_t *indices; /* CSR: column of each stored value */
} gp_matrix;

/* Training data: inputs, targets (n_rows x n_outputs) and sample weights. */
typedef struct {
    gp_matrix X;
    const void *Y;
    const void *sw;  /* n_rows weights, or NULL (all 1) */
} gp_data;

/* Dropout's random stream: the Philox key and the number of a mini-batch
 * (counted since the model was first fitted; less than GP_DROPOUT_MAX_BATCH).
 * Batch number b's masks are those of gp_dropout_keep with batch = b. */
typedef struct {
    uint64_t key;
    uint64_t batch;
} gp_dropout_stream;
#define GP_DROPOUT_MAX_BATCH (UINT64_C(1) << 56)

/* The memory a call works on: the model's parameters and running
 * statistics, the gradient, and work memory sized by gp_work_size and
 * gp_scratch_size (the lengths are checked). */
typedef struct {
    void *params;         /* n_params */
    void *grad;           /* n_params (training) or NULL */
    void *running;        /* n_running with batch normalisation, else NULL */
    void *work;
    int64_t work_len;
    double *scratch;
    int64_t scratch_len;
} gp_buffers;

/* ---------------------------------------------------------------------- */
/* Optimizers.  One enum entry, one csrc/optim/<name>.inc, one hyperparameter
 * struct, one slot enum and one Python class per rule.  A rule reads its
 * hyperparameters by name and its state from slot[<its slot enum>]: flat
 * arrays of n_params elements in the params dtype.  A slot marked optional
 * switches a part of the rule on by being present (non-NULL). */
typedef enum gp_optim_kind {
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

typedef struct { double momentum; int nesterov; } gp_sgd_hp;
typedef enum gp_sgd_slot { GP_SGD_VELOCITY /* optional: momentum */ } gp_sgd_slot;

typedef struct { double beta_1, beta_2, epsilon; int sklearn_form; } gp_adam_hp;
typedef enum gp_adam_slot { GP_ADAM_EXP_AVG, GP_ADAM_EXP_AVG_SQ, GP_ADAM_MAX_EXP_AVG_SQ /* optional: amsgrad */ } gp_adam_slot;

typedef struct { double bonus, penalty, gain_min, gain_max, smoothing, momentum; } gp_localgain_hp;
typedef enum gp_localgain_slot { GP_LOCALGAIN_GAIN, GP_LOCALGAIN_PREV_GRAD, GP_LOCALGAIN_VELOCITY /* optional */ } gp_localgain_slot;

typedef enum gp_rprop_variant {
    GP_RPROP_PLUS = 0,        /* Rprop+ (weight backtracking) */
    GP_RPROP_MINUS = 1,       /* Rprop- */
    GP_IRPROP_PLUS = 2,       /* iRprop+ */
    GP_IRPROP_MINUS = 3,      /* iRprop- (torch.optim.Rprop) */
    GP_RPROP_MINIBATCH = 4,   /* Ndauka & Zheng's bounded mini-batch iRprop- */
    GP_RPROP_N_VARIANTS
} gp_rprop_variant;
typedef struct { double eta_plus, eta_minus, step_min, step_max; int variant; } gp_rprop_hp;
typedef enum gp_rprop_slot { GP_RPROP_STEP_SIZE, GP_RPROP_PREV, GP_RPROP_PREV_DELTA /* + variants */ } gp_rprop_slot;

typedef struct { double epsilon; } gp_adagrad_hp;
typedef enum gp_adagrad_slot { GP_ADAGRAD_SUM } gp_adagrad_slot;

typedef struct { double rho, epsilon; } gp_adadelta_hp;
typedef enum gp_adadelta_slot { GP_ADADELTA_SQUARE_AVG, GP_ADADELTA_ACC_DELTA } gp_adadelta_slot;

typedef struct { double alpha, epsilon, momentum; } gp_rmsprop_hp;
typedef enum gp_rmsprop_slot { GP_RMSPROP_SQUARE_AVG, GP_RMSPROP_GRAD_AVG /* optional: centered */,
               GP_RMSPROP_MOMENTUM_BUFFER /* optional: momentum */ } gp_rmsprop_slot;

typedef struct { double beta_1, beta_2, epsilon; } gp_adamax_hp;
typedef enum gp_adamax_slot { GP_ADAMAX_EXP_AVG, GP_ADAMAX_EXP_INF } gp_adamax_slot;

/* The hyperparameters of the optimizer's rule (its kind). */
typedef union {
    gp_sgd_hp sgd;
    gp_adam_hp adam;
    gp_localgain_hp localgain;
    gp_rprop_hp rprop;
    gp_adagrad_hp adagrad;
    gp_adadelta_hp adadelta;
    gp_rmsprop_hp rmsprop;
    gp_adamax_hp adamax;
} gp_optim_hp;

#define GP_MAX_LAYERS 256 /* weight layers; checked at the Python boundary */
#define GP_OPT_MAX_SLOTS 3

/*
 * An optimizer: its rule, hyperparameters, step counter and state slots.
 * t counts the steps already taken; a step uses t + 1 and stores it.
 */
typedef struct {
    int kind;                        /* gp_optim_kind */
    double lr;                       /* η for the next step */
    gp_optim_hp hp;
    int64_t t;
    double loss;                     /* loss at the current weights (loss-aware rules) */
    double prev_loss;                /* loss at the previous step */
    void *slot[GP_OPT_MAX_SLOTS];
} gp_optimizer;

/* Does the optimizer have every slot its rule reads (and a known kind and
 * variant)?  1 or 0. */
int gp_optimizer_complete(const gp_optimizer *opt);

/* The L2 term folded into an optimizer step, over the weights params[0,
 * n_coef).  The gradient the step reads holds the batch's L2 term
 * alpha / sum(weights) * W plus its data term (the products accumulate onto
 * the L2 term); after the rule, sumsq gets sum(W^2) of the new weights and
 * their gradient is set to coef * W, the next batch's L2 term (coef = 0:
 * zeros).  partial: scratch of gp_l2_fold_partial_size(n_coef) doubles. */
typedef struct {
    int64_t n_coef;
    double coef;
    double sumsq;   /* out */
    double *partial;
} gp_l2_fold;
int64_t gp_l2_fold_partial_size(int64_t n_coef);

/* One pass over the data (an epoch, or one partial_fit call), trained in
 * consecutive calls of gp_train_batches.  Zero-fill it, set the inputs, and
 * leave params and grad alone between the calls of one pass. */
typedef struct {
    const int64_t *order;   /* in: row order (n_rows entries in [0, n_rows)), or NULL */
    int64_t batch_size;     /* in: >= 1 */
    const double *lrs;      /* in: the rate of each batch, or NULL (opt->lr) */
    int64_t n_lrs;          /* in: entries of lrs (>= the number of batches) */
    double loss_sum;        /* out: sum over the batches stepped of batch loss x batch size */
    int64_t n_done;         /* out: batches done (stepped, or skipped for weight 0) */
    int64_t n_rows;         /* out: rows of the batches stepped (the loss's denominator) */
    /* carried between the calls: while l2_carried, l2_sumsq is sum(W^2) of the
     * current weights and their gradient holds zeros (gp_l2_fold) */
    int l2_carried;
    double l2_sumsq;
    /* inout (with dropout): dropout.batch is the number of the next batch; every
     * batch done advances it by one */
    gp_dropout_stream dropout;
} gp_epoch;

/* Number of work elements (in the params dtype) and double scratch needed
 * by training and gp_loss_grad: a pass's, and when some block of at most
 * chunk_rows rows is split in two (gp_splits_some_rows) the second half's
 * gradient. */
int64_t gp_work_size(const gp_net *net, int64_t n_features, int64_t n_outputs, int dense_gather);
/* Work elements of one forward pass of chunk_rows rows (no gradient). */
int64_t gp_pass_work_size(const gp_net *net, int64_t n_features, int64_t n_outputs,
                          int dense_gather);
/* Work memory (elements) of gp_forward over n_rows rows: gp_pass_work_size's for
 * each block of chunk_rows rows that runs at once (one per thread, at most
 * one per block, when there are several blocks); -1 when it cannot be
 * counted in 64 bits. */
int64_t gp_forward_work_size(const gp_net *net, int64_t n_features, int64_t n_outputs,
                             int64_t n_rows);
/* How many blocks of rows gp_forward runs at once over n_rows rows. */
int64_t gp_forward_copies(const gp_net *net, int64_t n_rows);
int64_t gp_scratch_size(const gp_net *net);

/* Dropout's keep/drop draws (for the tests and as the definition): keep[r *
 * n_cols + j] = 1 when unit j of row row0 + r of layer `layer` is kept in
 * batch s->batch at rate p.  The draw is word j mod 4 of Philox4x32-10
 * (Salmon et al. 2011) with key (key mod 2^32, key >> 32) and counter
 * (j / 4, row, batch mod 2^32, (batch >> 32) << 8 | layer); the unit is kept
 * when it is below floor((1 - p) 2^32).  layer < 256. */
void gp_dropout_keep(const gp_dropout_stream *s, int layer, double p, int64_t row0,
                     int64_t n_rows, int64_t n_cols, unsigned char *keep);
/* One Philox4x32-10 block: out = philox(counter, key). */
void gp_philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

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

/* Fork: in a child forked after the kernels ran OpenMP threads, the OpenMP
 * runtime's pool is gone (libgomp cannot rebuild it and would hang), so the
 * kernels run serially there.  1 in such a child. */
int gp_serial_after_fork(void);

/* BLAS is held at one thread while any kernel runs, in OpenMP builds: the
 * first kernel to start sets one thread through `set`, the last to end puts
 * back the count `get` gave (BLAS's own threading would make results depend
 * on the thread count).  Install the functions of the library the products
 * call, once, before any kernel runs; NULL, NULL leaves BLAS alone.
 * gp_blas_threads_held: are they installed (and OpenMP built in)? */
void gp_set_blas_threads(gp_blas_get_threads_fn get, gp_blas_threads_fn set);
int gp_blas_threads_held(void);
/* In a forked child: put back the BLAS thread count a kernel of another
 * thread held at one when the process forked (call it once, early). */
void gp_blas_fork_restore(void);

#define GP_DECLARE(REAL, SFX)                                                              \
    /* Forward pass of X in chunks; out (n_rows x n_out) gets the output layer's        \
     * activation, or its pre-activation (logits) when apply_output == 0. */             \
    int gp_forward_##SFX(const gp_net *net, const gp_matrix *X, const gp_buffers *buf,     \
                         REAL *out, int apply_output);                                    \
    /* Loss and gradient over all rows of the data: buf->grad gets                      \
     * d/dθ [mean loss + L2]; *data_loss the weighted mean data loss (unscaled),         \
     * *l2 the L2 term.  One step's gradient (batch statistics, running ones left        \
     * alone); the optimizer is not called.  With dropout the rows are one batch,        \
     * whose masks are those of dropout->batch (dropout may be NULL without). */        \
    int gp_loss_grad_##SFX(const gp_net *net, const gp_data *data, const gp_buffers *buf,  \
                           const gp_dropout_stream *dropout, double *data_loss,           \
                           double *l2);                                                   \
    /* Train batches [batch_begin, batch_end) of a pass.  Batch b holds rows             \
     * order[b*bs : (b+1)*bs] (or that range itself when order is NULL).  A batch         \
     * whose sample weights sum to 0 is skipped (no step, nothing added to the           \
     * loss).  Stops without stepping at a non-finite batch loss (GP_NONFINITE_LOSS).    \
     * buf->grad is work memory. */                                                      \
    int gp_train_batches_##SFX(const gp_net *net, const gp_data *data,                    \
                               const gp_buffers *buf, gp_optimizer *opt, gp_epoch *epoch, \
                               int64_t batch_begin, int64_t batch_end);                   \
    /* One fused optimizer step over params[0, n), with the L2 term folded in when        \
     * l2 is not NULL (grad is then written: see gp_l2_fold). */                         \
    int gp_optim_step_##SFX(gp_optimizer *opt, int64_t n, REAL *params, REAL *grad,       \
                            gp_l2_fold *l2, int n_threads);

GP_DECLARE(float, f32)
GP_DECLARE(double, f64)

#undef GP_DECLARE

#ifdef __cplusplus
}
#endif

#endif /* GAINPROP_H */
