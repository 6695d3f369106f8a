"""The core's matrix products: numpy's OpenBLAS (ILP64 CBLAS) by default when
numpy ships one, scipy.linalg.cython_blas otherwise or with GAINPROP_BLAS=scipy.
Both must give the same products (to rounding) and the same training."""

import ctypes
import io
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import gainprop
from gainprop import MLPClassifier, MLPRegressor, _blas, _core
from gainprop._engine import Engine, Layout, Matrix

HAS_NUMPY_OPENBLAS = _blas.find_numpy_openblas() is not None


@pytest.fixture
def use_blas(monkeypatch):
    """Switch the BLAS of networks made from now on; the default comes back."""

    def switch(value):
        if value is None:
            monkeypatch.delenv("GAINPROP_BLAS", raising=False)
        else:
            monkeypatch.setenv("GAINPROP_BLAS", value)
        return _blas.configure()

    yield switch
    monkeypatch.delenv("GAINPROP_BLAS", raising=False)
    _blas.configure()


def _forward(clf, X):
    a = X
    for i, (W, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
        a = a @ W.astype(np.float64) + b
        if i < len(clf.coefs_) - 1:
            a = np.maximum(a, 0)
    return a


@pytest.mark.skipif(not HAS_NUMPY_OPENBLAS, reason="this numpy ships no ILP64 OpenBLAS")
def test_default_is_numpys_openblas(use_blas):
    assert use_blas(None).startswith("numpy's OpenBLAS")
    assert _blas.blas_in_use().startswith("numpy's OpenBLAS")
    out = io.StringIO()
    gainprop.show_config(file=out)
    assert "matrix products: numpy's OpenBLAS" in out.getvalue()


@pytest.mark.skipif(not HAS_NUMPY_OPENBLAS, reason="this numpy ships no ILP64 OpenBLAS")
def test_networks_get_numpys_gemm_addresses(use_blas):
    use_blas(None)
    assert _core.ilp64_gemm_addresses() == _blas.find_numpy_openblas()[:2]
    use_blas("scipy")
    assert _core.ilp64_gemm_addresses() == (0, 0)


_SGEMM64 = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int64,
                            ctypes.c_int64, ctypes.c_int64, ctypes.c_float, ctypes.c_void_p,
                            ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_float,
                            ctypes.c_void_p, ctypes.c_int64)


