/* Fused optimizer steps for both dtypes: see step_impl.h and the rules in *.inc. */
#include <math.h>

#include "../gainprop.h"
#include "../gp_common.h"
#include "../gp_isa.h"

#ifndef GP_ISA_VARIANT
int64_t gp_l2_fold_partial_size(int64_t n_coef) { return gp_max64(1, gp_cdiv(n_coef, GP_ELEM_CHUNK)); }

/* The slots each rule reads whatever its settings (a bit per slot), and the
 * ones its settings may add. */
int gp_optimizer_complete(const gp_optimizer *opt)
{
    unsigned need = 0;
    int j;
    switch (opt->kind) {
    case GP_OPT_SGD: break; /* velocity optional */
    case GP_OPT_ADAM: need = 1u << GP_ADAM_EXP_AVG | 1u << GP_ADAM_EXP_AVG_SQ; break;
    case GP_OPT_LOCALGAIN: need = 1u << GP_LOCALGAIN_GAIN | 1u << GP_LOCALGAIN_PREV_GRAD; break;
    case GP_OPT_RPROP:
        if (opt->hp.rprop.variant < 0 || opt->hp.rprop.variant >= GP_RPROP_N_VARIANTS) return 0;
        need = 1u << GP_RPROP_STEP_SIZE | 1u << GP_RPROP_PREV;
        if (opt->hp.rprop.variant == GP_RPROP_PLUS || opt->hp.rprop.variant == GP_IRPROP_PLUS)
            need |= 1u << GP_RPROP_PREV_DELTA;
        break;
    case GP_OPT_ADAGRAD: need = 1u << GP_ADAGRAD_SUM; break;
    case GP_OPT_ADADELTA: need = 1u << GP_ADADELTA_SQUARE_AVG | 1u << GP_ADADELTA_ACC_DELTA; break;
    case GP_OPT_RMSPROP: need = 1u << GP_RMSPROP_SQUARE_AVG; break;
    case GP_OPT_ADAMAX: need = 1u << GP_ADAMAX_EXP_AVG | 1u << GP_ADAMAX_EXP_INF; break;
    default: return 0;
    }
    for (j = 0; j < GP_OPT_MAX_SLOTS; ++j)
        if ((need >> j & 1u) && opt->slot[j] == NULL) return 0;
    return 1;
}
#endif

#define REAL float
#define SFX(name) GP_ISA_NAME(name, _f32)
#define SQRT sqrtf
#define FABS fabsf
#define ACC float
#define ACC_LANES 32
#include "step_impl.h"
#undef REAL
#undef SFX
#undef SQRT
#undef FABS
#undef ACC
#undef ACC_LANES

#define REAL double
#define SFX(name) GP_ISA_NAME(name, _f64)
#define SQRT sqrt
#define FABS fabs
#define ACC double
#define ACC_LANES 16
#include "step_impl.h"
