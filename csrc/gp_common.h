/* Internal helpers shared by the kernels: threading thresholds and chunk sizes. */
#ifndef GP_COMMON_H
#define GP_COMMON_H

#include <math.h>
#include <stdint.h>

#include "gainprop.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(_MSC_VER)
#define GP_RESTRICT __restrict
#else
#define GP_RESTRICT restrict
#endif

/* Below this many elements of work a parallel region costs more than it saves
 * (online learning, small layers): such loops run on the calling thread. */
#define GP_PAR_MIN_WORK 32768

/* Fixed reduction chunks.  Partial sums are taken over these chunks and then
 * added in chunk order, so a reduction gives the same bits for any number of
 * threads. */
#define GP_ROW_CHUNK 64       /* rows per partial loss sum */
#define GP_ELEM_CHUNK 8192    /* elements per partial sum / per optimizer range */
#define GP_COL_BLOCK 64       /* columns per column-sum task */

/* Matrix products of at least this many multiply-adds are split into blocks of
 * at least GP_GEMM_MIN_BLOCK rows (or columns) of the result, run by our
 * threads (see gp_gemm_blocks). */
#define GP_GEMM_PAR_MIN_FLOPS 262144.0
/* ... and products of at most this many run as plain loops, without BLAS */
#define GP_SMALL_GEMM_FLOPS 16384.0
#define GP_GEMM_MIN_BLOCK 256

/*
 * Subnormal numbers flushed to zero while gainprop's kernels run, on each of
 * their threads, and the caller's floating-point mode restored after (as
 * TensorFlow's thread pools do): an operation on a subnormal costs about a
 * hundred cycles on x86, and optimizer state decays into that range (Adam and
 * RMSprop on weights whose only gradient is the L2 term, momentum on weights
 * of always-zero inputs) - online learning ran up to 25 times slower.  Values
 * below 1.2e-38 (float32) or 2.2e-308 (float64) become zero.  x86 (with SSE):
 * MXCSR FTZ|DAZ; AArch64: FPCR.FZ; elsewhere nothing is flushed
 * (GP_FLUSHES_SUBNORMALS 0).
 *
 * gp_dispatch.c flushes on the calling thread around every kernel and keeps
 * the caller's mode in gp_caller_fpmode (thread-local); each parallel region
 * (GP_FOR) flushes on its other threads and sets them back to that mode at its
 * end - not to the mode they entered with, which they may have inherited from
 * a flushed caller when the OpenMP runtime created them inside a kernel.
 */
#if defined(__x86_64__) || defined(_M_X64) || (defined(__i386__) && defined(__SSE__)) || \
    (defined(_M_IX86_FP) && _M_IX86_FP >= 1)
#include <xmmintrin.h>
#define GP_FLUSHES_SUBNORMALS 1
typedef unsigned int gp_fpmode;
static inline gp_fpmode gp_flush_subnormals(void)
{
    const unsigned int mode = _mm_getcsr();
    _mm_setcsr(mode | 0x8040u); /* FTZ (bit 15) | DAZ (bit 6) */
    return mode;
}
static inline void gp_restore_fpmode(gp_fpmode mode) { _mm_setcsr(mode); }
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#define GP_FLUSHES_SUBNORMALS 1
typedef unsigned long gp_fpmode;
static inline gp_fpmode gp_flush_subnormals(void)
{
    unsigned long mode;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(mode));
    __asm__ __volatile__("msr fpcr, %0" : : "r"(mode | (1ul << 24))); /* FZ */
    return mode;
}
static inline void gp_restore_fpmode(gp_fpmode mode)
{
    __asm__ __volatile__("msr fpcr, %0" : : "r"(mode));
}
#else
#define GP_FLUSHES_SUBNORMALS 0
typedef int gp_fpmode;
static inline gp_fpmode gp_flush_subnormals(void) { return 0; }
static inline void gp_restore_fpmode(gp_fpmode mode) { (void)mode; }
#endif

#if defined(_MSC_VER)
#define GP_THREAD_LOCAL __declspec(thread)
#else
#define GP_THREAD_LOCAL __thread
#endif
/* The calling thread's mode before the kernel it is in (gp_dispatch.c). */
extern GP_THREAD_LOCAL gp_fpmode gp_caller_fpmode;

