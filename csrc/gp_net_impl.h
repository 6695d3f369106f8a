/*
 * Forward, loss and backward kernels and the mini-batch loop, written once for
 * both dtypes.  gp_net.c includes this file twice with
 *   REAL   float | double
 *   SFX(x) x##_f32 | x##_f64
 *   GEMM   net->sgemm | net->dgemm
 *   GEMM64 net->sgemm64 | net->dgemm64 (NULL: use GEMM)
 *   EXP, LOG, TANH, EXPM1, LOG1P, ERFC  the math.h functions of that type
 *   EPS    FLT_EPSILON | DBL_EPSILON (log clipping, as scikit-learn)
 */

/* ------------------------------------------------------------------------ */
/* Element-wise activations.  Derivatives are written from the activation  */
/* value a = f(z), as back-propagation has it at hand, except for gelu and  */
/* silu, whose derivatives need the pre-activation z (kept while training). */
/* ------------------------------------------------------------------------ */

static inline REAL SFX(gp_logistic)(REAL z)
{
    /* two branches so that exp never overflows */
    if (z >= 0) return (REAL)1 / ((REAL)1 + EXP(-z));
    REAL e = EXP(z);
    return e / ((REAL)1 + e);
}

/* One activation value and its derivative from the value (for the rare
 * non-canonical output; the hot loops below switch outside their loops). */
static inline REAL SFX(gp_act)(int act, REAL v)
{
    switch (act) {
    case GP_ACT_LOGISTIC: return SFX(gp_logistic)(v);
    case GP_ACT_TANH: return TANH(v);
    case GP_ACT_RELU: return (v < 0) ? (REAL)0 : v;
    case GP_ACT_EXP: return EXP(v);
    default: return v;
    }
}

static inline REAL SFX(gp_act_deriv)(int act, REAL a)
{
    switch (act) {
    case GP_ACT_LOGISTIC: return a * ((REAL)1 - a);
    case GP_ACT_TANH: return (REAL)1 - a * a;
    case GP_ACT_RELU: return (a == 0) ? (REAL)0 : (REAL)1;
    case GP_ACT_EXP: return a;
    default: return (REAL)1;
    }
}

/* Φ, the standard normal distribution function, as erfc(-z / √2) / 2: no
 * cancellation in the left tail (1 + erf(z / √2) would give 0 there). */
static inline REAL SFX(gp_normal_cdf)(REAL z)
{
    return (REAL)0.5 * ERFC(-z * (REAL)0.70710678118654752440);
}

/*
 * z[c] = f(z[c] + b[c]) for c < n; pre[c] gets the pre-activation z[c] + b[c]
 * when pre is not NULL (gelu and silu while training).  One loop per
 * activation, the switch outside them.  Written so that NaN stays visible.
 */
static inline void SFX(gp_act_span)(int act, REAL *GP_RESTRICT z, const REAL *GP_RESTRICT b,
                                    REAL *GP_RESTRICT pre, int64_t n)
{
    const REAL slope = (REAL)GP_LEAKY_RELU_SLOPE;
    int64_t c;
    switch (act) {
    case GP_ACT_LOGISTIC:
        for (c = 0; c < n; ++c) z[c] = SFX(gp_logistic)(z[c] + b[c]);
        break;
    case GP_ACT_TANH:
        for (c = 0; c < n; ++c) z[c] = TANH(z[c] + b[c]);
        break;
    case GP_ACT_RELU:
        /* (v < 0) ? 0 : v keeps NaN visible, unlike v > 0 ? v : 0 */
        for (c = 0; c < n; ++c) {
            const REAL v = z[c] + b[c];
            z[c] = (v < 0) ? (REAL)0 : v;
        }
        break;
    case GP_ACT_LEAKY_RELU:
        for (c = 0; c < n; ++c) {
            const REAL v = z[c] + b[c];
            z[c] = (v > 0) ? v : slope * v;
        }
        break;
    case GP_ACT_ELU:
        for (c = 0; c < n; ++c) {
            const REAL v = z[c] + b[c];
            z[c] = (v > 0) ? v : EXPM1(v);
        }
        break;
    case GP_ACT_SOFTPLUS:
        /* max(v, 0) + log(1 + exp(-|v|)): no overflow, and no threshold
         * (torch's Softplus returns v itself above 20) */
        for (c = 0; c < n; ++c) {
            const REAL v = z[c] + b[c];
            z[c] = ((v > 0) ? v : (REAL)0) + LOG1P(EXP((v < 0) ? v : -v));
        }
        break;
    case GP_ACT_GELU:
        for (c = 0; c < n; ++c) {
            const REAL v = z[c] + b[c];
            if (pre) pre[c] = v;
            z[c] = v * SFX(gp_normal_cdf)(v);
        }
        break;
    case GP_ACT_SILU:
        for (c = 0; c < n; ++c) {
            const REAL v = z[c] + b[c];
            if (pre) pre[c] = v;
            z[c] = v * SFX(gp_logistic)(v);
        }
        break;
    case GP_ACT_EXP:
        for (c = 0; c < n; ++c) z[c] = EXP(z[c] + b[c]);
        break;
    default: /* identity, and the logits of softmax */
        for (c = 0; c < n; ++c) z[c] = z[c] + b[c];
        break;
    }
}

/*
 * d[c] *= f'(z) for c < n, from the activation's value a (and, for gelu and
 * silu, its pre-activation z):
 *   logistic a (1 - a);  tanh 1 - a²;  relu [a != 0];  leaky_relu [a > 0] or
 *   the slope;  elu [a > 0] or a + 1 (= exp(z));  softplus 1 - exp(-a)
 *   (= σ(z));  gelu Φ(z) + z φ(z);  silu σ(z) (1 + z (1 - σ(z))).
 * (d is not restrict: the output layer's bias sum passes d == a, identity.)
 */
static inline void SFX(gp_deriv_span)(int act, REAL *d, const REAL *a,
                                      const REAL *GP_RESTRICT z, int64_t n)
{
    const REAL slope = (REAL)GP_LEAKY_RELU_SLOPE;
    const REAL inv_sqrt_2pi = (REAL)0.39894228040143267794;
    int64_t c;
    switch (act) {
    case GP_ACT_LOGISTIC:
        for (c = 0; c < n; ++c) d[c] = d[c] * a[c] * ((REAL)1 - a[c]);
        break;
    case GP_ACT_TANH:
        for (c = 0; c < n; ++c) d[c] = d[c] * ((REAL)1 - a[c] * a[c]);
        break;
    case GP_ACT_RELU:
        for (c = 0; c < n; ++c) d[c] = (a[c] == 0) ? (REAL)0 : d[c];
        break;
    case GP_ACT_LEAKY_RELU:
        for (c = 0; c < n; ++c) d[c] = (a[c] > 0) ? d[c] : d[c] * slope;
        break;
    case GP_ACT_ELU:
        for (c = 0; c < n; ++c) d[c] = (a[c] > 0) ? d[c] : d[c] * (a[c] + (REAL)1);
        break;
    case GP_ACT_SOFTPLUS:
        for (c = 0; c < n; ++c) d[c] = d[c] * -EXPM1(-a[c]);
        break;
    case GP_ACT_GELU:
        for (c = 0; c < n; ++c) {
            const REAL pdf = inv_sqrt_2pi * EXP((REAL)-0.5 * z[c] * z[c]);
            d[c] = d[c] * (SFX(gp_normal_cdf)(z[c]) + z[c] * pdf);
        }
        break;
    case GP_ACT_SILU:
        for (c = 0; c < n; ++c) {
            const REAL s = SFX(gp_logistic)(z[c]);
            d[c] = d[c] * (s * ((REAL)1 + z[c] * ((REAL)1 - s)));
        }
        break;
    default:
        break;
    }
}

/* x[j] = 0 for each unit c0 + j (j < w) of the block's row r that mk drops;
 * c0 is a multiple of 4 (one Philox block draws four units). */
