/*
 * Forward, loss and backward kernels and the mini-batch loop, written once for
 * both dtypes.  gp_net.c includes this file twice with
 *   REAL   float | double
 *   SFX(x) x##_f32 | x##_f64
 *   GEMM   net->sgemm | net->dgemm
 *   GEMM64 net->sgemm64 | net->dgemm64 (NULL: use GEMM)
 *   EXP, LOG, TANH  the math.h functions of that type
 *   EPS    FLT_EPSILON | DBL_EPSILON (log clipping, as scikit-learn)
 */

/* ------------------------------------------------------------------------ */
/* Element-wise activations.  Derivatives are written from the activation  */
/* value a = f(z), as back-propagation has it at hand.                      */
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

/* Z[r, c] = f(Z[r, c] + b[c]) for an element-wise hidden activation. */
static void SFX(gp_bias_act)(REAL *GP_RESTRICT Z, const REAL *GP_RESTRICT b, int64_t n_rows,
                             int64_t n_cols, int act, int n_threads)
{
    int nt = gp_threads_for(n_threads, n_rows * n_cols);
    int64_t r;
GP_FOR(nt, r, n_rows, {
        REAL *z = Z + r * n_cols;
        int64_t c;
        switch (act) {
        case GP_ACT_LOGISTIC:
            for (c = 0; c < n_cols; ++c) z[c] = SFX(gp_logistic)(z[c] + b[c]);
            break;
        case GP_ACT_TANH:
            for (c = 0; c < n_cols; ++c) z[c] = TANH(z[c] + b[c]);
            break;
        case GP_ACT_RELU:
            /* (v < 0) ? 0 : v keeps NaN visible, unlike v > 0 ? v : 0 */
            for (c = 0; c < n_cols; ++c) {
                REAL v = z[c] + b[c];
                z[c] = (v < 0) ? (REAL)0 : v;
            }
            break;
        case GP_ACT_EXP:
            for (c = 0; c < n_cols; ++c) z[c] = EXP(z[c] + b[c]);
            break;
        default: /* identity, and the logits of softmax */
            for (c = 0; c < n_cols; ++c) z[c] = z[c] + b[c];
            break;
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
                } else { /* squashed outputs (seed 001's network): not canonical */
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
        SFX(gp_bias_act)(Z, b, n_rows, n_out, GP_ACT_IDENTITY, n_threads);
        if (apply) SFX(gp_softmax_rows)(Z, n_rows, n_out, n_threads);
    } else {
        SFX(gp_bias_act)(Z, b, n_rows, n_out, act, n_threads);
    }
}

/*
 * Back-propagation through a hidden activation, fused with the bias gradient
 * of the layer the delta belongs to:
 *   D[r, c] *= f'(A[r, c]);   gb[c] (+)= sum_r D[r, c] / sw_sum
 * Threads own blocks of GP_COL_BLOCK columns and sum their rows in order, so
 * the sums do not depend on the thread count.  act = identity gives the plain
 * column sum (the output layer's bias gradient).
 */
static void SFX(gp_backprop_act)(REAL *D, const REAL *A,
                                 int64_t n_rows, int64_t n_cols, int act,
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
            const REAL *a = A + r * n_cols + c0;
            switch (act) {
            case GP_ACT_LOGISTIC:
                for (c = 0; c < w; ++c) d[c] = d[c] * a[c] * ((REAL)1 - a[c]);
                break;
            case GP_ACT_TANH:
                for (c = 0; c < w; ++c) d[c] = d[c] * ((REAL)1 - a[c] * a[c]);
                break;
            case GP_ACT_RELU:
                for (c = 0; c < w; ++c) d[c] = (a[c] == 0) ? (REAL)0 : d[c];
                break;
            default:
                break;
            }
            for (c = 0; c < w; ++c) acc[c] += (double)d[c];
        }
        for (c = 0; c < w; ++c) {
            REAL v = (REAL)(acc[c] / sw_sum);
            gb[c0 + c] = accumulate ? gb[c0 + c] + v : v;
        }
    });
}

