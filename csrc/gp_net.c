/* The network kernels and mini-batch loop for both dtypes (see gp_net_impl.h). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "gainprop.h"
#include "gp_common.h"
#include "gp_isa.h"

/* The helpers below are compiled once; the kernels after them once per
 * instruction set (GP_ISA, see gp_isa.h and gp_dispatch.c). */
#ifndef GP_ISA_VARIANT
int gp_openmp_enabled(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int64_t gp_work_size(const gp_net *net, int64_t n_features, int64_t n_outputs, int dense_gather)
{
    int64_t total = 0;
    int i;
    for (i = 1; i <= net->n_layers; ++i) {
        total += 2 * net->chunk_rows * net->units[i];
        if (net->batch_norm && i < net->n_layers)
            total += net->chunk_rows * net->units[i] + 2 * net->units[i];
    }
    if (dense_gather) total += net->chunk_rows * n_features;
    total += net->chunk_rows * (n_outputs + 1);
    return total;
}

int64_t gp_scratch_size(const gp_net *net)
{
    return gp_cdiv(net->chunk_rows, GP_ROW_CHUNK) + gp_cdiv(net->n_coef, GP_ELEM_CHUNK) + 1;
}
#endif

#define REAL float
#define SFX(name) GP_ISA_NAME(name, _f32)
#define GEMM net->sgemm
#define GEMM64 net->sgemm64
#define EXP expf
#define LOG logf
#define TANH tanhf
#define EPS FLT_EPSILON
#define ACC float
#define ACC_LANES 32
#include "gp_net_impl.h"
#undef REAL
#undef SFX
#undef GEMM
#undef GEMM64
#undef EXP
#undef LOG
#undef TANH
#undef EPS
#undef ACC
#undef ACC_LANES

#define REAL double
#define SFX(name) GP_ISA_NAME(name, _f64)
#define GEMM net->dgemm
#define GEMM64 net->dgemm64
#define EXP exp
#define LOG log
#define TANH tanh
#define EPS DBL_EPSILON
#define ACC double
#define ACC_LANES 16
#include "gp_net_impl.h"
