/*
 * The optimizer driver, written once for both dtypes (included by step.c).
 * It splits [0, n) into fixed ranges of GP_ELEM_CHUNK elements, hands them to
 * the OpenMP threads (static schedule) and calls the rule's range function:
 * the same n_threads gives the same bits, and the rules contain no threading.
 */
#include "sgd.inc"
#include "adam.inc"
#include "localgain.inc"
#include "rprop.inc"
#include "adagrad.inc"
#include "adadelta.inc"
#include "rmsprop.inc"
#include "adamax.inc"

/* The rule's update of params[begin, end) for step t (no threading). */
static void SFX(gp_optim_range)(const gp_optimizer *opt, int64_t t, int64_t begin, int64_t end,
                                REAL *params, const REAL *grad)
{
    REAL *const *s = (REAL *const *)opt->slot;
    switch (opt->kind) {
    case GP_OPT_SGD:
        SFX(gp_sgd_update)(opt, begin, end, params, grad, s[GP_SGD_VELOCITY]);
        break;
    case GP_OPT_ADAM:
        SFX(gp_adam_update)(opt, t, begin, end, params, grad, s[GP_ADAM_EXP_AVG],
                            s[GP_ADAM_EXP_AVG_SQ], s[GP_ADAM_MAX_EXP_AVG_SQ]);
        break;
    case GP_OPT_LOCALGAIN:
        SFX(gp_localgain_update)(opt, begin, end, params, grad, s[GP_LOCALGAIN_GAIN],
                                 s[GP_LOCALGAIN_PREV_GRAD], s[GP_LOCALGAIN_VELOCITY]);
        break;
    case GP_OPT_RPROP:
        SFX(gp_rprop_update)(opt, begin, end, params, grad, s[GP_RPROP_STEP_SIZE],
                             s[GP_RPROP_PREV], s[GP_RPROP_PREV_DELTA]);
        break;
    case GP_OPT_ADAGRAD:
        SFX(gp_adagrad_update)(opt, begin, end, params, grad, s[GP_ADAGRAD_SUM]);
        break;
    case GP_OPT_ADADELTA:
        SFX(gp_adadelta_update)(opt, begin, end, params, grad, s[GP_ADADELTA_SQUARE_AVG],
                                s[GP_ADADELTA_ACC_DELTA]);
        break;
    case GP_OPT_RMSPROP:
        SFX(gp_rmsprop_update)(opt, begin, end, params, grad, s[GP_RMSPROP_SQUARE_AVG],
                               s[GP_RMSPROP_GRAD_AVG], s[GP_RMSPROP_MOMENTUM_BUFFER]);
        break;
    case GP_OPT_ADAMAX:
        SFX(gp_adamax_update)(opt, t, begin, end, params, grad, s[GP_ADAMAX_EXP_AVG],
                              s[GP_ADAMAX_EXP_INF]);
        break;
    default:
        break;
    }
}

/* grad[i] = cf * W[i] over [b, e) (0 when cf == 0), adding the squares W^2
 * into the ACC_LANES lanes acc (element i into lane (i - b) % ACC_LANES, the
 * tail into lane 0).  ACC is float for float32 networks (as scikit-learn's
 * sdot) and double for float64; independent lanes let the loop vectorise,
 * and the order of the additions depends on the shapes alone (not on threads
 * or the instruction set). */
static inline void SFX(gp_l2_range)(REAL *GP_RESTRICT grad, const REAL *GP_RESTRICT W,
                                    int64_t b, int64_t e, REAL cf, ACC *GP_RESTRICT acc)
{
    int64_t i, j;
    /* one loop per case, so that neither carries a select */
#define GP_L2_LOOP(VALUE)                                                       \
    for (i = b; i + ACC_LANES <= e; i += ACC_LANES)                             \
        for (j = 0; j < ACC_LANES; ++j) {                                       \
            acc[j] += (ACC)W[i + j] * (ACC)W[i + j];                            \
            grad[i + j] = VALUE(i + j);                                         \
        }                                                                       \
    for (; i < e; ++i) {                                                        \
        acc[0] += (ACC)W[i] * (ACC)W[i];                                        \
        grad[i] = VALUE(i);                                                     \
    }
#define GP_L2_ZERO(k) ((REAL)0)
#define GP_L2_TERM(k) (cf * W[k])
    if (cf == 0) {
        GP_L2_LOOP(GP_L2_ZERO)
    } else {
        GP_L2_LOOP(GP_L2_TERM)
    }
#undef GP_L2_LOOP
#undef GP_L2_ZERO
#undef GP_L2_TERM
}

static inline double SFX(gp_lanes_sum)(const ACC *acc)
{
    double sum = 0.0;
    int j;
    for (j = 0; j < ACC_LANES; ++j) sum += (double)acc[j];
    return sum;
}

/* The L2 term of a batch, before its products accumulate onto it: grad[0, n)
 * = cf * W (zeros when cf == 0); returns sum(W^2), summed per chunk of
 * GP_ELEM_CHUNK elements and then over the chunks in order: the same sum as
 * the fold of a step (gp_optim_step), for any thread count. */
double SFX(gp_l2_start)(REAL *GP_RESTRICT grad, const REAL *GP_RESTRICT W, int64_t n, double cf,
                        double *GP_RESTRICT partial, int n_threads)
{
    const int64_t n_chunks = gp_cdiv(n, GP_ELEM_CHUNK);
    int nt = gp_threads_for(n_threads, n);
    int64_t ch;
    double total = 0.0;
GP_FOR(nt, ch, n_chunks, {
        ACC acc[ACC_LANES] = {0};
        SFX(gp_l2_range)(grad, W, ch * GP_ELEM_CHUNK, gp_min64(n, (ch + 1) * GP_ELEM_CHUNK),
                         (REAL)cf, acc);
        partial[ch] = SFX(gp_lanes_sum)(acc);
    });
    for (ch = 0; ch < n_chunks; ++ch) total += partial[ch];
    return total;
}

int SFX(gp_optim_step)(gp_optimizer *opt, int64_t n, REAL *params, REAL *grad, gp_l2_fold *l2,
                       int n_threads)
{
    const int64_t t = opt->t + 1;
    const int64_t n_chunks = gp_cdiv(n, GP_ELEM_CHUNK);
    const int64_t nc = l2 ? gp_min64(l2->n_coef, n) : 0;
    const REAL cf = l2 ? (REAL)l2->coef : (REAL)0;
    int nt = gp_threads_for(n_threads, n);
    int64_t ch;
    if (!gp_optimizer_complete(opt) || n < 0 || (l2 && l2->n_coef < 0)) return GP_BAD_ARGUMENT;
    /* Per range, while it is in cache: the rule, then (with the fold) the new
     * weights' squares and the next batch's L2 term. */
GP_FOR(nt, ch, n_chunks, {
        const int64_t b = ch * GP_ELEM_CHUNK, e = gp_min64(n, b + GP_ELEM_CHUNK);
        SFX(gp_optim_range)(opt, t, b, e, params, grad);
        if (b < nc) {
            ACC acc[ACC_LANES] = {0};
            SFX(gp_l2_range)(grad, params, b, gp_min64(e, nc), cf, acc);
            l2->partial[ch] = SFX(gp_lanes_sum)(acc);
        }
    });
    if (l2) {
        double total = 0.0;
        for (ch = 0; ch < gp_cdiv(nc, GP_ELEM_CHUNK); ++ch) total += l2->partial[ch];
        l2->sumsq = total;
    }
    opt->t = t;
    opt->prev_loss = opt->loss;
    return GP_OK;
}