/*
 * Batch normalisation (Ioffe & Szegedy 2015), training, fused with the bias
 * and the activation.  For each column c of Z (the affine map without bias):
 *   z = Z + b;  μ, σ² = mean and (biased) variance over the rows
 *   x̂ = (z − μ) / √(σ² + ε);  A = f(γ x̂ + β)   (A overwrites Z, x̂ goes to Xh)
 * and, if run_mean != NULL, the running statistics (unbiased variance, as
 * torch.nn.BatchNorm1d).  Threads own column blocks; statistics are summed
 * over rows in order (double accumulators), whatever the thread count.
 */
static void SFX(gp_bn_forward_train)(REAL *GP_RESTRICT Z, REAL *GP_RESTRICT Xh,
                                     const REAL *GP_RESTRICT b, const REAL *GP_RESTRICT gamma,
                                     const REAL *GP_RESTRICT beta, int64_t m, int64_t u, int act,
                                     double eps, double momentum, REAL *GP_RESTRICT run_mean,
                                     REAL *GP_RESTRICT run_var, REAL *GP_RESTRICT inv_std,
                                     int n_threads)
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
                z[c] = SFX(gp_act)(act, gamma[c0 + c] * x + beta[c0 + c]);
            }
        }
    });
}

/*
 * Back-propagation through the activation and batch normalisation, with the
 * gradients of γ, β and of the bias b of the affine map:
 *   dy = D f'(A);  dβ = Σ dy;  dγ = Σ dy x̂
 *   dz = γ / (m √(σ² + ε)) · (m dy − dβ − x̂ dγ);  db = Σ dz   (D <- dz)
 * (the sums over the rows; gradients divided by sw_sum as everywhere).
 */
static void SFX(gp_bn_backward)(REAL *GP_RESTRICT D, const REAL *GP_RESTRICT A,
                                const REAL *GP_RESTRICT Xh, const REAL *GP_RESTRICT gamma,
                                const REAL *GP_RESTRICT inv_std, int64_t m, int64_t u, int act,
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
            const REAL *a = A + r * u + c0;
            const REAL *xh = Xh + r * u + c0;
            for (c = 0; c < w; ++c) {
                const REAL dy = d[c] * SFX(gp_act_deriv)(act, a[c]);
                d[c] = dy;
                sb[c] += (double)dy;
                sg[c] += (double)dy * (double)xh[c];
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
        for (j = 0; j < u; ++j) z[j] = SFX(gp_act)(act, st[j] * z[j] + st[u + j]);
    });
    (void)c;
}

/* gW[b, e) = cf * W[b, e) (or 0 when zero is set: the L2 term folded into
 * the step, gp_step_l2), adding the squares W^2 into the ACC_LANES lanes acc
 * (element i into lane (i - b) % ACC_LANES, the tail into lane 0).  ACC is
 * float for float32 networks (as scikit-learn's sdot) and double for float64;
 * independent lanes let the loop vectorise, and the order of the additions
 * depends on the shapes alone (not on threads or the instruction set). */
static inline void SFX(gp_l2_range)(REAL *GP_RESTRICT gW, const REAL *GP_RESTRICT W, int64_t b,
                                    int64_t e, REAL cf, int zero, ACC *GP_RESTRICT acc)
{
    int64_t i, j;
    for (i = b; i + ACC_LANES <= e; i += ACC_LANES)
        for (j = 0; j < ACC_LANES; ++j) {
            acc[j] += (ACC)W[i + j] * (ACC)W[i + j];
            gW[i + j] = zero ? (REAL)0 : cf * W[i + j];
        }
    for (; i < e; ++i) {
        acc[0] += (ACC)W[i] * (ACC)W[i];
        gW[i] = zero ? (REAL)0 : cf * W[i];
    }
}