static inline void SFX(gp_drop_span)(const gp_mask *mk, int64_t r, int64_t c0, int64_t w,
                                     REAL *x)
{
    int64_t j;
    for (j = 0; j < w; j += 4) {
        const int64_t n = gp_min64(4, w - j);
        uint32_t u[4];
        int64_t q;
        gp_mask_draw(mk, r, c0 + j, u);
        for (q = 0; q < n; ++q)
            if (u[q] >= mk->keep_below) x[j + q] = 0;
    }
}

/* The mask a backward kernel applies: none for relu, logistic and softplus,
 * whose derivative from the value 0 that a dropped unit stores is already 0
 * (and is the derivative a kept unit has where its value is 0). */
static inline const gp_mask *SFX(gp_backward_mask)(int act, const gp_mask *mk)
{
    return act == GP_ACT_RELU || act == GP_ACT_LOGISTIC || act == GP_ACT_SOFTPLUS ? NULL : mk;
}

/*
 * Z[r, c] = f(Z[r, c] + b[c]) for an element-wise activation, then dropout's
 * mask mk (NULL: none; kept values are left unscaled, see gainprop.h).  P
 * (rows x cols, or NULL) gets the pre-activations of gelu and silu.  With a
 * mask a row goes in tiles of GP_COL_BLOCK columns, masked while in cache.
 */
static void SFX(gp_bias_act)(REAL *GP_RESTRICT Z, const REAL *GP_RESTRICT b, REAL *GP_RESTRICT P,
                             int64_t n_rows, int64_t n_cols, int act, const gp_mask *mk,
                             int n_threads)
{
    const int64_t tile = mk ? GP_COL_BLOCK : n_cols;
    int nt = gp_threads_for(n_threads, n_rows * n_cols);
    int64_t r;
GP_FOR(nt, r, n_rows, {
        REAL *z = Z + r * n_cols;
        REAL *pre = P ? P + r * n_cols : NULL;
        int64_t c0;
        for (c0 = 0; c0 < n_cols; c0 += tile) {
            const int64_t w = gp_min64(tile, n_cols - c0);
            SFX(gp_act_span)(act, z + c0, b + c0, pre ? pre + c0 : NULL, w);
            if (mk) SFX(gp_drop_span)(mk, r, c0, w, z + c0);
        }
    });
}

/* In-place softmax of each row (max subtracted, so exp never overflows). */
static void SFX(gp_softmax_rows)(REAL *Z, int64_t n_rows, int64_t n_cols, int n_threads)
{
    int nt = gp_threads_for(n_threads, n_rows * n_cols);
    int64_t r;
GP_FOR(nt, r, n_rows, {
        REAL *z = Z + r * n_cols;
        REAL m = z[0], s = 0;
        int64_t c;
        for (c = 1; c < n_cols; ++c) m = z[c] > m ? z[c] : m;
        for (c = 0; c < n_cols; ++c) {
            z[c] = EXP(z[c] - m);
            s += z[c];
        }
        for (c = 0; c < n_cols; ++c) z[c] /= s;
    });
}

/*
 * Output layer, fused: adds the bias to the logits Z, applies the output
 * activation, takes the per-sample loss and overwrites Z with the delta
 *   D[r, k] = (y[r, k] - t[r, k]) * s_r
 * which is dL/dz for each canonical (output activation, loss) pair; squared
 * error with a squashing output (logistic, tanh, relu) also multiplies by
 * f'(y).  The weighted losses s_r * l_r are summed per GP_ROW_CHUNK rows into
 * partial[].
 */
static void SFX(gp_output_loss_delta)(REAL *GP_RESTRICT Z, const REAL *GP_RESTRICT b,
                                      const REAL *GP_RESTRICT T, const REAL *GP_RESTRICT sw,
                                      int64_t n_rows, int64_t n_out, int loss, int out_act,
                                      double *GP_RESTRICT partial, int n_threads)
{
    const int64_t n_chunks = gp_cdiv(n_rows, GP_ROW_CHUNK);
    const REAL lo = EPS, hi = (REAL)1 - EPS;
    int nt = gp_threads_for(n_threads, n_rows * n_out * 8);
    int64_t ch;
GP_FOR(nt, ch, n_chunks, {
        const int64_t r_end = gp_min64(n_rows, (ch + 1) * GP_ROW_CHUNK);
        double acc = 0.0;
        int64_t r;
        for (r = ch * GP_ROW_CHUNK; r < r_end; ++r) {
            REAL *z = Z + r * n_out;
            const REAL *t = T + r * n_out;
            const REAL s = sw ? sw[r] : (REAL)1;
            REAL l = 0;
            int64_t k;
            switch (loss) {
            case GP_LOSS_LOG: {
                REAL m = z[0] + b[0], sum = 0;
                for (k = 0; k < n_out; ++k) {
                    z[k] += b[k];
                    m = z[k] > m ? z[k] : m;
                }
                for (k = 0; k < n_out; ++k) {
                    z[k] = EXP(z[k] - m);
                    sum += z[k];
                }
                for (k = 0; k < n_out; ++k) {
                    REAL p = z[k] / sum;
                    if (t[k] != 0) {
                        REAL pc = p < lo ? lo : (p > hi ? hi : p);
                        l -= t[k] * LOG(pc);
                    }
                    z[k] = (p - t[k]) * s;
                }
                break;
            }
            case GP_LOSS_BINARY_LOG:
                for (k = 0; k < n_out; ++k) {
                    REAL p = SFX(gp_logistic)(z[k] + b[k]);
                    REAL pc = p < lo ? lo : (p > hi ? hi : p);
                    if (t[k] != 0) l -= t[k] * LOG(pc);
                    if (t[k] != 1) l -= ((REAL)1 - t[k]) * LOG((REAL)1 - pc);
                    z[k] = (p - t[k]) * s;
                }
                break;
            case GP_LOSS_POISSON:
                for (k = 0; k < n_out; ++k) {
                    REAL y = EXP(z[k] + b[k]);
                    /* half Poisson deviance, with scikit-learn's xlogy(t, t / y) */
                    if (t[k] != 0) l += t[k] * LOG(t[k] / y);
                    l += y - t[k];
                    z[k] = (y - t[k]) * s;
                }
                break;
            default: /* GP_LOSS_SQUARED */
                if (out_act == GP_ACT_IDENTITY) {
                    for (k = 0; k < n_out; ++k) {
                        REAL e = z[k] + b[k] - t[k];
                        l += (REAL)0.5 * e * e;
                        z[k] = e * s;
                    }
                } else { /* squashed outputs (the back-propagation lecture's worked network): not canonical */
                    for (k = 0; k < n_out; ++k) {
                        REAL y = SFX(gp_act)(out_act, z[k] + b[k]);
                        REAL e = y - t[k];
                        l += (REAL)0.5 * e * e;
                        z[k] = e * SFX(gp_act_deriv)(out_act, y) * s;
                    }
                }
                break;
            }
            acc += (double)s * (double)l;
        }
        partial[ch] = acc;
    });
}

/* Output activation for prediction (no loss): Z = out_act(Z + b). */
static void SFX(gp_output_act)(REAL *Z, const REAL *b, int64_t n_rows, int64_t n_out, int act,
                               int apply, int n_threads)
{
    if (!apply || act == GP_ACT_SOFTMAX) {
        SFX(gp_bias_act)(Z, b, NULL, n_rows, n_out, GP_ACT_IDENTITY, NULL, n_threads);
        if (apply) SFX(gp_softmax_rows)(Z, n_rows, n_out, n_threads);
    } else {
        SFX(gp_bias_act)(Z, b, NULL, n_rows, n_out, act, NULL, n_threads);
    }
}

/*
 * Back-propagation through a hidden activation and its dropout mask, fused
 * with the bias gradient of the layer the delta belongs to:
 *   D[r, c] *= f'(A[r, c]) [kept by mk];   gb[c] (+)= sum_r D[r, c] / sw_sum
 * (P: the pre-activations of gelu and silu, else NULL).  Threads own blocks
 * of GP_COL_BLOCK columns and sum their rows in order, so the sums do not
 * depend on the thread count.  act = identity and no mask give the plain
 * column sum (the output layer's bias gradient).
 */
