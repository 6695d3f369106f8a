/*
 * The public kernels and the state of the threads that run them.
 *
 * Each public kernel calls the variant for the instruction set chosen once per
 * process (see gp_isa.h); gp_isa() is first called while the Python module is
 * imported, before any thread of ours exists.  Around every kernel, on the
 * calling thread: subnormals are flushed (gp_common.h) and, in OpenMP builds,
 * BLAS is held at one thread (below); both are restored after.
 */
#include <ctype.h>
#include <stdlib.h>

#if !defined(_WIN32)
#include <pthread.h>
#endif

#include "gainprop.h"
#include "gp_common.h"
#include "gp_isa.h"

static int gp_isa_level = -1; /* 0: baseline, 1: AVX2 */

GP_THREAD_LOCAL gp_fpmode gp_caller_fpmode;
volatile int gp_pool_started = 0;
volatile int gp_fork_serial = 0;


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

/* Called at import, before any thread of ours exists: the place for the
 * process's one-time setup. */
static void gp_register_fork_handlers(void);

int gp_isa(void)
{
    if (gp_isa_level < 0) {
        gp_isa_level = gp_isa_detect();
        gp_register_fork_handlers();
    }
    return gp_isa_level;
}

const char *gp_isa_name(void) { return gp_isa() == 1 ? "avx2" : "baseline"; }

int gp_serial_after_fork(void) { return gp_fork_serial; }

/*
 * BLAS held at one thread while any kernel runs (OpenMP builds).  The
 * kernels split every large product into blocks fixed by the shapes and run
 * them on their own threads; BLAS's own threading would change the summation
 * order with the number of threads.  OpenBLAS's pthreads builds (numpy's and
 * scipy's wheels) keep one thread count for the whole process (even
 * openblas_set_num_threads_local sets it for every thread, measured), so the
 * calls in flight are counted: the first sets one thread, the last puts the
 * caller's count back.  The functions are those of the library the products
 * call, installed by the Python layer (gp_set_blas_threads); without them
 * the Python layer limits BLAS itself.
 */
static gp_blas_get_threads_fn gp_blas_get = NULL;
static gp_blas_threads_fn gp_blas_set = NULL;
static int gp_blas_users = 0;
static int gp_blas_saved = 0;
static int gp_blas_after_fork = 0; /* a count to put back, left by a fork (below) */

/* The lock of the count: a pthread mutex on POSIX, which the fork handlers
 * hold across a fork (a child never inherits it locked), an OpenMP lock
 * elsewhere (no fork there). */
#if defined(_OPENMP) && !defined(_WIN32)
static pthread_mutex_t gp_blas_mutex = PTHREAD_MUTEX_INITIALIZER;
static void gp_blas_lock(void) { pthread_mutex_lock(&gp_blas_mutex); }
static void gp_blas_unlock(void) { pthread_mutex_unlock(&gp_blas_mutex); }
#elif defined(_OPENMP)
static omp_lock_t gp_blas_omp_lock;
static int gp_blas_omp_ready = 0;
static void gp_blas_lock(void)
{
    if (!gp_blas_omp_ready) { /* first made by gp_set_blas_threads, before any kernel */
        omp_init_lock(&gp_blas_omp_lock);
        gp_blas_omp_ready = 1;
    }
    omp_set_lock(&gp_blas_omp_lock);
}
static void gp_blas_unlock(void) { omp_unset_lock(&gp_blas_omp_lock); }
#endif

/*
 * Fork.  prepare/parent hold the count's lock across the fork; the child
 * gets it unlocked with no kernel running, so the count starts again at 0.
 * If a kernel of another thread held BLAS at one thread when the process
 * forked, the child's BLAS is left at one thread: the count it had before is
 * put back by gp_blas_fork_restore, called from the child's Python (an
 * atfork child handler may not start threads, which a thread count may).
 * And a child forked after the kernels ran OpenMP threads runs them
 * serially (gp_fork_serial, gp_common.h).
 */
#if defined(_OPENMP) && !defined(_WIN32)
static void gp_atfork_prepare(void) { pthread_mutex_lock(&gp_blas_mutex); }
static void gp_atfork_parent(void) { pthread_mutex_unlock(&gp_blas_mutex); }
static void gp_atfork_child(void)
{
    if (gp_pool_started) gp_fork_serial = 1;
    if (gp_blas_users > 0 && gp_blas_saved != 1) gp_blas_after_fork = gp_blas_saved;
    gp_blas_users = 0;
    pthread_mutex_init(&gp_blas_mutex, NULL);
}
#endif