static inline double SFX(gp_lanes_sum)(const ACC *acc)
{
    double sum = 0.0;
    int j;
    for (j = 0; j < ACC_LANES; ++j) sum += (double)acc[j];
    return sum;
}

/* gW = (alpha / sw_sum) * W over the weight prefix (0 when zero is set);
 * returns sum(W^2), summed per chunk of GP_ELEM_CHUNK elements and then over
 * chunks in order: the same for any thread count. */
static double SFX(gp_l2_init)(REAL *GP_RESTRICT gW, const REAL *GP_RESTRICT W, int64_t n,
                              double coef, int zero, double *GP_RESTRICT partial, int n_threads)
{
    const int64_t n_chunks = gp_cdiv(n, GP_ELEM_CHUNK);
    const REAL cf = (REAL)coef;
    int nt = gp_threads_for(n_threads, n);
    int64_t ch;
    double total = 0.0;
GP_FOR(nt, ch, n_chunks, {
        ACC acc[ACC_LANES] = {0};
        SFX(gp_l2_range)(gW, W, ch * GP_ELEM_CHUNK, gp_min64(n, (ch + 1) * GP_ELEM_CHUNK), cf,
                         zero, acc);
        partial[ch] = SFX(gp_lanes_sum)(acc);
    });
    for (ch = 0; ch < n_chunks; ++ch) total += partial[ch];
    return total;
}

/* Does a batch of n rows take the small-layer path that writes each weight
 * gradient with its L2 term in one pass (gp_grad_small_l2)? */
static int SFX(gp_small_l2_fusable)(const gp_net *net, int64_t n, int sparse)
{
    int l;
    if (!(net->alpha > 0) || n <= 0 || n > net->chunk_rows || sparse) return 0;
    for (l = 0; l < net->n_layers; ++l)
        if ((double)net->units[l] * (double)net->units[l + 1] * (double)n > GP_SMALL_GEMM_FLOPS)
            return 0;
    return 1;
}

/*
 * The weight gradient of a small layer with its L2 term, in one pass:
 *   gW (ui x uo) = cf * W + alpha * A^T D     (A: m x ui, D: m x uo)
 * returning sum(W^2).  Rows are taken in blocks of about 8 KB: the L2 term is
 * written over the block, then the data term is added while the block is in
 * L1.  Each element gets exactly the operations of gp_l2_init followed by
 * gp_gemm_small; online learning saves a pass over the gradient per sample.
 */
static double SFX(gp_grad_small_l2)(int64_t ui, int64_t uo, int64_t m, REAL alpha,
                                    const REAL *GP_RESTRICT A, const REAL *GP_RESTRICT D,
                                    const REAL *GP_RESTRICT W, REAL cf, REAL *GP_RESTRICT gW)
{
    const int64_t R = gp_max64(1, 2048 / gp_max64(uo, 1));
    ACC acc[ACC_LANES] = {0};
    int64_t r0, i, j, p;
    for (r0 = 0; r0 < ui; r0 += R) {
        const int64_t r1 = gp_min64(ui, r0 + R);
        SFX(gp_l2_range)(gW, W, r0 * uo, r1 * uo, cf, 0, acc);
        for (i = r0; i < r1; ++i) {
            REAL *GP_RESTRICT c = gW + i * uo;
            for (p = 0; p < m; ++p) {
                const REAL a = alpha * A[p * ui + i];
                const REAL *GP_RESTRICT d = D + p * uo;
                if (a == 0) continue;
                for (j = 0; j < uo; ++j) c[j] += a * d[j];
            }
        }
    }
    return SFX(gp_lanes_sum)(acc);
}

/* Copy rows order[0..n) of a dense matrix into a contiguous block. */
static void SFX(gp_gather_rows)(REAL *GP_RESTRICT dst, const REAL *GP_RESTRICT src,
                                const int64_t *GP_RESTRICT rows, int64_t n, int64_t n_cols,
                                int n_threads)
{
    int nt = gp_threads_for(n_threads, n * n_cols);
    int64_t r;
    GP_FOR(nt, r, n, {
        memcpy(dst + r * n_cols, src + rows[r] * n_cols, (size_t)n_cols * sizeof(REAL));
    });
}