static void SFX(gp_backprop_act)(REAL *D, const REAL *A, const REAL *P,
                                 int64_t n_rows, int64_t n_cols, int act, const gp_mask *mk,
                                 REAL *GP_RESTRICT gb, double sw_sum, int accumulate,
                                 int n_threads)
{
    const int64_t n_blocks = gp_cdiv(n_cols, GP_COL_BLOCK);
    int nt = gp_threads_for(n_threads, n_rows * n_cols);
    int64_t blk;
    if (nt > n_blocks) nt = (int)n_blocks;
GP_FOR(nt, blk, n_blocks, {
        const int64_t c0 = blk * GP_COL_BLOCK;
        const int64_t w = gp_min64(GP_COL_BLOCK, n_cols - c0);
        double acc[GP_COL_BLOCK];
        int64_t r, c;
        for (c = 0; c < w; ++c) acc[c] = 0.0;
        for (r = 0; r < n_rows; ++r) {
            REAL *d = D + r * n_cols + c0;
            SFX(gp_deriv_span)(act, d, A + r * n_cols + c0, P ? P + r * n_cols + c0 : NULL, w);
            if (mk) SFX(gp_drop_span)(mk, r, c0, w, d);
            for (c = 0; c < w; ++c) acc[c] += (double)d[c];
        }
        for (c = 0; c < w; ++c) {
            REAL v = (REAL)(acc[c] / sw_sum);
            gb[c0 + c] = accumulate ? gb[c0 + c] + v : v;
        }
    });
}

/*
 * Batch normalisation (Ioffe & Szegedy 2015), training, fused with the bias,
 * the activation and dropout's mask.  For each column c of Z (the affine map
 * without bias):
 *   z = Z + b;  μ, σ² = mean and (biased) variance over the rows
 *   x̂ = (z − μ) / √(σ² + ε);  A = f(γ x̂ + β) [kept by mk]
 * (A overwrites Z, x̂ goes to Xh, γ x̂ + β to P for gelu and silu) and, if
 * run_mean != NULL, the running statistics (unbiased variance, as
 * torch.nn.BatchNorm1d).  Threads own column blocks; statistics are summed
 * over rows in order (double accumulators), whatever the thread count.
 */
static void SFX(gp_bn_forward_train)(REAL *GP_RESTRICT Z, REAL *GP_RESTRICT Xh,
                                     REAL *GP_RESTRICT P, const REAL *GP_RESTRICT b,
                                     const REAL *GP_RESTRICT gamma,
                                     const REAL *GP_RESTRICT beta, int64_t m, int64_t u, int act,
                                     const gp_mask *mk, double eps, double momentum,
                                     REAL *GP_RESTRICT run_mean, REAL *GP_RESTRICT run_var,
                                     REAL *GP_RESTRICT inv_std, int n_threads)
{
    const int64_t n_blocks = gp_cdiv(u, GP_COL_BLOCK);
    int nt = gp_threads_for(n_threads, m * u * 4);
    int64_t blk;
    if (nt > n_blocks) nt = (int)n_blocks;
GP_FOR(nt, blk, n_blocks, {
        const int64_t c0 = blk * GP_COL_BLOCK;
        const int64_t w = gp_min64(GP_COL_BLOCK, u - c0);
        double mean[GP_COL_BLOCK], var[GP_COL_BLOCK];
        REAL mu[GP_COL_BLOCK], inv[GP_COL_BLOCK];
        int64_t r, c;
        for (c = 0; c < w; ++c) mean[c] = var[c] = 0.0;
        for (r = 0; r < m; ++r) {
            const REAL *z = Z + r * u + c0;
            for (c = 0; c < w; ++c) mean[c] += (double)(z[c] + b[c0 + c]);
        }
        for (c = 0; c < w; ++c) {
            mean[c] /= (double)m;
            mu[c] = (REAL)mean[c];
        }
        for (r = 0; r < m; ++r) {
            const REAL *z = Z + r * u + c0;
            for (c = 0; c < w; ++c) {
                double dz = (double)(z[c] + b[c0 + c]) - mean[c];
                var[c] += dz * dz;
            }
        }
        for (c = 0; c < w; ++c) {
            var[c] /= (double)m;
            inv[c] = (REAL)(1.0 / sqrt(var[c] + eps));
            inv_std[c0 + c] = inv[c];
            if (run_mean) {
                const double unbiased = m > 1 ? var[c] * (double)m / (double)(m - 1) : var[c];
                run_mean[c0 + c] = (REAL)((1.0 - momentum) * run_mean[c0 + c] + momentum * mean[c]);
                run_var[c0 + c] = (REAL)((1.0 - momentum) * run_var[c0 + c] + momentum * unbiased);
            }
        }
        for (r = 0; r < m; ++r) {
            REAL *z = Z + r * u + c0;
            REAL *xh = Xh + r * u + c0;
            for (c = 0; c < w; ++c) {
                const REAL x = (z[c] + b[c0 + c] - mu[c]) * inv[c];
                xh[c] = x;
                z[c] = gamma[c0 + c] * x;
            }
            SFX(gp_act_span)(act, z, beta + c0, P ? P + r * u + c0 : NULL, w);
            if (mk) SFX(gp_drop_span)(mk, r, c0, w, z);
        }
    });
}

/*
 * Back-propagation through dropout's mask, the activation and batch
 * normalisation, with the gradients of γ, β and of the bias b of the affine
 * map:
 *   dy = D f'(A) [kept by mk];  dβ = Σ dy;  dγ = Σ dy x̂
 *   dz = γ / (m √(σ² + ε)) · (m dy − dβ − x̂ dγ);  db = Σ dz   (D <- dz)
 * (the sums over the rows; gradients divided by sw_sum as everywhere; P: the
 * pre-activations of gelu and silu, else NULL).
 */
static void SFX(gp_bn_backward)(REAL *GP_RESTRICT D, const REAL *GP_RESTRICT A,
                                const REAL *GP_RESTRICT P, const REAL *GP_RESTRICT Xh,
                                const REAL *GP_RESTRICT gamma, const REAL *GP_RESTRICT inv_std,
                                int64_t m, int64_t u, int act, const gp_mask *mk,
                                REAL *GP_RESTRICT g_gamma, REAL *GP_RESTRICT g_beta,
                                REAL *GP_RESTRICT gb, double sw_sum, int n_threads)
{
    const int64_t n_blocks = gp_cdiv(u, GP_COL_BLOCK);
    int nt = gp_threads_for(n_threads, m * u * 4);
    int64_t blk;
    if (nt > n_blocks) nt = (int)n_blocks;
GP_FOR(nt, blk, n_blocks, {
        const int64_t c0 = blk * GP_COL_BLOCK;
        const int64_t w = gp_min64(GP_COL_BLOCK, u - c0);
        double sb[GP_COL_BLOCK], sg[GP_COL_BLOCK], sz[GP_COL_BLOCK];
        REAL kb[GP_COL_BLOCK], kg[GP_COL_BLOCK], scale[GP_COL_BLOCK];
        int64_t r, c;
        for (c = 0; c < w; ++c) sb[c] = sg[c] = sz[c] = 0.0;
        for (r = 0; r < m; ++r) {
            REAL *d = D + r * u + c0;
            const REAL *xh = Xh + r * u + c0;
            SFX(gp_deriv_span)(act, d, A + r * u + c0, P ? P + r * u + c0 : NULL, w);
            if (mk) SFX(gp_drop_span)(mk, r, c0, w, d);
            for (c = 0; c < w; ++c) {
                sb[c] += (double)d[c];
                sg[c] += (double)d[c] * (double)xh[c];
            }
        }
        for (c = 0; c < w; ++c) {
            g_beta[c0 + c] = (REAL)(sb[c] / sw_sum);
            g_gamma[c0 + c] = (REAL)(sg[c] / sw_sum);
            kb[c] = (REAL)(sb[c] / (double)m);
            kg[c] = (REAL)(sg[c] / (double)m);
            scale[c] = gamma[c0 + c] * inv_std[c0 + c];
        }
        for (r = 0; r < m; ++r) {
            REAL *d = D + r * u + c0;
            const REAL *xh = Xh + r * u + c0;
            for (c = 0; c < w; ++c) {
                const REAL dz = scale[c] * (d[c] - kb[c] - xh[c] * kg[c]);
                d[c] = dz;
                sz[c] += (double)dz;
            }
        }
        for (c = 0; c < w; ++c) gb[c0 + c] = (REAL)(sz[c] / sw_sum);
    });
}

