/*
 * The public kernels: each calls the variant for the instruction set chosen
 * once per process (see gp_isa.h).  gp_isa() is first called while the
 * Python module is imported, before any thread of ours exists.
 */
#include <ctype.h>
#include <stdlib.h>

#include "gainprop.h"
#include "gp_common.h"
#include "gp_isa.h"

static int gp_isa_level = -1; /* 0: baseline, 1: AVX2 */

GP_THREAD_LOCAL gp_fpmode gp_caller_fpmode;

/* Is s equal to the lower-case word w, ignoring case? */
static int gp_is_word(const char *s, const char *w)
{
    for (; *s && *w; ++s, ++w)
        if (tolower((unsigned char)*s) != *w) return 0;
    return *s == 0 && *w == 0;
}

static int gp_isa_detect(void)
{
#ifdef GP_HAVE_AVX2
    const char *env = getenv("GAINPROP_ISA");
    if (env && gp_is_word(env, "baseline")) return 0;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) return 1;
#endif
    return 0;
}

int gp_isa(void)
{
    if (gp_isa_level < 0) gp_isa_level = gp_isa_detect();
    return gp_isa_level;
}

const char *gp_isa_name(void) { return gp_isa() == 1 ? "avx2" : "baseline"; }

/* The kernel of the chosen instruction set, with subnormals flushed on the
 * calling thread while it runs (gp_common.h; the parallel regions do the same
 * on their threads) and the caller's mode restored after. */
#ifdef GP_HAVE_AVX2
#define GP_PICK(fn, DT, ...) \
    (gp_isa() == 1 ? fn##_##DT##_avx2(__VA_ARGS__) : fn##_##DT##_base(__VA_ARGS__))
#else
#define GP_PICK(fn, DT, ...) fn##_##DT##_base(__VA_ARGS__)
#endif
#define GP_FLUSHED(stmt)                                      \
    do {                                                      \
        const gp_fpmode mode_ = gp_flush_subnormals();        \
        gp_caller_fpmode = mode_;                             \
        stmt;                                                 \
        gp_restore_fpmode(mode_);                             \
    } while (0)
#define GP_CALL(fn, DT, ...) GP_FLUSHED(result_ = GP_PICK(fn, DT, __VA_ARGS__))

#define GP_DISPATCH(REAL, DT)                                                                  \
    int gp_forward_##DT(const gp_net *net, const gp_matrix *X, const REAL *params,             \
                        const REAL *running, REAL *out, int apply_output, REAL *work)          \
    {                                                                                          \
        int result_;                                                                           \
        GP_CALL(gp_forward, DT, net, X, params, running, out, apply_output, work);             \
        return result_;                                                                        \
    }                                                                                          \
    int gp_loss_grad_##DT(const gp_net *net, const gp_matrix *X, const REAL *Y, const REAL *sw, \
                          const int64_t *rows, int64_t n_rows, const REAL *params, REAL *grad, \
                          REAL *work, double *scratch, double *data_loss, double *l2)          \
    {                                                                                          \
        int result_;                                                                           \
        GP_CALL(gp_loss_grad, DT, net, X, Y, sw, rows, n_rows, params, grad, work, scratch,    \
                data_loss, l2);                                                                \
        return result_;                                                                        \
    }                                                                                          \
    int gp_train_batches_##DT(const gp_net *net, const gp_matrix *X, const REAL *Y,            \
                              const REAL *sw, const int64_t *order, int64_t n_samples,         \
                              int64_t batch_size, int64_t batch_begin, int64_t batch_end,      \
                              const double *lrs, REAL *params, REAL *grad, REAL *running,      \
                              gp_optimizer *opt, REAL *work, double *scratch,                  \
                              double *loss_acc, int64_t *n_done)                               \
    {                                                                                          \
        int result_;                                                                           \
        GP_CALL(gp_train_batches, DT, net, X, Y, sw, order, n_samples, batch_size,             \
                batch_begin, batch_end, lrs, params, grad, running, opt, work, scratch,        \
                loss_acc, n_done);                                                             \
        return result_;                                                                        \
    }                                                                                          \
    void gp_optim_step_##DT(gp_optimizer *opt, int64_t n, REAL *params, const REAL *grad,      \
                            int n_threads)                                                     \
    {                                                                                          \
        GP_FLUSHED(GP_PICK(gp_optim_step, DT, opt, n, params, grad, n_threads));               \
    }

GP_DISPATCH(float, f32)
GP_DISPATCH(double, f64)

/*
 * Diagnostics for the tests: does each of n_threads OpenMP threads (the pool
 * the kernels use when called from this thread) flush subnormals right now?
 * flags[j] gets 1 or 0 for thread j; returns the number of threads that ran.
 */
int gp_probe_thread_flush(int n_threads, int *flags)
{
    volatile float tiny = 1e-39f; /* subnormal: 0 when read or produced under a flush */
    int ran = 1;
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads)
    {
        flags[omp_get_thread_num()] = (tiny * 1.0f) == 0.0f;
#pragma omp single
        ran = omp_get_num_threads();
    }
#else
    (void)n_threads;
    flags[0] = (tiny * 1.0f) == 0.0f;
#endif
    return ran;
}

int gp_flushes_subnormals(void) { return GP_FLUSHES_SUBNORMALS; }