/* Z (n x u) = X[rows] (CSR) @ W (n_cols x u); row i of the block is X row
 * rows[i], or start + i when rows is NULL. */
static void SFX(gp_csr_matmul)(const gp_matrix *X, const int64_t *rows, int64_t start, int64_t n,
                               const REAL *GP_RESTRICT W, int64_t u, REAL *GP_RESTRICT Z,
                               int n_threads)
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
            const REAL v = val[p];
            const REAL *w = W + X->indices[p] * u;
            for (c = 0; c < u; ++c) z[c] += v * w[c];
        }
    });
}

/* gW (n_cols x u) += scale * X[rows]^T (CSR) @ D (n x u).  Threads own column
 * blocks of gW and walk all rows in order: no write conflicts, fixed order. */
static void SFX(gp_csr_grad)(const gp_matrix *X, const int64_t *rows, int64_t start, int64_t n,
                             const REAL *GP_RESTRICT D, int64_t u, double scale,
                             REAL *GP_RESTRICT gW, int n_threads)
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
    for (i = 0; i < m; ++i) {
        REAL *c = C + i * ldc;
        if (beta == 0)
            for (j = 0; j < n; ++j) c[j] = 0;
        else if (beta != 1)
            for (j = 0; j < n; ++j) c[j] *= beta;
    }
    if (!trans_b) { /* C += alpha op(A) B, B rows contiguous: axpy over C's rows */
        for (i = 0; i < m; ++i) {
            REAL *GP_RESTRICT c = C + i * ldc;
            for (p = 0; p < k; ++p) {
                const REAL a = alpha * (trans_a ? A[p * lda + i] : A[i * lda + p]);
                const REAL *GP_RESTRICT b = B + p * ldb;
                if (a == 0) continue;
                for (j = 0; j < n; ++j) c[j] += a * b[j];
            }
        }
    } else { /* C += alpha op(A) B^T: dot products of rows */
        for (i = 0; i < m; ++i) {
            for (j = 0; j < n; ++j) {
                const REAL *b = B + j * ldb;
                REAL acc = 0;
                if (trans_a)
                    for (p = 0; p < k; ++p) acc += A[p * lda + i] * b[p];
                else
                    for (p = 0; p < k; ++p) acc += A[i * lda + p] * b[p];
                C[i * ldc + j] += alpha * acc;
            }
        }
    }
}

/*
 * The same product, split into blocks of C's rows or columns (whichever is
 * longer) that our threads hand to a single-threaded BLAS.  The blocks depend
 * on the shapes alone, never on the thread count: BLAS's own threading
 * changes its summation order with the number of threads (OpenBLAS differs
 * in the last bits between 1 and 2 threads), which would make results depend
 * on n_threads.  The reduction dimension k is never split.  The Python layer
 * limits BLAS to one thread (threadpoolctl) while the core runs, so nothing
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
    if ((double)m * (double)n * (double)k >= GP_GEMM_PAR_MIN_FLOPS) {
        /* the most blocks of at least GP_GEMM_MIN_BLOCK from a ladder of counts
         * that 2, 3 and 4 threads share evenly */
        static const int64_t ladder[] = {24, 12, 8, 6, 4, 2};
        size_t j;
        for (j = 0; j < sizeof ladder / sizeof ladder[0]; ++j)
            if (len / ladder[j] >= GP_GEMM_MIN_BLOCK) {
                n_blocks = ladder[j];
                break;
            }
    }
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
 * units[i] each); then gathered targets and sample weights; then the gathered
 * dense input block (only allocated when rows are gathered, see gp_work_size). */
