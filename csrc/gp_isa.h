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

#define GP_ISA_DECLARE(REAL, DT, ISA)                                                          \
    int gp_forward_##DT##_##ISA(const gp_net *net, const gp_matrix *X, const gp_buffers *buf,  \
                                REAL *out, int apply_output);                                  \
    int gp_loss_grad_##DT##_##ISA(const gp_net *net, const gp_data *data,                      \
                                  const gp_buffers *buf, const gp_dropout_stream *dropout,     \
                                  double *data_loss, double *l2);                              \
    int gp_train_batches_##DT##_##ISA(const gp_net *net, const gp_data *data,                  \
                                      const gp_buffers *buf, gp_optimizer *opt,                \
                                      gp_epoch *epoch, int64_t batch_begin,                    \
                                      int64_t batch_end);                                      \
    int gp_optim_step_##DT##_##ISA(gp_optimizer *opt, int64_t n, REAL *params, REAL *grad,     \
                                   gp_l2_fold *l2, int n_threads);                             \
    /* internal: the L2 term's start over grad[0, n) (optim/step_impl.h) */                    \
    double gp_l2_start_##DT##_##ISA(REAL *grad, const REAL *W, int64_t n, double cf,           \
                                    double *partial, int n_threads);

GP_ISA_DECLARE(float, f32, base)
GP_ISA_DECLARE(double, f64, base)
#ifdef GP_HAVE_AVX2
GP_ISA_DECLARE(float, f32, avx2)
GP_ISA_DECLARE(double, f64, avx2)
#endif

#undef GP_ISA_DECLARE

#endif /* GP_ISA_H */
