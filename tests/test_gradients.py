"""The core's loss and gradient against central finite differences (float64),
and the worked example of Kordecki's back-propagation lecture."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit
from activation_reference import DERIVATIVE, VALUE

from gainprop._engine import DropoutStream, Engine, Layout, Matrix

ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
# (loss, output activation, number of outputs)
OUTPUTS = [
    ("log_loss", "softmax", 4),
    ("log_loss", "logistic", 1),
    ("log_loss", "logistic", 3),  # multi-label
    ("squared_error", "identity", 1),
    ("squared_error", "identity", 3),
    ("squared_error", "logistic", 2),  # the lecture's sigmoid outputs with MSE
    ("poisson", "exp", 2),
]


def _targets(rng, loss, out_act, n, k):
    if out_act == "softmax":
        return np.eye(k)[rng.randint(k, size=n)]
    if loss == "log_loss":
        return (rng.rand(n, k) > 0.5).astype(float)
    if loss == "poisson":
        return rng.poisson(2.0, size=(n, k)).astype(float)
    if out_act == "logistic":
        return rng.rand(n, k)
    return rng.randn(n, k)


def _objective(engine, X, Y, sw, params):
    data_loss, l2 = engine.loss_grad(X, Y, sw, params)
    return data_loss + l2


# 4 rows per block: the gradient accumulates over several row blocks; 16: one
# block, where small layers write their L2 and data terms in one pass
@pytest.mark.parametrize("chunk_rows", [4, 16], ids=["blocks", "one-block"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("loss,out_act,k", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradient_matches_finite_differences(activation, loss, out_act, k, weighted, sparse,
                                             chunk_rows):
    rng = np.random.RandomState(42)
    n, d = 11, 5
    X = rng.randn(n, d)
    if sparse:
        X[rng.rand(n, d) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    Y = _targets(rng, loss, out_act, n, k)
    sw = rng.uniform(0.5, 2.0, n) if weighted else None
    layout = Layout([d, 6, 4, k])
    engine = Engine(layout, activation, out_act, loss, 0.3, 1, chunk_rows, np.float64, d, False)
    params = rng.uniform(-0.7, 0.7, layout.n_params)
    if activation == "relu":  # keep pre-activations away from the kink
        params[: layout.n_coef] += np.sign(params[: layout.n_coef]) * 0.05
    Xm = Matrix(X, np.float64)
    Y = np.ascontiguousarray(Y)
    _objective(engine, Xm, Y, sw, params)
    grad = engine.grad.copy()

    h = 1e-6
    numeric = np.empty_like(params)
    for i in range(layout.n_params):
        p = params.copy()
        p[i] += h
        up = _objective(engine, Xm, Y, sw, p)
        p[i] -= 2 * h
        down = _objective(engine, Xm, Y, sw, p)
        numeric[i] = (up - down) / (2 * h)
    rel = np.linalg.norm(grad - numeric) / np.linalg.norm(numeric)
    assert rel < 1e-6, rel
    # and each entry, where it is not tiny
    big = np.abs(numeric) > 1e-4
    np.testing.assert_allclose(grad[big], numeric[big], rtol=1e-5)


# with dropout (inputs 0.5, hidden 0.2): the masks of the inputs' stored
# values (CSR) are those of the dense rows, and rows are counted in the batch.
# "split": blocks of 300 and 173 rows of a network large enough to run each
# block as two halves side by side (csrc gp_splits_rows), against blocks of 1
# and 5 rows that are never split; also with sample weights and 2 threads.
@pytest.mark.parametrize("size", ["small", "split"])
@pytest.mark.parametrize("dropout", [None, (0.5, 0.2)], ids=["plain", "dropout"])
def test_gradient_is_same_for_dense_and_sparse_and_any_chunking(rng, dropout, size):
    n, d, hidden_units = (37, 8, [10]) if size == "small" else (473, 20, [64, 48])
    X = rng.randn(n, d)
    X[rng.rand(n, d) < 0.6] = 0
    Y = np.eye(3)[rng.randint(3, size=n)]
    sw = None if size == "small" else rng.uniform(0.2, 2.0, n)
    layout = Layout([d, *hidden_units, 3])
    params = rng.uniform(-0.5, 0.5, layout.n_params)
    input_dropout, hidden = dropout or (0.0, 0.0)
    stream = DropoutStream(key=12345, batch=6) if dropout else None
    chunks = (1, 5, 64) if size == "small" else (1, 5, 300)
    grads, losses = [], []
    for chunk in chunks:
        for Xi in (X, sp.csr_matrix(X)):
            for threads in (1, 2) if chunk == chunks[-1] else (1,):
                eng = Engine(layout, "tanh", "softmax", "log_loss", 1e-3, threads, chunk,
                             np.float64, d, bool(dropout) and not sp.issparse(Xi),
                             dropout=[hidden] * len(hidden_units), input_dropout=input_dropout)
                losses.append(eng.loss_grad(Matrix(Xi, np.float64), Y, sw, params, stream))
                grads.append(eng.grad.copy())
    for g, loss in zip(grads[1:], losses[1:]):
        np.testing.assert_allclose(g, grads[0], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(loss, losses[0], rtol=1e-12)
    # the split blocks: bits equal for 1 and 2 threads (dense, then CSR)
    np.testing.assert_array_equal(grads[-4], grads[-3])
    np.testing.assert_array_equal(grads[-2], grads[-1])



def _reference_loss_grad(layout, activation, out_act, X, Y, sw, params, alpha):
    """(mean data loss, gradient with L2) in float64 NumPy: the batch mean of
    sample-weighted losses, as the core's loss_grad has them."""
    sw = np.ones(len(X)) if sw is None else sw
    total = sw.sum()
    Ws, bs = layout.coef_views(params), layout.intercept_views(params)
    acts, pres = [X], []
    for i, (W, b) in enumerate(zip(Ws, bs)):
        pres.append(acts[-1] @ W + b)
        if i < len(Ws) - 1:
            acts.append(VALUE[activation](pres[-1]))
    z = pres[-1]
    if out_act == "logistic":  # binary log loss
        p = expit(z)
        loss = -(Y * np.log(p) + (1 - Y) * np.log(1 - p)).sum(axis=1)
        delta = p - Y
    else:  # identity, squared error
        loss = 0.5 * ((z - Y) ** 2).sum(axis=1)
        delta = z - Y
    delta = delta * sw[:, None] / total
    grads_W, grads_b = [None] * len(Ws), [None] * len(Ws)
    for i in range(len(Ws) - 1, -1, -1):
        grads_W[i] = acts[i].T @ delta + alpha / total * Ws[i]
        grads_b[i] = delta.sum(axis=0)
        if i > 0:
            delta = (delta @ Ws[i].T) * DERIVATIVE[activation](pres[i - 1])
    grad = np.concatenate([g.ravel() for g in grads_W] + grads_b)
    return (sw * loss).sum() / total, grad