typedef struct {
    REAL *act[GP_MAX_LAYERS + 1];
    REAL *delta[GP_MAX_LAYERS + 1];
    REAL *xhat[GP_MAX_LAYERS + 1];  /* batch norm: normalised pre-activations */
    REAL *bn_stat[GP_MAX_LAYERS + 1]; /* batch norm: 2 * units (1/std, or scale and shift) */
    REAL *x_block;
    REAL *y_block;
    REAL *sw_block;
} SFX(gp_work_view);

static void SFX(gp_carve)(const gp_net *net, REAL *work, int64_t n_features, int64_t n_out,
                          SFX(gp_work_view) *v)
{
    const int64_t R = net->chunk_rows;
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
    }
    v->y_block = work;
    work += R * n_out;
    v->sw_block = work;
    work += R;
    /* last, so that callers that never gather dense rows need not allocate it */
    v->x_block = work;
    (void)n_features;
}

/*
 * Gradient of one batch: rows rows[0..n) (or start..start+n when rows is
 * NULL), processed in blocks of at most chunk_rows rows whose weight and bias
 * gradients accumulate.  grad gets d/dθ [weighted mean loss + L2].
 * Returns the weighted data-loss sum in *data_sum, sum of weights in *sw_out,
 * sum(W^2) in *sumsq (0 when alpha == 0).
 */