/* Prediction through batch normalisation with the running statistics, as one
 * affine map per column: A = f(s z + t), s = γ / √(v + ε), t = β + s (b − μ). */
static void SFX(gp_bn_forward_eval)(REAL *GP_RESTRICT Z, const REAL *GP_RESTRICT b,
                                    const REAL *GP_RESTRICT gamma, const REAL *GP_RESTRICT beta,
                                    const REAL *GP_RESTRICT run_mean,
                                    const REAL *GP_RESTRICT run_var, double eps, int64_t m,
                                    int64_t u, int act, REAL *GP_RESTRICT st, int n_threads)
{
    int nt = gp_threads_for(n_threads, m * u);
    int64_t r, c;
    for (c = 0; c < u; ++c) {
        const REAL s = (REAL)((double)gamma[c] / sqrt((double)run_var[c] + eps));
        st[c] = s;
        st[u + c] = beta[c] + s * (b[c] - run_mean[c]);
    }
GP_FOR(nt, r, m, {
        REAL *z = Z + r * u;
        int64_t j;
        for (j = 0; j < u; ++j) z[j] = st[j] * z[j];
        SFX(gp_act_span)(act, z, st + u, NULL, u);
    });
    (void)c;
}

/* Copy rows rows[0..n) (start..start+n when rows is NULL) of a dense matrix
 * into a contiguous block, with dropout's mask mk (NULL: none). */
static void SFX(gp_gather_rows)(REAL *GP_RESTRICT dst, const REAL *GP_RESTRICT src,
                                const int64_t *GP_RESTRICT rows, int64_t start, int64_t n,
                                int64_t n_cols, const gp_mask *mk, int n_threads)
{
    int nt = gp_threads_for(n_threads, n * n_cols);
    int64_t r;
    GP_FOR(nt, r, n, {
        memcpy(dst + r * n_cols, src + (rows ? rows[r] : start + r) * n_cols,
               (size_t)n_cols * sizeof(REAL));
        if (mk) SFX(gp_drop_span)(mk, r, 0, n_cols, dst + r * n_cols);
    });
}

/* Z (n x u) = X[rows] (CSR) @ W (n_cols x u); row i of the block is X row
 * rows[i], or start + i when rows is NULL.  With dropout's mask mk the stored
 * values it drops are skipped and the others scaled by keep_scale. */
static void SFX(gp_csr_matmul)(const gp_matrix *X, const int64_t *rows, int64_t start, int64_t n,
                               const REAL *GP_RESTRICT W, int64_t u, REAL *GP_RESTRICT Z,
                               const gp_mask *mk, REAL keep_scale, int n_threads)
{
    const REAL *val = (const REAL *)X->data;
    int nt = gp_threads_for(n_threads, n * u * 4);
    int64_t r;
GP_FOR(nt, r, n, {
        const int64_t row = rows ? rows[r] : start + r;
        REAL *z = Z + r * u;
        int64_t p, c;
        for (c = 0; c < u; ++c) z[c] = 0;
        for (p = X->indptr[row]; p < X->indptr[row + 1]; ++p) {
            REAL v = val[p];
            const REAL *w = W + X->indices[p] * u;
            if (mk) {
                if (!gp_mask_keeps(mk, r, X->indices[p])) continue;
                v *= keep_scale;
            }
            for (c = 0; c < u; ++c) z[c] += v * w[c];
        }
    });
}

/* gW (n_cols x u) += scale * X[rows]^T (CSR) @ D (n x u), skipping the stored
 * values dropout's mask mk drops.  Threads own column blocks of gW and walk
 * all rows in order: no write conflicts, fixed order. */
static void SFX(gp_csr_grad)(const gp_matrix *X, const int64_t *rows, int64_t start, int64_t n,
                             const REAL *GP_RESTRICT D, int64_t u, double scale,
                             const gp_mask *mk, REAL *GP_RESTRICT gW, int n_threads)
{
    const REAL *val = (const REAL *)X->data;
    const int64_t n_blocks = gp_cdiv(u, GP_COL_BLOCK);
    const REAL sc = (REAL)scale;
    int nt = gp_threads_for(n_threads, n * u * 4);
    int64_t blk;
    if (nt > n_blocks) nt = (int)n_blocks;
GP_FOR(nt, blk, n_blocks, {
        const int64_t c0 = blk * GP_COL_BLOCK;
        const int64_t w = gp_min64(GP_COL_BLOCK, u - c0);
        int64_t r, p, c;
        for (r = 0; r < n; ++r) {
            const int64_t row = rows ? rows[r] : start + r;
            const REAL *d = D + r * u + c0;
            for (p = X->indptr[row]; p < X->indptr[row + 1]; ++p) {
                const REAL v = sc * val[p];
                REAL *g = gW + X->indices[p] * u + c0;
                if (mk && !gp_mask_keeps(mk, r, X->indices[p])) continue;
                for (c = 0; c < w; ++c) g[c] += v * d[c];
            }
        }
    });
}

/* C (m x n, row-major) = alpha * op(A) @ op(B) + beta * C with row-major
 * operands, through the column-major BLAS: C^T = op(B)^T op(A)^T. */
static void SFX(gp_gemm_block)(const gp_net *net, int trans_a, int trans_b, int64_t m, int64_t n,
                               int64_t k, REAL alpha, const REAL *A, int64_t lda, const REAL *B,
                               int64_t ldb, REAL beta, REAL *C, int64_t ldc)
{
    char ta = trans_b ? 'T' : 'N', tb = trans_a ? 'T' : 'N';
    int M = (int)n, N = (int)m, K = (int)k, LDA = (int)ldb, LDB = (int)lda, LDC = (int)ldc;
    if (m == 0 || n == 0) return;
    if (GEMM64) {
        GEMM64(GP_CBLAS_COL_MAJOR, trans_b ? GP_CBLAS_TRANS : GP_CBLAS_NO_TRANS,
               trans_a ? GP_CBLAS_TRANS : GP_CBLAS_NO_TRANS, n, m, k, alpha, B, ldb, A, lda, beta,
               C, ldc);
        return;
    }
    GEMM(&ta, &tb, &M, &N, &K, &alpha, (REAL *)B, &LDA, (REAL *)A, &LDB, &beta, C, &LDC);
}

/* Blocks of independent results the tiny products below work on at once. */
#define GP_SMALL_BLOCK 8

/* C's element before the sum: beta * c, and exactly 0 when beta is 0. */
#define GP_BETA_START(beta, c) ((beta) == 0 ? (REAL)0 : (beta) == 1 ? (c) : (beta) * (c))

/*
 * C += alpha op(A) B for B of few columns (an output layer of one or a few
 * units): blocks of GP_SMALL_BLOCK rows of C accumulate side by side, so the
 * sums over k are independent chains rather than one.  Each element is summed
 * over k in order, skipping zero a's, as the row loop of gp_gemm_small does.
 */