# Blocks run as two halves side by side (csrc gp_splits_rows) against a NumPy
# reference: gelu and silu (their pre-activations are shifted with the second
# half), an output layer of one unit (the plain-loop products), L2, sample
# weights and CSR, in both dtypes.  473 rows in blocks of 300 and 173 (both
# split, the first half's gradient accumulating onto L2 and then onto the
# first block's), or one block of 473; 1 and 2 threads give the same bits;
# blocks of 127 rows are never split.
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("activation,out_act,loss", [
    ("gelu", "identity", "squared_error"), ("silu", "logistic", "log_loss"),
    ("relu", "identity", "squared_error")])
def test_split_blocks_match_a_numpy_reference(rng, activation, out_act, loss, sparse, dtype):
    n, d = 473, 20
    layout = Layout([d, 64, 48, 1])
    X = rng.randn(n, d)
    X[rng.rand(n, d) < 0.5] = 0
    Y = (rng.rand(n, 1) > 0.5).astype(float) if loss == "log_loss" else rng.randn(n, 1)
    sw = rng.uniform(0.2, 2.0, n)
    params = rng.uniform(-0.3, 0.3, layout.n_params).astype(dtype)
    alpha = 0.3
    ref_loss, ref_grad = _reference_loss_grad(layout, activation, out_act, X, Y, sw,
                                              params.astype(np.float64), alpha)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    Xm = Matrix(sp.csr_matrix(X) if sparse else X, dtype)
    for chunk in (300, 473, 127):
        grads = []
        for threads in (1, 2):
            eng = Engine(layout, activation, out_act, loss, alpha, threads, chunk, dtype, d,
                         False)
            data_loss, _ = eng.loss_grad(Xm, Y.astype(dtype), sw.astype(dtype), params)
            grads.append(eng.grad.copy())
            np.testing.assert_allclose(data_loss, ref_loss, rtol=tol)
            scale = np.abs(ref_grad).max()
            np.testing.assert_allclose(grads[-1] / scale, ref_grad / scale, rtol=0, atol=tol)
        np.testing.assert_array_equal(grads[0], grads[1])