static int SFX(gp_batch_grad)(const gp_net *net, const gp_matrix *X, const REAL *Y,
                              const REAL *sw, const int64_t *rows, int64_t start, int64_t n,
                              const REAL *params, REAL *grad, REAL *running, REAL *work,
                              double *scratch, double *data_sum, double *sw_out, double *sumsq,
                              int l2_deferred)
{
    const int L = net->n_layers;
    const int nt = net->n_threads;
    const int64_t d = X->n_cols, k = net->units[L];
    const int sparse = X->indptr != NULL;
    const REAL *Xd = (const REAL *)X->data;
    SFX(gp_work_view) v;
    double sw_sum = 0.0, dsum = 0.0;
    int64_t s0;
    int fuse_l2;

    SFX(gp_carve)(net, work, d, k, &v);
    /* batch statistics need the whole batch in one block */
    if (net->batch_norm && n > net->chunk_rows) return GP_BAD_ARGUMENT;

    if (sw) {
        int64_t r;
        for (r = 0; r < n; ++r) sw_sum += (double)sw[rows ? rows[r] : start + r];
    } else {
        sw_sum = (double)n;
    }
    *sw_out = sw_sum;

    /* L2 part of the weight gradient; the data part is added by the gemms.
     * Small networks on one block (online learning) write both parts in one
     * pass per layer instead (gp_grad_small_l2).  With l2_deferred the caller
     * folds the L2 term into the optimizer step (gp_step_l2): the weight part
     * of grad holds zeros on entry, the data part accumulates onto them, and
     * *sumsq is left 0. */
    fuse_l2 = !l2_deferred && SFX(gp_small_l2_fusable)(net, n, sparse);
    *sumsq = 0.0;
    if (net->alpha > 0 && !fuse_l2 && !l2_deferred)
        *sumsq = SFX(gp_l2_init)(grad, params, net->n_coef, net->alpha / sw_sum, 0, scratch, nt);

    for (s0 = 0; s0 < n; s0 += net->chunk_rows) {
        const int64_t m = gp_min64(net->chunk_rows, n - s0);
        const int64_t *brows = rows ? rows + s0 : NULL;
        const int64_t bstart = start + s0;
        const int first = (s0 == 0);
        const REAL *A0 = NULL;
        const REAL *T, *S;
        const REAL inv_sw = (REAL)(1.0 / sw_sum);
        int i;
        int64_t ch;

        /* inputs, targets and weights of this block */
        if (!sparse) {
            if (brows) {
                SFX(gp_gather_rows)(v.x_block, Xd, brows, m, d, nt);
                A0 = v.x_block;
            } else {
                A0 = Xd + bstart * d;
            }
        }
        if (brows) {
            SFX(gp_gather_rows)(v.y_block, Y, brows, m, k, nt);
            T = v.y_block;
            if (sw) {
                int64_t r;
                for (r = 0; r < m; ++r) v.sw_block[r] = sw[brows[r]];
                S = v.sw_block;
            } else {
                S = NULL;
            }
        } else {
            T = Y + bstart * k;
            S = sw ? sw + bstart : NULL;
        }

        /* forward */
        for (i = 0; i < L; ++i) {
            const int64_t ui = net->units[i], uo = net->units[i + 1];
            const REAL *W = params + net->coef_offset[i];
            const REAL *b = params + net->intercept_offset[i];
            REAL *Z = v.act[i + 1];
            if (i == 0 && sparse)
                SFX(gp_csr_matmul)(X, brows, bstart, m, W, uo, Z, nt);
            else
                SFX(gp_gemm_rm)(net, 0, 0, m, uo, ui, (REAL)1, i == 0 ? A0 : v.act[i], ui, W, uo,
                                (REAL)0, Z, uo);
            if (i < L - 1 && net->batch_norm) {
                const REAL *gamma = params + net->bn_offset[i];
                REAL *rm = running ? running + (net->bn_offset[i] - net->bn_offset[0]) : NULL;
                SFX(gp_bn_forward_train)(Z, v.xhat[i + 1], b, gamma, gamma + uo, m, uo,
                                         net->hidden_activation, net->bn_eps, net->bn_momentum,
                                         rm, rm ? rm + uo : NULL, v.bn_stat[i + 1], nt);
            } else if (i < L - 1) {
                SFX(gp_bias_act)(Z, b, m, uo, net->hidden_activation, nt);
            }
        }
        /* output activation, loss and delta, fused; the delta overwrites act[L] */
        SFX(gp_output_loss_delta)(v.act[L], params + net->intercept_offset[L - 1], T, S, m, k,
                                  net->loss, net->output_activation, scratch, nt);
        for (ch = 0; ch < gp_cdiv(m, GP_ROW_CHUNK); ++ch) dsum += scratch[ch];
        v.delta[L] = v.act[L];

        /* backward */
        SFX(gp_backprop_act)(v.delta[L], v.delta[L], m, k, GP_ACT_IDENTITY,
                             grad + net->intercept_offset[L - 1], sw_sum, !first, nt);
        for (i = L - 1; i >= 0; --i) {
            const int64_t ui = net->units[i], uo = net->units[i + 1];
            const REAL *W = params + net->coef_offset[i];
            REAL *gW = grad + net->coef_offset[i];
            const int acc_w = (net->alpha > 0) || !first;
            if (fuse_l2) {
                *sumsq += SFX(gp_grad_small_l2)(ui, uo, m, inv_sw, i == 0 ? A0 : v.act[i],
                                                v.delta[i + 1], W, (REAL)(net->alpha / sw_sum), gW);
            } else if (i == 0 && sparse) {
                if (!acc_w) memset(gW, 0, (size_t)(ui * uo) * sizeof(REAL));
                SFX(gp_csr_grad)(X, brows, bstart, m, v.delta[1], uo, 1.0 / sw_sum, gW, nt);
            } else {
                SFX(gp_gemm_rm)(net, 1, 0, ui, uo, m, inv_sw, i == 0 ? A0 : v.act[i], ui,
                                v.delta[i + 1], uo, acc_w ? (REAL)1 : (REAL)0, gW, uo);
            }
            if (i > 0) {
                SFX(gp_gemm_rm)(net, 0, 1, m, ui, uo, (REAL)1, v.delta[i + 1], uo, W, uo, (REAL)0,
                                v.delta[i], ui);
                if (net->batch_norm) {
                    const int64_t off = net->bn_offset[i - 1];
                    SFX(gp_bn_backward)(v.delta[i], v.act[i], v.xhat[i], params + off,
                                        v.bn_stat[i], m, ui, net->hidden_activation, grad + off,
                                        grad + off + ui, grad + net->intercept_offset[i - 1],
                                        sw_sum, nt);
                } else {
                    SFX(gp_backprop_act)(v.delta[i], v.act[i], m, ui, net->hidden_activation,
                                         grad + net->intercept_offset[i - 1], sw_sum, !first, nt);
                }
            }
        }
    }
    if (n == 0) { /* no rows: the gradient is the L2 part alone */
        if (!(net->alpha > 0)) memset(grad, 0, (size_t)net->n_coef * sizeof(REAL));
        memset(grad + net->intercept_offset[0], 0,
               (size_t)(net->n_params - net->intercept_offset[0]) * sizeof(REAL));
    }
    *data_sum = dsum;
    return GP_OK;
}