static void SFX(gp_gemm_small_rows)(int trans_a, int64_t m, int64_t n, int64_t k, REAL alpha,
                                    const REAL *A, int64_t lda, const REAL *B, int64_t ldb,
                                    REAL beta, REAL *C, int64_t ldc)
{
    int64_t i0 = 0, i, j, p;
    int r;
    for (; i0 + GP_SMALL_BLOCK <= m; i0 += GP_SMALL_BLOCK)
        for (j = 0; j < n; ++j) {
            REAL acc[GP_SMALL_BLOCK];
            for (r = 0; r < GP_SMALL_BLOCK; ++r)
                acc[r] = GP_BETA_START(beta, C[(i0 + r) * ldc + j]);
            for (p = 0; p < k; ++p) {
                const REAL b = B[p * ldb + j];
                if (trans_a) {
                    const REAL *a = A + p * lda + i0;
                    for (r = 0; r < GP_SMALL_BLOCK; ++r) {
                        const REAL ar = alpha * a[r];
                        acc[r] = ar == 0 ? acc[r] : acc[r] + ar * b;
                    }
                } else {
                    const REAL *a = A + i0 * lda + p;
                    for (r = 0; r < GP_SMALL_BLOCK; ++r) {
                        const REAL ar = alpha * a[r * lda];
                        acc[r] = ar == 0 ? acc[r] : acc[r] + ar * b;
                    }
                }
            }
            for (r = 0; r < GP_SMALL_BLOCK; ++r) C[(i0 + r) * ldc + j] = acc[r];
        }
    for (i = i0; i < m; ++i)
        for (j = 0; j < n; ++j) {
            REAL acc = GP_BETA_START(beta, C[i * ldc + j]);
            for (p = 0; p < k; ++p) {
                const REAL ar = alpha * (trans_a ? A[p * lda + i] : A[i * lda + p]);
                if (ar != 0) acc += ar * B[p * ldb + j];
            }
            C[i * ldc + j] = acc;
        }
}

/*
 * C += alpha op(A) B^T: each element alpha times the dot product of a row of
 * op(A) and a row of B, summed over k in order; blocks of GP_SMALL_BLOCK
 * columns of C accumulate side by side.
 */
static void SFX(gp_gemm_small_dots)(int trans_a, int64_t m, int64_t n, int64_t k, REAL alpha,
                                    const REAL *A, int64_t lda, const REAL *B, int64_t ldb,
                                    REAL beta, REAL *C, int64_t ldc)
{
    int64_t i, j0, j, p;
    int r;
    for (i = 0; i < m; ++i) {
        REAL *c = C + i * ldc;
        for (j0 = 0; j0 + GP_SMALL_BLOCK <= n; j0 += GP_SMALL_BLOCK) {
            REAL acc[GP_SMALL_BLOCK];
            for (r = 0; r < GP_SMALL_BLOCK; ++r) acc[r] = 0;
            for (p = 0; p < k; ++p) {
                const REAL a = trans_a ? A[p * lda + i] : A[i * lda + p];
                const REAL *b = B + j0 * ldb + p;
                for (r = 0; r < GP_SMALL_BLOCK; ++r) acc[r] += a * b[r * ldb];
            }
            for (r = 0; r < GP_SMALL_BLOCK; ++r)
                c[j0 + r] = GP_BETA_START(beta, c[j0 + r]) + alpha * acc[r];
        }
        for (j = j0; j < n; ++j) {
            const REAL *b = B + j * ldb;
            REAL acc = 0;
            for (p = 0; p < k; ++p) acc += (trans_a ? A[p * lda + i] : A[i * lda + p]) * b[p];
            c[j] = GP_BETA_START(beta, c[j]) + alpha * acc;
        }
    }
}

/*
 * The same product for tiny shapes (online learning, small layers), as plain
 * loops: below GP_SMALL_GEMM_FLOPS multiply-adds a BLAS call costs more than
 * the arithmetic.  Every element is summed over k in order.
 */