/*
 * Fork (gp_dispatch.c): gp_pool_started is set once a parallel region has
 * run; a child forked after that gets gp_fork_serial = 1 (pthread_atfork)
 * and runs every loop on its calling thread, because the OpenMP runtime's
 * pool did not survive the fork (libgomp would wait for it forever).
 */
extern volatile int gp_pool_started;
extern volatile int gp_fork_serial;

/*
 * GP_FOR(nt, i, n, { body }): for (i = 0; i < n; ++i) body, run by nt OpenMP
 * threads (static schedule) when nt > 1 and on the calling thread otherwise.
 * Each thread of a parallel region flushes subnormals (see above); at its end
 * the other threads take the caller's mode back.
 * The serial path does not enter the OpenMP runtime at all: an inactive
 * parallel region still costs about half a microsecond, which online learning
 * pays several times per sample.  GP_FOR_DYNAMIC hands out iterations one at
 * a time (blocks of a matrix product).  After a fork (above) every loop runs
 * on the calling thread.
 */
#if defined(_MSC_VER)
#define GP_PRAGMA(x) __pragma(x)
#else
#define GP_PRAGMA(x) _Pragma(#x)
#endif
#ifdef _OPENMP
#define GP_FOR_SCHED(sched, nt, i, n, ...)                                  \
    do {                                                                    \
        if ((nt) > 1 && !gp_fork_serial) {                                  \
            const gp_fpmode gp_caller_ = gp_caller_fpmode;                  \
            gp_pool_started = 1;                                            \
            GP_PRAGMA(omp parallel num_threads(nt))                         \
            {                                                               \
                (void)gp_flush_subnormals();                                \
                GP_PRAGMA(omp for schedule(sched))                          \
                for (i = 0; i < (n); ++i) __VA_ARGS__                       \
                if (omp_get_thread_num() != 0) gp_restore_fpmode(gp_caller_); \
            }                                                               \
        } else {                                                            \
            for (i = 0; i < (n); ++i) __VA_ARGS__                           \
        }                                                                   \
    } while (0)
#else
#define GP_FOR_SCHED(sched, nt, i, n, ...)                                  \
    do {                                                                    \
        (void)(nt);                                                         \
        for (i = 0; i < (n); ++i) __VA_ARGS__                               \
    } while (0)
#endif
#define GP_FOR(nt, i, n, ...) GP_FOR_SCHED(static, nt, i, n, __VA_ARGS__)
#define GP_FOR_DYNAMIC(nt, i, n, ...) GP_FOR_SCHED(dynamic, nt, i, n, __VA_ARGS__)

/*
 * How many blocks of the longer side of C (m x n) a product of m*n*k
 * multiply-adds is split into: a function of the shape alone, never of the
 * thread count, so that the results are the same for any number of threads
 * (see gp_gemm_rm).  The most blocks of at least GP_GEMM_MIN_BLOCK rows from
 * a ladder of counts that 2, 3 and 4 threads share evenly, or one block.
 *
 * Smaller blocks were measured and not kept: two halves of the products of a
 * 20-64-64-1 network at batch 200 (each ~50 us of work) ran 10-100x slower
 * with 2 threads on a machine busy with other processes, every parallel
 * region waiting for a time slice for its second thread.  Such networks split
 * the rows of a block instead (gp_splits_rows below): one parallel region per
 * block, not one per product, which with a busy core runs about as fast as
 * one thread does.
 */
static inline int64_t gp_gemm_blocks(int64_t m, int64_t n, int64_t k)
{
    static const int64_t ladder[] = {24, 12, 8, 6, 4, 2};
    const int64_t len = m >= n ? m : n;
    size_t j;
    if ((double)m * (double)n * (double)k < GP_GEMM_PAR_MIN_FLOPS) return 1;
    for (j = 0; j < sizeof ladder / sizeof ladder[0]; ++j)
        if (len / ladder[j] >= GP_GEMM_MIN_BLOCK) return ladder[j];
    return 1;
}

/*
 * Rows of a training block split in two (issue 14): a block of m rows whose
 * products are too small to share out (a small network at the default batch
 * of 200) runs as two halves side by side, one per thread, each product in
 * one BLAS call; the second half's gradient goes to a buffer of its own and
 * is added to the first's after both (in that order).  Whether a block is
 * split, and where, depends on the network and m alone, never on the thread
 * count, so the results are the same for any number of threads.  Only when
 * none of the block's products is shared out among the threads already
 * (gp_gemm_blocks: those run on every thread, not on two), not with batch
 * normalisation (its statistics are the whole block's), nor for networks of
 * more than GP_SPLIT_MAX_PARAMS parameters (adding the halves' gradients
 * reads and writes every one per block).
 */