def _recording_sgemm(calls):
    """(a shim in front of numpy's ILP64 sgemm that appends (order, trans_a,
    trans_b, m, n, k, lda, ldb, ldc) of each call to calls, the address of
    numpy's dgemm).  Keep the shim referenced while the core may call it."""
    sgemm, dgemm = _core.ilp64_gemm_addresses()
    real = _SGEMM64(sgemm)

    def record(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        calls.append((order, ta, tb, m, n, k, lda, ldb, ldc))
        real(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    return _SGEMM64(record), dgemm


def _sgemm_calls_of_loss_grad(engine_args, X, Y, params):
    """The arguments of each sgemm call (as _recording_sgemm records them) of
    the loss_grad on float32 X, Y of Engine(*engine_args), made after the shim
    is in place (a network takes the gemm's address when it is made); numpy's
    gemm again afterwards."""
    calls = []
    shim, dgemm = _recording_sgemm(calls)
    _core.set_ilp64_gemm(ctypes.cast(shim, ctypes.c_void_p).value, dgemm)
    try:
        Engine(*engine_args).loss_grad(Matrix(X, np.float32), Y, None, params)
    finally:
        _blas.configure()
    return calls


@pytest.mark.skipif(not HAS_NUMPY_OPENBLAS, reason="this numpy ships no ILP64 OpenBLAS")
def test_training_calls_the_ilp64_gemm_with_column_major_arguments(use_blas):
    # a recording shim in front of numpy's sgemm: the core must call it, in
    # column-major order, for the forward products C (B x 256) = X (B x 64) W
    # (64 x 256) as C^T = W^T X^T, and give the same weights as numpy's
    # gemm called directly.  One thread: the shim runs Python.
    use_blas(None)
    calls = []
    shim, dgemm = _recording_sgemm(calls)
    X, y = load_digits(return_X_y=True)
    X = (X[:400] / 16).astype(np.float32)
    params = dict(hidden_layer_sizes=(256,), solver="adam", batch_size=200, max_iter=1,
                  random_state=0, n_threads=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        direct = MLPClassifier(**params).fit(X, y[:400])
        _core.set_ilp64_gemm(ctypes.cast(shim, ctypes.c_void_p).value, dgemm)
        try:
            shimmed = MLPClassifier(**params).fit(X, y[:400])
        finally:
            _blas.configure()
    assert calls
    assert {c[0] for c in calls} == {102}
    assert {c[1] for c in calls} | {c[2] for c in calls} <= {111, 112}
    # the forward product, of each half of a batch of 200 rows (csrc
    # gp_splits_rows: rows 0-95 and 96-199)
    assert (102, 111, 111, 256, 96, 64, 256, 64, 256) in calls
    assert (102, 111, 111, 256, 104, 64, 256, 64, 256) in calls
    np.testing.assert_array_equal(shimmed._params, direct._params)


@pytest.mark.skipif(not HAS_NUMPY_OPENBLAS, reason="this numpy ships no ILP64 OpenBLAS")
def test_a_block_large_enough_to_share_its_products_uses_every_thread(use_blas):
    # a block of 4,096 rows (L-BFGS's, or a batch of 4,096) of a 784-300-10
    # network: its forward product X (4096 x 784) W (784 x 300) is large
    # enough to be cut into blocks for every thread (csrc gp_gemm_blocks: 12,
    # as for a 784-340-10 network), not into two halves that two of four
    # threads run.  Recorded by a shim in front of numpy's sgemm.
    use_blas(None)
    rng = np.random.RandomState(0)
    X = rng.rand(4096, 784).astype(np.float32)
    Y = np.eye(10, dtype=np.float32)[rng.randint(10, size=4096)]
    forward_blocks = {}
    for hidden in (340, 300):
        layout = Layout([784, hidden, 10])
        params = rng.uniform(-0.05, 0.05, layout.n_params).astype(np.float32)
        calls = _sgemm_calls_of_loss_grad(
            (layout, "relu", "softmax", "log_loss", 1e-4, 4, 4096, np.float32, 784, False), X, Y,
            params)
        # C^T (hidden x rows) = W^T X^T: M = hidden, K = 784
        forward_blocks[hidden] = [c[4] for c in calls if c[3] == hidden and c[5] == 784]
    assert sum(forward_blocks[340]) == 4096 and len(forward_blocks[340]) == 12
    assert sum(forward_blocks[300]) == 4096 and len(forward_blocks[300]) > 2


@pytest.mark.skipif(not HAS_NUMPY_OPENBLAS, reason="this numpy ships no ILP64 OpenBLAS")
def test_only_the_blocks_whose_products_run_whole_are_split(use_blas):
    # 900 rows of a 20-64-48-1 network in blocks of 600 and 300: the first
    # layer's product of 600 rows is cut into two blocks of rows for the
    # threads (csrc gp_gemm_blocks), so that block is not split (its weight
    # gradient is one product over 600 rows); the block of 300 rows is split
    # into rows 0-143 and 144-299 (gp_splits_rows), each half with a weight
    # gradient of its own.  Recorded by a shim in front of numpy's sgemm.
    use_blas(None)
    rng = np.random.RandomState(0)
    layout = Layout([20, 64, 48, 1])
    X = rng.randn(900, 20).astype(np.float32)
    Y = rng.randn(900, 1).astype(np.float32)
    params = rng.uniform(-0.3, 0.3, layout.n_params).astype(np.float32)
    calls = _sgemm_calls_of_loss_grad(
        (layout, "tanh", "identity", "squared_error", 0.0, 2, 600, np.float32, 20, False), X, Y,
        params)
    # the first layer's weight gradient X^T delta (20 x 64): C^T = delta^T X,
    # M = 64, N = 20, K = the rows of the block or half
    rows = sorted(c[5] for c in calls if c[1:5] == (111, 112, 64, 20))
    assert rows == [144, 156, 600]


def test_scipy_can_be_forced(use_blas):
    assert use_blas("scipy") == "scipy.linalg.cython_blas"
    out = io.StringIO()
    gainprop.show_config(file=out)
    assert "matrix products: scipy.linalg.cython_blas" in out.getvalue()


@pytest.mark.parametrize("value", [None, "scipy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_products_of_each_blas_match_numpy(use_blas, value, dtype):
    # wide enough layers that the products go to BLAS (and in blocks to threads)
    use_blas(value)
    rng = np.random.RandomState(0)
    X = rng.rand(300, 96).astype(dtype)
    y = rng.rand(300, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = MLPRegressor(hidden_layer_sizes=(512, 256), max_iter=2, random_state=0,
                           n_threads=2).fit(X, y)
    rtol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(reg.predict(X), _forward(reg, X.astype(np.float64)), rtol=rtol,
                               atol=rtol)


@pytest.mark.skipif(not HAS_NUMPY_OPENBLAS, reason="this numpy ships no ILP64 OpenBLAS")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_training_agrees_across_blas(use_blas, dtype):
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(dtype)
    fits = {}
    for value in (None, "scipy"):
        use_blas(value)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fits[value] = MLPClassifier(hidden_layer_sizes=(256,), solver="adam", max_iter=3,
                                        random_state=0, n_threads=2).fit(X, y)
    a, b = fits[None], fits["scipy"]
    rtol = 2e-3 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=rtol)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=rtol, atol=rtol)


def test_results_do_not_depend_on_the_thread_count_with_either_blas(use_blas):
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    for value in (None, "scipy"):
        use_blas(value)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            one, two = (MLPClassifier(hidden_layer_sizes=(600,), solver="adam", batch_size=400,
                                      max_iter=2, random_state=0, n_threads=t).fit(X, y)
                        for t in (1, 2))
        np.testing.assert_array_equal(one._params, two._params)


def test_unknown_value_warns_and_uses_the_default(use_blas):
    with pytest.warns(RuntimeWarning, match="GAINPROP_BLAS"):
        chosen = use_blas("mkl")
    assert chosen == (use_blas(None))


def test_gemm_addresses_come_in_pairs():
    with pytest.raises(ValueError, match="both"):
        _core.set_ilp64_gemm(1, 0)