static void SFX(gp_gemm_small)(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                               REAL alpha, const REAL *A, int64_t lda, const REAL *B, int64_t ldb,
                               REAL beta, REAL *C, int64_t ldc)
{
    int64_t i, j, p;
    if (trans_b) {
        SFX(gp_gemm_small_dots)(trans_a, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (n < GP_SMALL_BLOCK) {
        SFX(gp_gemm_small_rows)(trans_a, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    /* C += alpha op(A) B, B rows contiguous: axpy over C's rows */
    for (i = 0; i < m; ++i) {
        REAL *GP_RESTRICT c = C + i * ldc;
        if (beta != 1)
            for (j = 0; j < n; ++j) c[j] = GP_BETA_START(beta, c[j]);
        for (p = 0; p < k; ++p) {
            const REAL a = alpha * (trans_a ? A[p * lda + i] : A[i * lda + p]);
            const REAL *GP_RESTRICT b = B + p * ldb;
            if (a == 0) continue;
            for (j = 0; j < n; ++j) c[j] += a * b[j];
        }
    }
}

/*
 * The same product, split into blocks of C's rows or columns (whichever is
 * longer) that our threads hand to a single-threaded BLAS.  The blocks depend
 * on the shapes alone, never on the thread count: BLAS's own threading
 * changes its summation order with the number of threads (OpenBLAS differs
 * in the last bits between 1 and 2 threads), which would make results depend
 * on n_threads.  The reduction dimension k is never split.  BLAS is held at
 * one thread while the kernels run (gp_dispatch.c), so nothing
 * oversubscribes the cores.
 */
static void SFX(gp_gemm_rm)(const gp_net *net, int trans_a, int trans_b, int64_t m, int64_t n,
                            int64_t k, REAL alpha, const REAL *A, int64_t lda, const REAL *B,
                            int64_t ldb, REAL beta, REAL *C, int64_t ldc)
{
    const int split_rows = m >= n;
    const int64_t len = split_rows ? m : n;
    int64_t n_blocks = 1, blk;
    int nt;
    if ((double)m * (double)n * (double)k <= GP_SMALL_GEMM_FLOPS) {
        if (m > 0 && n > 0)
            SFX(gp_gemm_small)(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    n_blocks = net->whole_products ? 1 : gp_gemm_blocks(m, n, k);
    if (n_blocks <= 1) {
        SFX(gp_gemm_block)(net, trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    nt = (int)gp_min64(net->n_threads, n_blocks);
GP_FOR_DYNAMIC(nt, blk, n_blocks, {
        /* boundaries on multiples of 8 rows/columns */
        const int64_t b0 = ((len * blk / n_blocks) / 8) * 8;
        const int64_t b1 = blk + 1 == n_blocks ? len : ((len * (blk + 1) / n_blocks) / 8) * 8;
        if (split_rows) {
            const REAL *Ab = trans_a ? A + b0 : A + b0 * lda;
            SFX(gp_gemm_block)(net, trans_a, trans_b, b1 - b0, n, k, alpha, Ab, lda, B, ldb, beta,
                               C + b0 * ldc, ldc);
        } else {
            const REAL *Bb = trans_b ? B + b0 * ldb : B + b0;
            SFX(gp_gemm_block)(net, trans_a, trans_b, m, b1 - b0, k, alpha, A, lda, Bb, ldb, beta,
                               C + b0, ldc);
        }
    });
}

/* Work buffer layout: per layer i >= 1, act_i then delta_i (chunk_rows x
 * units[i] each), and for hidden layers batch norm's blocks and gelu's or
 * silu's pre-activations; then gathered targets and sample weights; when
 * training splits some block of at most chunk_rows rows in two
 * (gp_splits_some_rows), the second half's gradient (n_params); then the
 * gathered dense input block (only allocated when rows are gathered or
 * masked, see gp_pass_work_size). */
typedef struct {
    REAL *act[GP_MAX_LAYERS + 1];
    REAL *delta[GP_MAX_LAYERS + 1];
    REAL *xhat[GP_MAX_LAYERS + 1];  /* batch norm: normalised pre-activations */
    REAL *bn_stat[GP_MAX_LAYERS + 1]; /* batch norm: 2 * units (1/std, or scale and shift) */
    REAL *pre[GP_MAX_LAYERS + 1];   /* gelu, silu: pre-activations (else NULL) */
    REAL *x_block;
    REAL *y_block;
    REAL *sw_block;
    REAL *grad_part; /* a split block's second half's gradient (else NULL) */
} SFX(gp_work_view);

static void SFX(gp_carve)(const gp_net *net, REAL *work, int training, SFX(gp_work_view) *v)
{
    const int64_t R = net->chunk_rows, n_out = net->units[net->n_layers];
    int i;
    for (i = 1; i <= net->n_layers; ++i) {
        v->act[i] = work;
        work += R * net->units[i];
        v->delta[i] = work;
        work += R * net->units[i];
        if (net->batch_norm && i < net->n_layers) {
            v->xhat[i] = work;
            work += R * net->units[i];
            v->bn_stat[i] = work;
            work += 2 * net->units[i];
        }
        v->pre[i] = NULL;
        if (gp_act_needs_pre(net->hidden_activation) && i < net->n_layers) {
            v->pre[i] = work;
            work += R * net->units[i];
        }
    }
    v->y_block = work;
    work += R * n_out;
    v->sw_block = work;
    work += R;
    v->grad_part = NULL;
    if (training && gp_splits_some_rows(net)) {
        v->grad_part = work;
        work += net->n_params;
    }
    /* last, so that callers that never gather dense rows need not allocate it */
    v->x_block = work;
}


/*
 * The forward pass of one block of m rows, layer by layer: hidden layer i
 * gets act[i+1] = f(A_i W_i + b_i), with batch normalisation when the net has
 * it (batch statistics when training, which also update the running ones if
 * running is not NULL; the running statistics otherwise).  The output layer's
 * product A W goes to logits; its bias and activation are left to the caller
 * (fused with the loss when training).  A0 is the block's dense inputs, or
 * NULL for the CSR rows of X (rows[0..m), or start..start+m when rows is NULL).
 * Training with dropout (ds not NULL): the block is rows row0.. of batch
 * ds->batch; each hidden layer's mask is applied by its activation kernel, and
 * the inputs' by the caller (dense) or the CSR product.
 */
static void SFX(gp_forward_block)(const gp_net *net, const gp_matrix *X, const int64_t *rows,
                                  int64_t start, int64_t m, const REAL *A0, const REAL *params,
                                  REAL *running, int training, const gp_dropout_stream *ds,
                                  int64_t row0, SFX(gp_work_view) *v, REAL *logits)
{
    const int L = net->n_layers, nt = net->n_threads;
    const REAL *A = A0;
    gp_mask mk_buf;
    int i;
    for (i = 0; i < L; ++i) {
        const int64_t ui = net->units[i], uo = net->units[i + 1];
        const REAL *W = params + net->coef_offset[i];
        const REAL *b = params + net->intercept_offset[i];
        const REAL keep_scale = (REAL)gp_keep_scale(net, ds, i);
        REAL *Z = i == L - 1 ? logits : v->act[i + 1];
        REAL *pre = training ? v->pre[i + 1] : NULL;
        const gp_mask *mk;
        if (i == 0 && !A0)
            SFX(gp_csr_matmul)(X, rows, start, m, W, uo, Z,
                               gp_layer_mask(net, ds, 0, row0, &mk_buf), keep_scale, nt);
        else
            SFX(gp_gemm_rm)(net, 0, 0, m, uo, ui, keep_scale, A, ui, W, uo, (REAL)0, Z, uo);
        if (i == L - 1) break;
        mk = gp_layer_mask(net, ds, i + 1, row0, &mk_buf);
        if (net->batch_norm) {
            const REAL *gamma = params + net->bn_offset[i];
            REAL *rs = running ? running + (net->bn_offset[i] - net->bn_offset[0]) : NULL;
            if (training)
                SFX(gp_bn_forward_train)(Z, v->xhat[i + 1], pre, b, gamma, gamma + uo, m, uo,
                                         net->hidden_activation, mk, net->bn_eps,
                                         net->bn_momentum, rs, rs ? rs + uo : NULL,
                                         v->bn_stat[i + 1], nt);
            else
                SFX(gp_bn_forward_eval)(Z, b, gamma, gamma + uo, rs, rs + uo, net->bn_eps, m, uo,
                                        net->hidden_activation, v->bn_stat[i + 1], nt);
        } else {
            SFX(gp_bias_act)(Z, b, pre, m, uo, net->hidden_activation, mk, nt);
        }
        A = Z;
    }
}

/* Sum of the sample weights of rows rows[0..n) (or start..start+n); n
 * without weights. */
static double SFX(gp_weight_sum)(const REAL *sw, const int64_t *rows, int64_t start, int64_t n)
{
    double sum = 0.0;
    int64_t r;
    if (!sw) return (double)n;
    for (r = 0; r < n; ++r) sum += (double)sw[rows ? rows[r] : start + r];
    return sum;
}

/* The work view of rows r0.. of a block (a split block's second half): the
 * same regions, r0 rows on (the gathered inputs' only when the work has them:
 * n_features 0 otherwise). */
static void SFX(gp_view_rows)(const gp_net *net, const SFX(gp_work_view) *v, int64_t r0,
                              int64_t n_features, SFX(gp_work_view) *out)
{
    int i;
    *out = *v;
    for (i = 1; i <= net->n_layers; ++i) {
        out->act[i] = v->act[i] + r0 * net->units[i];
        out->delta[i] = v->delta[i] + r0 * net->units[i];
        if (v->pre[i]) out->pre[i] = v->pre[i] + r0 * net->units[i];
    }
    out->x_block = v->x_block + r0 * n_features;
    out->y_block = v->y_block + r0 * net->units[net->n_layers];
    out->sw_block = v->sw_block + r0;
}

/*
 * Gradient of the data term of m rows of a batch, rows rows[0..m) (or
 * start..start+m when rows is NULL), which are the batch's rows row0..
 * (dropout's masks), on the work view v; the batch's weights sum to sw_sum.
 * The weights' part of grad is accumulated onto when acc_w (else
 * overwritten), the biases' when acc_b; the weighted data-loss sums of the
 * block's GP_ROW_CHUNK-row chunks go to partial[]; returns how many.
 */
static int64_t SFX(gp_block_grad)(const gp_net *net, const gp_data *data, const int64_t *rows,
                               int64_t start, int64_t m, int64_t row0, double sw_sum,
                               const REAL *params, REAL *running, REAL *grad, int acc_w,
                               int acc_b, double *partial, const gp_dropout_stream *ds,
                               SFX(gp_work_view) *v)
{
    const int L = net->n_layers;
    const int nt = net->n_threads;
    const gp_matrix *X = &data->X;
    const int64_t d = X->n_cols, k = net->units[L];
    const int sparse = X->indptr != NULL;
    const REAL *Xd = (const REAL *)X->data, *Y = (const REAL *)data->Y;
    const REAL *sw = (const REAL *)data->sw;
    const REAL *A0 = NULL;
    const REAL *T, *S;
    gp_mask in_buf, mk_buf;
    const gp_mask *in_mask = gp_layer_mask(net, ds, 0, row0, &in_buf);
    int i;

    /* inputs (with dropout's mask), targets and weights of this block */
    if (!sparse) {
        if (rows || in_mask) {
            SFX(gp_gather_rows)(v->x_block, Xd, rows, start, m, d, in_mask, nt);
            A0 = v->x_block;
        } else {
            A0 = Xd + start * d;
        }
    }
    if (rows) {
        SFX(gp_gather_rows)(v->y_block, Y, rows, 0, m, k, NULL, nt);
        T = v->y_block;
        if (sw) {
            int64_t r;
            for (r = 0; r < m; ++r) v->sw_block[r] = sw[rows[r]];
            S = v->sw_block;
        } else {
            S = NULL;
        }
    } else {
        T = Y + start * k;
        S = sw ? sw + start : NULL;
    }

    SFX(gp_forward_block)(net, X, rows, start, m, A0, params, running, 1, ds, row0, v,
                          v->act[L]);
    /* output activation, loss and delta, fused; the delta overwrites act[L] */
    SFX(gp_output_loss_delta)(v->act[L], params + net->intercept_offset[L - 1], T, S, m, k,
                              net->loss, net->output_activation, partial, nt);
    v->delta[L] = v->act[L];

    /* backward; layer i's values (the inputs of weight layer i) were stored
     * unscaled, so their keep scale enters W_i's gradient and the delta
     * passed back to them */
    SFX(gp_backprop_act)(v->delta[L], v->delta[L], NULL, m, k, GP_ACT_IDENTITY, NULL,
                         grad + net->intercept_offset[L - 1], sw_sum, acc_b, nt);
    for (i = L - 1; i >= 0; --i) {
        const int64_t ui = net->units[i], uo = net->units[i + 1];
        const REAL *W = params + net->coef_offset[i];
        REAL *gW = grad + net->coef_offset[i];
        const double keep_scale = gp_keep_scale(net, ds, i);
        if (i == 0 && sparse) {
            if (!acc_w) memset(gW, 0, (size_t)(ui * uo) * sizeof(REAL));
            SFX(gp_csr_grad)(X, rows, start, m, v->delta[1], uo, keep_scale / sw_sum, in_mask, gW,
                             nt);
        } else {
            SFX(gp_gemm_rm)(net, 1, 0, ui, uo, m, (REAL)(keep_scale / sw_sum),
                            i == 0 ? A0 : v->act[i], ui, v->delta[i + 1], uo,
                            acc_w ? (REAL)1 : (REAL)0, gW, uo);
        }
        if (i > 0) {
            const int act = net->hidden_activation;
            const gp_mask *mk =
                SFX(gp_backward_mask)(act, gp_layer_mask(net, ds, i, row0, &mk_buf));
            SFX(gp_gemm_rm)(net, 0, 1, m, ui, uo, (REAL)keep_scale, v->delta[i + 1], uo, W, uo,
                            (REAL)0, v->delta[i], ui);
            if (net->batch_norm) {
                const int64_t off = net->bn_offset[i - 1];
                SFX(gp_bn_backward)(v->delta[i], v->act[i], v->pre[i], v->xhat[i], params + off,
                                    v->bn_stat[i], m, ui, act, mk, grad + off, grad + off + ui,
                                    grad + net->intercept_offset[i - 1], sw_sum, nt);
            } else {
                SFX(gp_backprop_act)(v->delta[i], v->act[i], v->pre[i], m, ui, act, mk,
                                     grad + net->intercept_offset[i - 1], sw_sum, acc_b, nt);
            }
        }
    }
    return gp_cdiv(m, GP_ROW_CHUNK);
}

/* Do the dense input rows go through the gathered block (a row order, or
 * dropout on the inputs)? */
static int SFX(gp_gathers)(const gp_net *net, const gp_data *data, const int64_t *order)
{
    return !data->X.indptr && (order || (net->dropout && net->dropout[0] > 0));
}

/* dst[0, n) += src[0, n) */
static void SFX(gp_add_into)(REAL *GP_RESTRICT dst, const REAL *GP_RESTRICT src, int64_t n)
{
    int64_t j;
    for (j = 0; j < n; ++j) dst[j] += src[j];
}

/*
 * A block split in two (gp_splits_rows): rows [0, h) and [h, m) side by side,
 * one per thread, each with every product in one call; the first half's
 * gradient goes to grad as gp_block_grad's (acc_w, acc_b) say, the second's
 * to v->grad_part, which is then added to grad.  The loss sums of the
 * halves' chunks go to partial[] one after the other; returns how many.
 * Which rows each half has and how it is computed depend on m alone, so the
 * results are the same for any thread count.
 */
static int64_t SFX(gp_split_block_grad)(const gp_net *net, const gp_data *data, const int64_t *rows,
                                     int64_t start, int64_t m, int64_t row0, double sw_sum,
                                     const REAL *params, REAL *grad, int acc_w, int acc_b,
                                     double *partial, const gp_dropout_stream *ds,
                                     SFX(gp_work_view) *v)
{
    const int64_t h = gp_split_row(m);
    /* the gathered inputs' region exists only when rows are gathered */
    const int64_t d = SFX(gp_gathers)(net, data, rows) ? data->X.n_cols : 0;
    const gp_net one = gp_one_thread_net(net);
    const int nt = net->n_threads > 1 ? 2 : 1;
    const int64_t first_sums = gp_cdiv(h, GP_ROW_CHUNK);
    int64_t sums[2];
    int half;
    GP_FOR(nt, half, 2, {
        SFX(gp_work_view) hv;
        const int64_t r0 = half ? h : 0;
        SFX(gp_view_rows)(net, v, r0, d, &hv);
        sums[half] = SFX(gp_block_grad)(&one, data, rows ? rows + r0 : NULL, start + r0,
                                        half ? m - h : h, row0 + r0, sw_sum, params, NULL,
                                        half ? v->grad_part : grad, half ? 0 : acc_w,
                                        half ? 0 : acc_b, partial + (half ? first_sums : 0),
                                        ds, &hv);
    });
    /* on this thread: no second parallel region per block */
    SFX(gp_add_into)(grad, v->grad_part, net->n_params);
    return sums[0] + sums[1];
}

/*
 * Gradient of the data term of one batch, rows rows[0..n) (or start..start+n
 * when rows is NULL) whose weights sum to sw_sum > 0, processed in blocks of
 * at most chunk_rows rows whose gradients accumulate (each split in two when
 * gp_splits_rows says); returns the weighted data-loss sum.  With l2 set the
 * weights' part of grad is accumulated onto: it holds the batch's L2 term
 * (gp_l2_start, or the previous step's fold); otherwise every part is
 * overwritten.  ds: dropout's stream at this batch, or NULL (no dropout).
 */
static double SFX(gp_batch_grad)(const gp_net *net, const gp_data *data, const int64_t *rows,
                                 int64_t start, int64_t n, double sw_sum,
                                 const gp_buffers *buf, REAL *running, int l2,
                                 const gp_dropout_stream *ds)
{
    const REAL *params = (const REAL *)buf->params;
    REAL *grad = (REAL *)buf->grad;
    double *scratch = buf->scratch;
    SFX(gp_work_view) v;
    double dsum = 0.0;
    int64_t s0;

    SFX(gp_carve)(net, (REAL *)buf->work, 1, &v);
    for (s0 = 0; s0 < n; s0 += net->chunk_rows) {
        const int64_t m = gp_min64(net->chunk_rows, n - s0);
        const int64_t *brows = rows ? rows + s0 : NULL;
        const int first = (s0 == 0);
        int64_t ch, n_chunks;
        if (v.grad_part && gp_splits_rows(net, m))
            n_chunks = SFX(gp_split_block_grad)(net, data, brows, start + s0, m, s0, sw_sum,
                                                params, grad, l2 || !first, !first, scratch, ds,
                                                &v);
        else
            n_chunks = SFX(gp_block_grad)(net, data, brows, start + s0, m, s0, sw_sum, params,
                                          running, grad, l2 || !first, !first, scratch, ds, &v);
        for (ch = 0; ch < n_chunks; ++ch) dsum += scratch[ch];
    }
    return dsum;
}

/* Rows [s0, s0 + chunk_rows) of X (fewer at the end) through the network
 * into out, on the work memory at work. */
static void SFX(gp_forward_rows)(const gp_net *net, const gp_matrix *X, const gp_buffers *buf,
                                 REAL *work, int64_t s0, REAL *out, int apply_output)
{
    const int L = net->n_layers;
    const int64_t d = X->n_cols, k = net->units[L];
    const int64_t m = gp_min64(net->chunk_rows, X->n_rows - s0);
    const REAL *params = (const REAL *)buf->params;
    const REAL *A0 = X->indptr ? NULL : (const REAL *)X->data + s0 * d;
    REAL *logits = out + s0 * k;
    SFX(gp_work_view) v;
    SFX(gp_carve)(net, work, 0, &v);
    SFX(gp_forward_block)(net, X, NULL, s0, m, A0, params, (REAL *)buf->running, 0, NULL, 0, &v,
                          logits);
    SFX(gp_output_act)(logits, params + net->intercept_offset[L - 1], m, k,
                       net->output_activation, apply_output, net->n_threads);
}

int SFX(gp_forward)(const gp_net *net, const gp_matrix *X, const gp_buffers *buf, REAL *out,
                    int apply_output)
{
    const int64_t d = X->n_cols;
    int64_t k, copies, n_blocks, per, blk, work;
    gp_net one;
    int nt;
    if (!gp_net_ok(net) || !gp_matrix_ok(net, X) || !gp_buffers_ok(net, buf, d, 0, 0, 1)
        || (X->n_rows > 0 && !out))
        return GP_BAD_ARGUMENT;
    k = net->units[net->n_layers];
    work = gp_forward_work_size(net, d, k, X->n_rows);
    if (work < 0 || buf->work_len < work) return GP_BAD_ARGUMENT;
    copies = gp_forward_copies(net, X->n_rows);
    n_blocks = gp_row_blocks(X->n_rows, net->chunk_rows);
    if (n_blocks < 2) { /* one block of rows: the threads share its products */
        if (n_blocks == 1)
            SFX(gp_forward_rows)(net, X, buf, (REAL *)buf->work, 0, out, apply_output);
        return GP_OK;
    }
    /* Several blocks: each thread runs whole blocks, every product in one BLAS
     * call (each thread packs a weight matrix once per block, not once per
     * piece of a product), on a work region of its own.  Which blocks exist
     * and how each is computed depend on the rows alone, so the results are
     * the same for any thread count. */
    one = gp_one_thread_net(net);
    per = gp_pass_work_size(net, d, k, 0);
    nt = (int)copies;
    GP_FOR_DYNAMIC(nt, blk, n_blocks, {
        /* (a serial loop keeps the caller's number, which may be any in a
         * caller's own team: region 0 then) */
        const int64_t region = gp_thread_index() < copies ? gp_thread_index() : 0;
        SFX(gp_forward_rows)(&one, X, buf, (REAL *)buf->work + region * per,
                             blk * net->chunk_rows, out, apply_output);
    });
    return GP_OK;
}

/* Are the data's targets and weights there, and the net's data X? */
static int SFX(gp_data_ok)(const gp_net *net, const gp_data *data)
{
    return gp_matrix_ok(net, &data->X) && (data->X.n_rows == 0 || data->Y);
}

int SFX(gp_loss_grad)(const gp_net *net, const gp_data *data, const gp_buffers *buf,
                      const gp_dropout_stream *dropout, double *data_loss, double *l2)
{
    const int64_t n = data->X.n_rows;
    const int use_l2 = net->alpha > 0;
    double sw_sum, sumsq = 0.0, dsum = 0.0;
    if (!gp_net_ok(net) || !SFX(gp_data_ok)(net, data)
        || !gp_buffers_ok(net, buf, data->X.n_cols, SFX(gp_gathers)(net, data, NULL), 1, 0)
        || (net->batch_norm && n > net->chunk_rows)
        || (gp_has_dropout(net) && (!dropout || dropout->batch >= GP_DROPOUT_MAX_BATCH)))
        return GP_BAD_ARGUMENT;
    sw_sum = SFX(gp_weight_sum)((const REAL *)data->sw, NULL, 0, n);
    if (!(sw_sum > 0)) return GP_BAD_ARGUMENT;
    /* L2 first: grad = alpha / sw_sum W, onto which the data term accumulates */
    if (use_l2)
        sumsq = SFX(gp_l2_start)((REAL *)buf->grad, (const REAL *)buf->params, net->n_coef,
                                 net->alpha / sw_sum, buf->scratch, net->n_threads);
    dsum = SFX(gp_batch_grad)(net, data, NULL, 0, n, sw_sum, buf, NULL, use_l2,
                              gp_has_dropout(net) ? dropout : NULL);
    *data_loss = dsum / sw_sum;
    *l2 = 0.5 * net->alpha * sumsq / sw_sum;
    return GP_OK;
}

/* alpha / (the weight of the first batch from b on whose weights do not sum
 * to 0): the L2 factor of the next batch a pass steps on (0 past its end). */
static double SFX(gp_next_l2_coef)(const gp_net *net, const gp_data *data, const gp_epoch *ep,
                                   int64_t b)
{
    const int64_t n = data->X.n_rows, bs = ep->batch_size;
    for (; b * bs < n; ++b) {
        const double w = SFX(gp_weight_sum)((const REAL *)data->sw,
                                            ep->order ? ep->order + b * bs : NULL, b * bs,
                                            gp_min64(bs, n - b * bs));
        if (w != 0) return net->alpha / w;
    }
    return 0.0;
}

int SFX(gp_train_batches)(const gp_net *net, const gp_data *data, const gp_buffers *buf,
                          gp_optimizer *opt, gp_epoch *ep, int64_t batch_begin, int64_t batch_end)
{
    const int64_t n_samples = data->X.n_rows, bs = ep->batch_size;
    const int use_l2 = net->alpha > 0;
    const int drop = gp_has_dropout(net);
    REAL *params = (REAL *)buf->params, *grad = (REAL *)buf->grad;
    gp_l2_fold fold;
    int64_t b;
    if (!gp_net_ok(net) || !SFX(gp_data_ok)(net, data)
        || !gp_buffers_ok(net, buf, data->X.n_cols, SFX(gp_gathers)(net, data, ep->order), 1, 1)
        || bs < 1 || (net->batch_norm && bs > net->chunk_rows) || batch_begin < 0
        || (ep->lrs && ep->n_lrs < gp_cdiv(n_samples, bs)) || !gp_optimizer_complete(opt)
        || ep->dropout.batch > GP_DROPOUT_MAX_BATCH - (uint64_t)gp_max64(0, batch_end - batch_begin))
        return GP_BAD_ARGUMENT;
    /* The L2 term is folded into each step (gp_l2_fold): between the steps of
     * a pass, the weights' gradient holds the next batch's L2 term and
     * l2_sumsq the square sum of the current weights.  The pass's first call
     * puts them there. */
    if (use_l2 && !ep->l2_carried) {
        ep->l2_sumsq = SFX(gp_l2_start)(grad, params, net->n_coef,
                                        SFX(gp_next_l2_coef)(net, data, ep, batch_begin),
                                        buf->scratch, net->n_threads);
        ep->l2_carried = 1;
    }
    fold.n_coef = net->n_coef;
    fold.partial = buf->scratch;
    for (b = batch_begin; b < batch_end; ++b) {
        const int64_t r0 = b * bs;
        const int64_t nb = gp_min64(bs, n_samples - r0);
        const int64_t *rows = ep->order ? ep->order + r0 : NULL;
        double sw_sum, dsum, batch_loss, sumsq;
        if (nb <= 0) break;
        sw_sum = SFX(gp_weight_sum)((const REAL *)data->sw, rows, r0, nb);
        if (sw_sum == 0) { /* no weight: no step, no statistics, nothing added to the loss */
            ep->n_done += 1;
            ep->dropout.batch += 1;
            continue;
        }
        dsum = SFX(gp_batch_grad)(net, data, rows, r0, nb, sw_sum, buf, (REAL *)buf->running,
                                  use_l2, drop ? &ep->dropout : NULL);
        sumsq = use_l2 ? ep->l2_sumsq : 0.0;
        /* scikit-learn's batch loss: mean data loss (times loss_scale) + L2 term */
        batch_loss = net->loss_scale * dsum / sw_sum + 0.5 * net->alpha * sumsq / sw_sum;
        if (!isfinite(batch_loss)) {
            ep->l2_carried = 0; /* grad holds a gradient now, not an L2 term */
            return GP_NONFINITE_LOSS;
        }
        ep->loss_sum += batch_loss * (double)nb;
        ep->n_rows += nb;
        if (ep->lrs) opt->lr = ep->lrs[b];
        opt->loss = batch_loss;
        if (use_l2) fold.coef = SFX(gp_next_l2_coef)(net, data, ep, b + 1);
        SFX(gp_optim_step)(opt, net->n_params, params, grad, use_l2 ? &fold : NULL,
                           net->n_threads);
        if (use_l2) ep->l2_sumsq = fold.sumsq;
        ep->n_done += 1;
        ep->dropout.batch += 1;
    }
    return GP_OK;
}