#define GP_SPLIT_MIN_ROWS 128
#define GP_SPLIT_MIN_MACS 131072.0 /* multiply-adds of a block's forward products */
#define GP_SPLIT_MAX_PARAMS 262144

/* Does every product of the forward and backward pass of a block of m rows
 * run in one piece (gp_gemm_blocks)?  Once false for some m, false for every
 * larger m. */
static inline int gp_block_products_whole(const gp_net *net, int64_t m)
{
    int i;
    for (i = 0; i < net->n_layers; ++i) {
        const int64_t ui = net->units[i], uo = net->units[i + 1];
        if (gp_gemm_blocks(m, uo, ui) > 1 || gp_gemm_blocks(ui, uo, m) > 1
            || (i > 0 && gp_gemm_blocks(m, ui, uo) > 1))
            return 0;
    }
    return 1;
}

/* The fewest rows of a block worth splitting: GP_SPLIT_MIN_ROWS, or enough
 * for GP_SPLIT_MIN_MACS multiply-adds. */
static inline int64_t gp_split_min_rows(const gp_net *net)
{
    double macs = 0.0, rows;
    int i;
    for (i = 0; i < net->n_layers; ++i) macs += (double)net->units[i] * (double)net->units[i + 1];
    rows = ceil(GP_SPLIT_MIN_MACS / macs);
    return rows > GP_SPLIT_MIN_ROWS ? (int64_t)rows : GP_SPLIT_MIN_ROWS;
}

static inline int gp_splits_rows(const gp_net *net, int64_t m)
{
    return !net->batch_norm && net->n_params <= GP_SPLIT_MAX_PARAMS
           && m >= gp_split_min_rows(net) && gp_block_products_whole(net, m);
}

/* Does training split any block of at most chunk_rows rows (and so need
 * room for a second half's gradient)?  The blocks split are those from
 * gp_split_min_rows rows up to where a product is first shared out: some
 * are at most chunk_rows long iff the shortest is. */
static inline int gp_splits_some_rows(const gp_net *net)
{
    const int64_t m = gp_split_min_rows(net);
    return m <= net->chunk_rows && gp_splits_rows(net, m);
}

/* The first row of a split block's second half: about half, a multiple of 8. */
static inline int64_t gp_split_row(int64_t m) { return (m / 2) / 8 * 8; }

/* A copy of net whose kernels run on the calling thread alone, each product
 * in one BLAS call: for work that the threads share out by whole blocks of
 * rows (gp_forward, a split block's halves). */
static inline gp_net gp_one_thread_net(const gp_net *net)
{
    gp_net one = *net;
    one.n_threads = 1;
    one.whole_products = 1;
    return one;
}

static inline int gp_threads_for(int n_threads, int64_t work)
{
#ifdef _OPENMP
    if (n_threads > 1 && work >= GP_PAR_MIN_WORK) return n_threads;
#else
    (void)n_threads;
    (void)work;
#endif
    return 1;
}

static inline int64_t gp_min64(int64_t a, int64_t b) { return a < b ? a : b; }
/* Blocks of c rows that n rows make (0 for no rows), without overflow. */
static inline int64_t gp_row_blocks(int64_t n, int64_t c)
{
    return c < 1 || n < 1 ? 0 : n / c + (n % c != 0);
}

/* This thread's number in the parallel region it runs in (0 outside one). */
static inline int gp_thread_index(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}
static inline int64_t gp_max64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t gp_cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Does back-propagation through this hidden activation need its
 * pre-activation (kept in a work block while training)? */
static inline int gp_act_needs_pre(int act)
{
    return act == GP_ACT_GELU || act == GP_ACT_SILU;
}

/*
 * Dropout masks (see gainprop.h).  A unit's draw is one word of a
 * Philox4x32-10 block (Salmon, Moraes, Dror & Shaw 2011, "Parallel random
 * numbers: as easy as 1, 2, 3"; the generator of Random123, cuRAND and JAX)
 * whose counter says where the unit is: (unit / 4, row in the batch, batch,
 * layer).  Any thread can draw any unit's mask, in the forward pass and
 * again in the backward one, and get the same bits: nothing is stored.
 */