def test_backpropagation_lecture_worked_example():
    """The back-propagation lecture's worked example ('Example: update
    network weight with back-propagation'): x = (1, 4, 5), t = (0.1, 0.05),
    sigmoid everywhere, E = 1/2 sum (t - y)^2."""
    layout = Layout([3, 2, 2])
    engine = Engine(layout, "logistic", "logistic", "squared_error", 0.0, 1, 1, np.float64, 3,
                    False)
    params = np.empty(layout.n_params)
    W_hid, W_out = layout.coef_views(params)
    b_hid, b_out = layout.intercept_views(params)
    W_hid[...] = [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]  # inputs 1..3 -> hidden 1, 2
    W_out[...] = [[0.7, 0.8], [0.9, 0.1]]  # hidden 1, 2 -> outputs 1, 2
    b_hid[...] = 0.5
    b_out[...] = 0.5
    X = Matrix(np.array([[1.0, 4.0, 5.0]]), np.float64)
    T = np.array([[0.1, 0.05]])

    # forward: y = (0.88955, 0.80040); hidden h = (0.98661, 0.99503)
    y = engine.forward(X, params)
    np.testing.assert_allclose(y, [[0.88955, 0.80040]], atol=5e-5)
    hidden = Engine(Layout([3, 2]), "logistic", "logistic", "squared_error", 0.0, 1, 1,
                    np.float64, 3, False)
    h = hidden.forward(X, np.concatenate([W_hid.ravel(), b_hid]))
    np.testing.assert_allclose(h, [[0.98661, 0.99503]], atol=5e-5)

    E, l2 = engine.loss_grad(X, T, None, params)
    assert l2 == 0.0
    assert round(E, 5) == 0.59324
    g = engine.grad
    gW_hid, gW_out = layout.coef_views(g)
    gb_hid, gb_out = layout.intercept_views(g)
    np.testing.assert_allclose(gW_out, [[0.076535, 0.118279], [0.077188, 0.119288]], atol=5e-6)
    np.testing.assert_allclose(gb_out, [0.077574, 0.119884], atol=5e-6)
    assert round(gb_out.sum(), 4) == 0.1975  # the slide's 0.1974 is truncated, not rounded
    np.testing.assert_allclose(
        gW_hid, [[0.0019839, 0.00040429], [0.0079356, 0.0016172], [0.0099196, 0.0020214]],
        atol=5e-7,
    )
    np.testing.assert_allclose(gb_hid, [0.0019839, 0.00040429], atol=5e-7)
    # one SGD step with eta = 0.01: w_22 = 0.1 - 0.01 * 0.1193 = 0.098807
    # (the lecture's last slide misprints it as 0.9881)
    assert round(W_out[1, 1] - 0.01 * gW_out[1, 1], 6) == 0.098807


# The two halves of a split block run at once on 2 threads and must write
# disjoint work memory (activations, deltas, gelu's and silu's
# pre-activations, gathered and masked rows): repeated, any overlap shows as
# bits that differ from 1 thread's (an unshifted pre-activation block did in
# about a third of the runs).
@pytest.mark.parametrize("activation", ["gelu", "silu"])
def test_split_halves_on_two_threads_repeat_one_threads_bits(rng, activation):
    n, d = 473, 20
    layout = Layout([d, 64, 48, 1])
    X, Y = Matrix(rng.randn(n, d), np.float64), rng.randn(n, 1)
    params = rng.uniform(-0.3, 0.3, layout.n_params)
    stream = DropoutStream(key=7, batch=3)
    grads = []
    for threads in (1, 2):
        eng = Engine(layout, activation, "identity", "squared_error", 0.1, threads, 300,
                     np.float64, d, True, dropout=[0.2, 0.2], input_dropout=0.1)
        for _ in range(1 if threads == 1 else 30):
            eng.loss_grad(X, Y, None, params, stream)
            grads.append(eng.grad.copy())
    for g in grads[1:]:
        np.testing.assert_array_equal(g, grads[0])


# A block too long to split (a product of a block of 600 rows of this network
# is cut into blocks for every thread: csrc gp_block_products_whole) and, in
# the same batch, a last block of 300 rows that is split.  The work holds the
# second half's gradient although a block of chunk_rows rows is never split
# (gp_splits_some_rows); the split block's first half accumulates onto the
# unsplit block's gradient.  1 to 4 threads give the same bits, and the
# gradient is the NumPy reference's.
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_an_unsplit_block_then_a_split_block_match_a_numpy_reference(rng, sparse):
    n, d, chunk = 900, 20, 600
    layout = Layout([d, 64, 48, 1])
    X = rng.randn(n, d)
    X[rng.rand(n, d) < 0.5] = 0
    Y, sw = rng.randn(n, 1), rng.uniform(0.2, 2.0, n)
    params = rng.uniform(-0.3, 0.3, layout.n_params)
    ref_loss, ref_grad = _reference_loss_grad(layout, "tanh", "identity", X, Y, sw, params, 0.3)
    Xm = Matrix(sp.csr_matrix(X) if sparse else X, np.float64)
    grads = []
    for threads in (1, 2, 3, 4):
        eng = Engine(layout, "tanh", "identity", "squared_error", 0.3, threads, chunk,
                     np.float64, d, False)
        assert eng.net.work_size(False) == eng.net.forward_work_size(chunk) + layout.n_params
        data_loss, _ = eng.loss_grad(Xm, Y, sw, params)
        grads.append(eng.grad.copy())
        np.testing.assert_allclose(data_loss, ref_loss, rtol=1e-10)
        scale = np.abs(ref_grad).max()
        np.testing.assert_allclose(grads[-1] / scale, ref_grad / scale, rtol=0, atol=1e-10)
    for g in grads[1:]:
        np.testing.assert_array_equal(g, grads[0])
