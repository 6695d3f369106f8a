/*
 * The matrix-product floor of a training step, timed in C: the products one
 * mini-batch of an MLP needs (given on the command line, in the order and
 * shapes gainprop's core calls them), called back to back through the CBLAS
 * gemm of an OpenBLAS, with nothing else between them.  bench/run.py builds
 * this with the system's C compiler and points it at numpy's OpenBLAS (the
 * library gainprop's products call).
 *
 *   gemm_floor LIBRARY f32|f64 THREADS SEQUENCES  ta tb m n k beta  [...]
 *
 * Each product is C (m x n) = op(A) op(B) + beta C, row-major, op = transpose
 * when ta/tb is 1.  Prints the seconds of one sequence: the minimum and the
 * median over SEQUENCES timed runs of 50 sequences each.
 */
#define _POSIX_C_SOURCE 199309L
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROW_MAJOR 101
#define NO_TRANS 111
#define TRANS 112
#define MAX_PRODUCTS 64
#define PER_RUN 50

typedef void (*dgemm_fn)(int, int, int, int64_t, int64_t, int64_t, double, const double *,
                         int64_t, const double *, int64_t, double, double *, int64_t);
typedef void (*sgemm_fn)(int, int, int, int64_t, int64_t, int64_t, float, const float *, int64_t,
                         const float *, int64_t, float, float *, int64_t);
typedef void (*threads_fn)(int);

typedef struct {
    int ta, tb;
    int64_t m, n, k;
    double beta;
    void *A, *B, *C;
} product;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *filled(int64_t count, int f32)
{
    int64_t i;
    void *p = malloc((size_t)(count > 0 ? count : 1) * (f32 ? sizeof(float) : sizeof(double)));
    if (!p) exit(3);
    for (i = 0; i < count; ++i) {
        double v = 0.01 * (double)((i * 7919) % 200 - 100);
        if (f32)
            ((float *)p)[i] = (float)v;
        else
            ((double *)p)[i] = v;
    }
    return p;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void *symbol(void *lib, const char *const *names)
{
    for (; *names; ++names) {
        void *s = dlsym(lib, *names);
        if (s) return s;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static const char *dnames[] = {"scipy_cblas_dgemm64_", "cblas_dgemm64_", "cblas_dgemm", 0};
    static const char *snames[] = {"scipy_cblas_sgemm64_", "cblas_sgemm64_", "cblas_sgemm", 0};
    static const char *tnames[] = {"scipy_openblas_set_num_threads64_",
                                   "openblas_set_num_threads64_", "openblas_set_num_threads", 0};
    product prods[MAX_PRODUCTS];
    double *times;
    void *lib, *gemm;
    threads_fn set_threads;
    int f32, n_prod = 0, runs, r, s, p, a;
    if (argc < 5 || (argc - 5) % 6 != 0 || (argc - 5) / 6 > MAX_PRODUCTS) {
        fprintf(stderr, "usage: gemm_floor LIBRARY f32|f64 THREADS RUNS ta tb m n k beta ...\n");
        return 2;
    }
    f32 = strcmp(argv[2], "f32") == 0;
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "%s\n", dlerror());
        return 2;
    }
    gemm = symbol(lib, f32 ? snames : dnames);
    set_threads = (threads_fn)symbol(lib, tnames);
    if (!gemm) {
        fprintf(stderr, "no CBLAS gemm in %s\n", argv[1]);
        return 2;
    }
    if (set_threads) set_threads(atoi(argv[3]));
    runs = atoi(argv[4]);
    if (runs < 1) runs = 1;
    for (a = 5; a < argc; a += 6) {
        product *q = &prods[n_prod++];
        q->ta = atoi(argv[a]);
        q->tb = atoi(argv[a + 1]);
        q->m = atoll(argv[a + 2]);
        q->n = atoll(argv[a + 3]);
        q->k = atoll(argv[a + 4]);
        q->beta = atof(argv[a + 5]);
        q->A = filled(q->m * q->k, f32);
        q->B = filled(q->k * q->n, f32);
        q->C = filled(q->m * q->n, f32);
    }
    times = malloc(sizeof(double) * (size_t)runs);
    for (r = -1; r < runs; ++r) { /* run -1 warms up */
        double t0 = now();
        for (s = 0; s < PER_RUN; ++s)
            for (p = 0; p < n_prod; ++p) {
                const product *q = &prods[p];
                const int64_t lda = q->ta ? q->m : q->k, ldb = q->tb ? q->k : q->n;
                const int ta = q->ta ? TRANS : NO_TRANS, tb = q->tb ? TRANS : NO_TRANS;
                if (f32)
                    ((sgemm_fn)gemm)(ROW_MAJOR, ta, tb, q->m, q->n, q->k, 1.0f, q->A, lda, q->B,
                                     ldb, (float)q->beta, q->C, q->n);
                else
                    ((dgemm_fn)gemm)(ROW_MAJOR, ta, tb, q->m, q->n, q->k, 1.0, q->A, lda, q->B,
                                     ldb, q->beta, q->C, q->n);
            }
        if (r >= 0) times[r] = (now() - t0) / PER_RUN;
    }
    qsort(times, (size_t)runs, sizeof(double), cmp);
    printf("%.9g %.9g\n", times[0], times[runs / 2]);
    return 0;
}
