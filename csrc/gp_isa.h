/*
 * Instruction-set variants of the kernels.  gp_net.c and optim/step.c are
 * compiled once for the baseline of the target (SSE2 on x86-64) and, on
 * x86-64 with GCC or Clang, once more with -mavx2 (CMakeLists.txt); each
 * build names its kernels with its tag (gp_forward_f32_base,
 * gp_forward_f32_avx2, ...) and gp_dispatch.c picks one at run time from the
 * CPU (the GAINPROP_ISA environment variable can force "baseline").
 *
 * Both builds use -ffp-contract=off and no fast-math: the same operations in
 * the same order, so they give the same bits; only the vector width differs.
 */
#ifndef GP_ISA_H
#define GP_ISA_H

#include "gainprop.h"

#ifndef GP_ISA
#define GP_ISA base
#endif

#define GP_ISA_CAT_(name, dt, isa) name##dt##_##isa
#define GP_ISA_CAT(name, dt, isa) GP_ISA_CAT_(name, dt, isa)
/* GP_ISA_NAME(gp_forward, _f32) -> gp_forward_f32_<GP_ISA> */
#define GP_ISA_NAME(name, dt) GP_ISA_CAT(name, dt, GP_ISA)

#define GP_ISA_DECLARE(REAL, DT, ISA)                                                         \
    int gp_forward_##DT##_##ISA(const gp_net *net, const gp_matrix *X, const REAL *params,    \
                                const REAL *running, REAL *out, int apply_output, REAL *work); \
    int gp_loss_grad_##DT##_##ISA(const gp_net *net, const gp_matrix *X, const REAL *Y,        \
                                  const REAL *sw, const int64_t *rows, int64_t n_rows,         \
                                  const REAL *params, REAL *grad, REAL *work,                  \
                                  double *scratch, double *data_loss, double *l2);             \
    int gp_train_batches_##DT##_##ISA(                                                         \
        const gp_net *net, const gp_matrix *X, const REAL *Y, const REAL *sw,                  \
        const int64_t *order, int64_t n_samples, int64_t batch_size, int64_t batch_begin,      \
        int64_t batch_end, const double *lrs, REAL *params, REAL *grad, REAL *running,         \
        gp_optimizer *opt, REAL *work, double *scratch, double *loss_acc, int64_t *n_done);    \
    void gp_optim_step_##DT##_##ISA(gp_optimizer *opt, int64_t n, REAL *params,                \
                                    const REAL *grad, int n_threads);                          \
    /* internal: the rule on params[begin, end) for step t, no threading */                    \
    void gp_optim_range_##DT##_##ISA(const gp_optimizer *opt, int64_t t, int64_t begin,        \
                                     int64_t end, REAL *params, const REAL *grad);

GP_ISA_DECLARE(float, f32, base)
GP_ISA_DECLARE(double, f64, base)
#ifdef GP_HAVE_AVX2
GP_ISA_DECLARE(float, f32, avx2)
GP_ISA_DECLARE(double, f64, avx2)
#endif

#undef GP_ISA_DECLARE

#endif /* GP_ISA_H */