#define GP_PHILOX_M0 0xD2511F53u
#define GP_PHILOX_M1 0xCD9E8D57u
#define GP_PHILOX_W0 0x9E3779B9u /* the golden ratio, 2^32 (φ - 1) */
#define GP_PHILOX_W1 0xBB67AE85u /* 2^32 (√3 - 1) */

/* Ten rounds on the counter c with key (k0, k1), in place (Random123's
 * philox4x32_R(10, ...): the key is bumped between rounds). */
static inline void gp_philox_block(uint32_t c[4], uint32_t k0, uint32_t k1)
{
    int round;
    for (round = 0; round < 10; ++round) {
        const uint64_t p0 = (uint64_t)GP_PHILOX_M0 * c[0];
        const uint64_t p1 = (uint64_t)GP_PHILOX_M1 * c[2];
        const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0;
        const uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
        c[1] = (uint32_t)p1;
        c[3] = (uint32_t)p0;
        c[0] = n0;
        c[2] = n2;
        k0 += GP_PHILOX_W0;
        k1 += GP_PHILOX_W1;
    }
}

/* One layer's mask in one block of rows of a batch. */
typedef struct {
    uint32_t k0, k1;     /* the key */
    uint32_t c2, c3;     /* counter words 2 and 3: the batch and the layer */
    int64_t row0;        /* the block's first row, counted in its batch */
    uint64_t keep_below; /* a draw below floor((1 - p) 2^32) keeps its unit */
} gp_mask;

static inline void gp_mask_init(gp_mask *mk, const gp_dropout_stream *s, int layer, double p,
                                int64_t row0)
{
    mk->k0 = (uint32_t)s->key;
    mk->k1 = (uint32_t)(s->key >> 32);
    mk->c2 = (uint32_t)s->batch;
    mk->c3 = ((uint32_t)(s->batch >> 32) << 8) | (uint32_t)layer;
    mk->row0 = row0;
    mk->keep_below = (uint64_t)((1.0 - p) * 4294967296.0);
}

/* The draws of units j0 .. j0 + 3 (j0 a multiple of 4) of the block's row r. */
static inline void gp_mask_draw(const gp_mask *mk, int64_t r, int64_t j0, uint32_t u[4])
{
    u[0] = (uint32_t)(j0 >> 2);
    u[1] = (uint32_t)(mk->row0 + r);
    u[2] = mk->c2;
    u[3] = mk->c3;
    gp_philox_block(u, mk->k0, mk->k1);
}

/* Is unit j of the block's row r kept? */
static inline int gp_mask_keeps(const gp_mask *mk, int64_t r, int64_t j)
{
    uint32_t u[4];
    gp_mask_draw(mk, r, j & ~(int64_t)3, u);
    return u[j & 3] < mk->keep_below;
}

/* Does any layer of the net have dropout? */
static inline int gp_has_dropout(const gp_net *net)
{
    int i;
    if (net->dropout)
        for (i = 0; i < net->n_layers; ++i)
            if (net->dropout[i] > 0) return 1;
    return 0;
}

/* The factor 1 / (1 - p) of inverted dropout on layer `layer`'s values, while
 * training with the stream ds (1 without dropout there, or without ds). */
static inline double gp_keep_scale(const gp_net *net, const gp_dropout_stream *ds, int layer)
{
    return ds && net->dropout && net->dropout[layer] > 0 ? 1.0 / (1.0 - net->dropout[layer])
                                                         : 1.0;
}

/* The mask of layer `layer` in the block of rows from row0 of the stream's
 * batch, set up in *mk; NULL when that layer has no dropout or there is no
 * stream (prediction). */
static inline const gp_mask *gp_layer_mask(const gp_net *net, const gp_dropout_stream *ds,
                                           int layer, int64_t row0, gp_mask *mk)
{
    if (!ds || !net->dropout || !(net->dropout[layer] > 0)) return NULL;
    gp_mask_init(mk, ds, layer, net->dropout[layer], row0);
    return mk;
}

/* Structural checks shared by the entry points (gp_net.c): 1 when sound. */
int gp_net_ok(const gp_net *net);
int gp_matrix_ok(const gp_net *net, const gp_matrix *X);
int gp_buffers_ok(const gp_net *net, const gp_buffers *buf, int64_t n_features, int dense_gather,
                  int need_grad, int need_running);

#endif /* GP_COMMON_H */