int SFX(gp_forward)(const gp_net *net, const gp_matrix *X, const REAL *params,
                    const REAL *running, REAL *out, int apply_output, REAL *work)
{
    const int L = net->n_layers;
    const int nt = net->n_threads;
    const int64_t d = X->n_cols, k = net->units[L];
    const int sparse = X->indptr != NULL;
    SFX(gp_work_view) v;
    int64_t s0;
    SFX(gp_carve)(net, work, d, k, &v);
    for (s0 = 0; s0 < X->n_rows; s0 += net->chunk_rows) {
        const int64_t m = gp_min64(net->chunk_rows, X->n_rows - s0);
        const REAL *A = sparse ? NULL : (const REAL *)X->data + s0 * d;
        int i;
        for (i = 0; i < L; ++i) {
            const int64_t ui = net->units[i], uo = net->units[i + 1];
            const REAL *W = params + net->coef_offset[i];
            const REAL *b = params + net->intercept_offset[i];
            REAL *Z = (i == L - 1) ? out + s0 * k : v.act[i + 1];
            if (i == 0 && sparse)
                SFX(gp_csr_matmul)(X, NULL, s0, m, W, uo, Z, nt);
            else
                SFX(gp_gemm_rm)(net, 0, 0, m, uo, ui, (REAL)1, A, ui, W, uo, (REAL)0, Z, uo);
            if (i < L - 1 && net->batch_norm) {
                const REAL *gamma = params + net->bn_offset[i];
                const REAL *rm = running + (net->bn_offset[i] - net->bn_offset[0]);
                SFX(gp_bn_forward_eval)(Z, b, gamma, gamma + uo, rm, rm + uo, net->bn_eps, m, uo,
                                        net->hidden_activation, v.bn_stat[i + 1], nt);
            } else if (i < L - 1)
                SFX(gp_bias_act)(Z, b, m, uo, net->hidden_activation, nt);
            else
                SFX(gp_output_act)(Z, b, m, uo, net->output_activation, apply_output, nt);
            A = Z;
        }
    }
    return GP_OK;
}

int SFX(gp_loss_grad)(const gp_net *net, const gp_matrix *X, const REAL *Y, const REAL *sw,
                      const int64_t *rows, int64_t n_rows, const REAL *params, REAL *grad,
                      REAL *work, double *scratch, double *data_loss, double *l2)
{
    double dsum, sw_sum, sumsq;
    int st = SFX(gp_batch_grad)(net, X, Y, sw, rows, 0, n_rows, params, grad, NULL, work,
                                scratch, &dsum, &sw_sum, &sumsq, 0);
    *data_loss = sw_sum > 0 ? dsum / sw_sum : 0.0;
    *l2 = sw_sum > 0 ? 0.5 * net->alpha * sumsq / sw_sum : 0.0;
    return st;
}

/*
 * One optimizer step with the L2 term folded in.  Per range of GP_ELEM_CHUNK
 * elements, while the range is in cache: grad += cf * W over the weights (the
 * gradient gp_l2_init and the products would have given, to rounding), the
 * rule's update, then sum(W^2) of the new weights and grad = 0 over the
 * weights.  The next batch's products accumulate onto those zeros and its
 * loss takes the sum, so the weights and their gradient are read once per
 * batch (by the step) instead of twice.  Returns sum(W^2), summed as
 * gp_l2_init sums it.
 */