static void gp_register_fork_handlers(void)
{
#if defined(_OPENMP) && !defined(_WIN32)
    pthread_atfork(gp_atfork_prepare, gp_atfork_parent, gp_atfork_child);
#endif
}

void gp_blas_fork_restore(void)
{
#ifdef _OPENMP
    gp_blas_lock();
    if (gp_blas_after_fork && gp_blas_users == 0 && gp_blas_set) gp_blas_set(gp_blas_after_fork);
    gp_blas_after_fork = 0;
    gp_blas_unlock();
#endif
}

void gp_set_blas_threads(gp_blas_get_threads_fn get, gp_blas_threads_fn set)
{
#ifdef _OPENMP
    gp_blas_lock();
    if (gp_blas_users == 0) {
        gp_blas_get = get;
        gp_blas_set = set;
    }
    gp_blas_unlock();
#else
    (void)get;
    (void)set;
#endif
}

int gp_blas_threads_held(void)
{
#ifdef _OPENMP
    return gp_blas_set != NULL;
#else
    return 0;
#endif
}

static void gp_blas_hold(void)
{
#ifdef _OPENMP
    if (!gp_blas_set) return;
    gp_blas_lock();
    if (gp_blas_users++ == 0) {
        gp_blas_saved = gp_blas_get();
        if (gp_blas_saved != 1) gp_blas_set(1);
    }
    gp_blas_unlock();
#endif
}

static void gp_blas_release(void)
{
#ifdef _OPENMP
    if (!gp_blas_set) return;
    gp_blas_lock();
    if (--gp_blas_users == 0 && gp_blas_saved != 1) gp_blas_set(gp_blas_saved);
    gp_blas_unlock();
#endif
}

/* The kernel of the chosen instruction set, with the calling thread's
 * floating-point mode and BLAS set for it, and both restored after. */
#ifdef GP_HAVE_AVX2
#define GP_PICK(fn, DT, ...) \
    (gp_isa() == 1 ? fn##_##DT##_avx2(__VA_ARGS__) : fn##_##DT##_base(__VA_ARGS__))
#else
#define GP_PICK(fn, DT, ...) fn##_##DT##_base(__VA_ARGS__)
#endif
#define GP_CALL(fn, DT, ...)                                  \
    do {                                                      \
        const gp_fpmode mode_ = gp_flush_subnormals();        \
        gp_caller_fpmode = mode_;                             \
        gp_blas_hold();                                       \
        result_ = GP_PICK(fn, DT, __VA_ARGS__);               \
        gp_blas_release();                                    \
        gp_restore_fpmode(mode_);                             \
    } while (0)

#define GP_DISPATCH(REAL, DT)                                                                  \
    int gp_forward_##DT(const gp_net *net, const gp_matrix *X, const gp_buffers *buf,          \
                        REAL *out, int apply_output)                                           \
    {                                                                                          \
        int result_;                                                                           \
        GP_CALL(gp_forward, DT, net, X, buf, out, apply_output);                               \
        return result_;                                                                        \
    }                                                                                          \
    int gp_loss_grad_##DT(const gp_net *net, const gp_data *data, const gp_buffers *buf,       \
                          const gp_dropout_stream *dropout, double *data_loss, double *l2)     \
    {                                                                                          \
        int result_;                                                                           \
        GP_CALL(gp_loss_grad, DT, net, data, buf, dropout, data_loss, l2);                     \
        return result_;                                                                        \
    }                                                                                          \
    int gp_train_batches_##DT(const gp_net *net, const gp_data *data, const gp_buffers *buf,   \
                              gp_optimizer *opt, gp_epoch *epoch, int64_t batch_begin,         \
                              int64_t batch_end)                                               \
    {                                                                                          \
        int result_;                                                                           \
        GP_CALL(gp_train_batches, DT, net, data, buf, opt, epoch, batch_begin, batch_end);     \
        return result_;                                                                        \
    }                                                                                          \
    int gp_optim_step_##DT(gp_optimizer *opt, int64_t n, REAL *params, REAL *grad,             \
                           gp_l2_fold *l2, int n_threads)                                      \
    {                                                                                          \
        int result_;                                                                           \
        GP_CALL(gp_optim_step, DT, opt, n, params, grad, l2, n_threads);                       \
        return result_;                                                                        \
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
    if (gp_fork_serial) { /* no OpenMP runtime call in a forked child */
        flags[0] = (tiny * 1.0f) == 0.0f;
        return 1;
    }
    gp_pool_started = 1;
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
