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
void SFX(gp_optim_range)(const gp_optimizer *opt, int64_t t, int64_t begin, int64_t end,
                         REAL *params, const REAL *grad)
{
    REAL *s0 = (REAL *)opt->state[0];
    REAL *s1 = (REAL *)opt->state[1];
    REAL *s2 = (REAL *)opt->state[2];
    switch (opt->kind) {
    case GP_OPT_SGD:
        SFX(gp_sgd_update)(opt, begin, end, params, grad, s0);
        break;
    case GP_OPT_ADAM:
        SFX(gp_adam_update)(opt, t, begin, end, params, grad, s0, s1, s2);
        break;
    case GP_OPT_LOCALGAIN:
        SFX(gp_localgain_update)(opt, begin, end, params, grad, s0, s1, s2);
        break;
    case GP_OPT_RPROP:
        SFX(gp_rprop_update)(opt, begin, end, params, grad, s0, s1, s2);
        break;
    case GP_OPT_ADAGRAD:
        SFX(gp_adagrad_update)(opt, begin, end, params, grad, s0);
        break;
    case GP_OPT_ADADELTA:
        SFX(gp_adadelta_update)(opt, begin, end, params, grad, s0, s1);
        break;
    case GP_OPT_RMSPROP:
        SFX(gp_rmsprop_update)(opt, begin, end, params, grad, s0, s1, s2);
        break;
    case GP_OPT_ADAMAX:
        SFX(gp_adamax_update)(opt, t, begin, end, params, grad, s0, s1);
        break;
    default:
        break;
    }
}

void SFX(gp_optim_step)(gp_optimizer *opt, int64_t n, REAL *params, const REAL *grad,
                        int n_threads)
{
    const int64_t t = opt->t + 1;
    const int64_t n_chunks = gp_cdiv(n, GP_ELEM_CHUNK);
    int nt = gp_threads_for(n_threads, n);
    int64_t ch;
GP_FOR(nt, ch, n_chunks, {
        const int64_t b = ch * GP_ELEM_CHUNK, e = gp_min64(n, b + GP_ELEM_CHUNK);
        SFX(gp_optim_range)(opt, t, b, e, params, grad);
    });
    opt->t = t;
    opt->prev_loss = opt->loss;
}