static double SFX(gp_step_l2)(const gp_net *net, gp_optimizer *opt, REAL *params, REAL *grad,
                              REAL cf, double *partial)
{
    const int64_t n = net->n_params, nc = net->n_coef;
    const int64_t t = opt->t + 1;
    const int64_t n_chunks = gp_cdiv(n, GP_ELEM_CHUNK);
    int nt = gp_threads_for(net->n_threads, n);
    int64_t ch;
    double total = 0.0;
GP_FOR(nt, ch, n_chunks, {
        const int64_t b = ch * GP_ELEM_CHUNK, e = gp_min64(n, b + GP_ELEM_CHUNK);
        const int64_t ec = gp_min64(e, nc);
        int64_t i;
        for (i = b; i < ec; ++i) grad[i] += cf * params[i];
        SFX(gp_optim_range)(opt, t, b, e, params, grad);
        if (b < nc) {
            ACC acc[ACC_LANES] = {0};
            SFX(gp_l2_range)(grad, params, b, ec, 0, 1, acc);
            partial[ch] = SFX(gp_lanes_sum)(acc);
        }
    });
    for (ch = 0; ch < gp_cdiv(nc, GP_ELEM_CHUNK); ++ch) total += partial[ch];
    opt->t = t;
    opt->prev_loss = opt->loss;
    return total;
}

int SFX(gp_train_batches)(const gp_net *net, const gp_matrix *X, const REAL *Y, const REAL *sw,
                          const int64_t *order, int64_t n_samples, int64_t batch_size,
                          int64_t batch_begin, int64_t batch_end, const double *lrs,
                          REAL *params, REAL *grad, REAL *running, gp_optimizer *opt, REAL *work,
                          double *scratch, double *loss_acc, int64_t *n_done)
{
    /* The L2 term goes into the step (gp_step_l2) unless the batches take the
     * small-layer path, which writes it with the gradient in one pass anyway. */
    const int defer = net->alpha > 0 && net->n_coef > 0
                      && !SFX(gp_small_l2_fusable)(net, batch_size, X->indptr != NULL);
    int64_t b;
    *n_done = 0;
    if (!defer) {
        opt->l2_carried = 0;
    } else if (!opt->l2_carried) { /* first call of the pass */
        opt->l2_sumsq = SFX(gp_l2_init)(grad, params, net->n_coef, 0.0, 1, scratch,
                                        net->n_threads);
        opt->l2_carried = 1;
    }
    for (b = batch_begin; b < batch_end; ++b) {
        const int64_t r0 = b * batch_size;
        const int64_t nb = gp_min64(batch_size, n_samples - r0);
        double dsum, sw_sum, sumsq, batch_loss;
        if (nb <= 0) break;
        int st = SFX(gp_batch_grad)(net, X, Y, sw, order ? order + r0 : NULL, r0, nb, params,
                                    grad, running, work, scratch, &dsum, &sw_sum, &sumsq, defer);
        if (st != GP_OK) return st;
        if (defer) sumsq = opt->l2_sumsq;
        /* scikit-learn's batch loss: mean data loss (times loss_scale) + L2 term */
        batch_loss = net->loss_scale * dsum / sw_sum + 0.5 * net->alpha * sumsq / sw_sum;
        if (!isfinite(batch_loss)) {
            opt->l2_carried = 0; /* grad holds a gradient now, not zeros */
            return GP_NONFINITE_LOSS;
        }
        *loss_acc += batch_loss * (double)nb;
        if (lrs) opt->lr = lrs[b];
        opt->loss = batch_loss;
        if (defer)
            opt->l2_sumsq = SFX(gp_step_l2)(net, opt, params, grad,
                                            (REAL)(net->alpha / sw_sum), scratch);
        else
            SFX(gp_optim_step)(opt, net->n_params, params, grad, net->n_threads);
        *n_done += 1;
    }
    return GP_OK;
}
