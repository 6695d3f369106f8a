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

int64_t gp_pass_work_size(const gp_net *net, int64_t n_features, int64_t n_outputs,
                          int dense_gather)
{
    int64_t total = 0;
    double bound = (double)net->chunk_rows * (double)(n_features + n_outputs + 1);
    int i;
    /* -1 when the count would not fit int64 (checked in double first: the
     * products below are then exact) */
    for (i = 1; i <= net->n_layers; ++i) bound += 5.0 * (double)net->chunk_rows * net->units[i];
    if (net->chunk_rows < 1 || bound > 4e18) return -1;
    for (i = 1; i <= net->n_layers; ++i) {
        total += 2 * net->chunk_rows * net->units[i];
        if (net->batch_norm && i < net->n_layers)
            total += net->chunk_rows * net->units[i] + 2 * net->units[i];
        if (gp_act_needs_pre(net->hidden_activation) && i < net->n_layers)
            total += net->chunk_rows * net->units[i];
    }
    if (dense_gather) total += net->chunk_rows * n_features;
    total += net->chunk_rows * (n_outputs + 1);
    return total;
}

int64_t gp_work_size(const gp_net *net, int64_t n_features, int64_t n_outputs, int dense_gather)
{
    const int64_t pass = gp_pass_work_size(net, n_features, n_outputs, dense_gather);
    /* a split block's second half's gradient */
    if (pass < 0 || !gp_splits_some_rows(net)) return pass;
    return pass + net->n_params;
}

int64_t gp_forward_copies(const gp_net *net, int64_t n_rows)
{
    const int64_t n_blocks = gp_row_blocks(n_rows, net->chunk_rows);
    return n_blocks >= 2 ? gp_min64(gp_max64(1, net->n_threads), n_blocks) : 1;
}

int64_t gp_forward_work_size(const gp_net *net, int64_t n_features, int64_t n_outputs,
                             int64_t n_rows)
{
    const int64_t one = gp_pass_work_size(net, n_features, n_outputs, 0);
    const int64_t copies = gp_forward_copies(net, n_rows);
    if (one < 0 || n_rows < 0 || one > INT64_MAX / copies) return -1;
    return one * copies;
}

/* Doubles of scratch: the loss sums of a block's GP_ROW_CHUNK-row chunks (a
 * split block's two halves have at most one chunk more than the whole
 * block), or the L2 fold's partial sums, which use the same memory at other
 * times; the sum of both counts plus one covers either. */
int64_t gp_scratch_size(const gp_net *net)
{
    return gp_cdiv(net->chunk_rows, GP_ROW_CHUNK) + gp_cdiv(net->n_coef, GP_ELEM_CHUNK) + 1;
}

/* The layout of the parameter buffer is the one gainprop.h describes, piece
 * by piece: every W_i, every b_i, then γ_i and β_i with batch norm. */
int gp_net_ok(const gp_net *net)
{
    int64_t offset = 0;
    int i;
    if (!net || net->n_layers < 1 || net->n_layers > GP_MAX_LAYERS || !net->units
        || !net->coef_offset || !net->intercept_offset || net->n_threads < 1
        || net->chunk_rows < 1 || net->hidden_activation < 0
        || net->hidden_activation >= GP_ACT_N_KINDS || net->hidden_activation == GP_ACT_SOFTMAX
        || net->hidden_activation == GP_ACT_EXP || net->output_activation < 0
        || net->output_activation >= GP_ACT_N_KINDS || net->loss < 0
        || net->loss >= GP_LOSS_N_KINDS || (!net->dgemm && !net->dgemm64)
        || (!net->sgemm && !net->sgemm64))
        return 0;
    for (i = 0; i <= net->n_layers; ++i)
        if (net->units[i] < 1 || net->units[i] > INT32_MAX) return 0;
    if (net->dropout)
        for (i = 0; i < net->n_layers; ++i)
            if (!(net->dropout[i] >= 0 && net->dropout[i] < 1)) return 0;
    for (i = 0; i < net->n_layers; ++i) {
        if (net->coef_offset[i] != offset) return 0;
        offset += net->units[i] * net->units[i + 1];
    }
    if (net->n_coef != offset) return 0;
    for (i = 0; i < net->n_layers; ++i) {
        if (net->intercept_offset[i] != offset) return 0;
        offset += net->units[i + 1];
    }
    if (net->batch_norm) {
        const int64_t bn0 = offset;
        if (!net->bn_offset) return 0;
        for (i = 0; i + 1 < net->n_layers; ++i) {
            if (net->bn_offset[i] != offset) return 0;
            offset += 2 * net->units[i + 1];
        }
        if (net->n_running != offset - bn0) return 0;
    }
    return net->n_params == offset;
}

void gp_philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])
{
    int j;
    for (j = 0; j < 4; ++j) out[j] = counter[j];
    gp_philox_block(out, key[0], key[1]);
}

void gp_dropout_keep(const gp_dropout_stream *s, int layer, double p, int64_t row0,
                     int64_t n_rows, int64_t n_cols, unsigned char *keep)
{
    gp_mask mk;
    int64_t r, j;
    gp_mask_init(&mk, s, layer, p, row0);
    for (r = 0; r < n_rows; ++r)
        for (j = 0; j < n_cols; ++j) keep[r * n_cols + j] = (unsigned char)gp_mask_keeps(&mk, r, j);
}

int gp_matrix_ok(const gp_net *net, const gp_matrix *X)
{
    if (X->n_rows < 0 || X->n_cols != net->units[0]) return 0;
    if (X->n_rows == 0) return 1;
    if (!X->indptr) return X->data != NULL;
    /* no stored value (an all-zero matrix): no indices or data to point to */
    return X->indptr[0] == 0 && X->indptr[X->n_rows] >= 0
           && ((X->indices != NULL && X->data != NULL) || X->indptr[X->n_rows] == 0);
}

int gp_buffers_ok(const gp_net *net, const gp_buffers *buf, int64_t n_features, int dense_gather,
                  int need_grad, int need_running)
{
    /* training (need_grad) also needs the scratch of its reductions */
    const int64_t k = net->units[net->n_layers];
    const int64_t work = need_grad ? gp_work_size(net, n_features, k, dense_gather)
                                   : gp_pass_work_size(net, n_features, k, dense_gather);
    return buf->params && buf->work && (!net->batch_norm || !need_running || buf->running)
           && work >= 0 && buf->work_len >= work
           && (!need_grad
               || (buf->grad && buf->scratch && buf->scratch_len >= gp_scratch_size(net)));
}
#endif

#define REAL float
#define SFX(name) GP_ISA_NAME(name, _f32)
#define GEMM net->sgemm
#define GEMM64 net->sgemm64
#define EXP expf
#define LOG logf
#define TANH tanhf
#define EXPM1 expm1f
#define LOG1P log1pf
#define ERFC erfcf
#define EPS FLT_EPSILON
#include "gp_net_impl.h"
#undef REAL
#undef SFX
#undef GEMM
#undef GEMM64
#undef EXP
#undef LOG
#undef TANH
#undef EXPM1
#undef LOG1P
#undef ERFC
#undef EPS

#define REAL double
#define SFX(name) GP_ISA_NAME(name, _f64)
#define GEMM net->dgemm
#define GEMM64 net->dgemm64
#define EXP exp
#define LOG log
#define TANH tanh
#define EXPM1 expm1
#define LOG1P log1p
#define ERFC erfc
#define EPS DBL_EPSILON
#include "gp_net_impl.h"
