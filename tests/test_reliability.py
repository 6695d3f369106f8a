"""Reliability: persistence validation, memory guard, threads, numerics."""

import pickle
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.datasets import load_digits

import gainprop
from gainprop import MLPClassifier, MLPRegressor
from gainprop._engine import DropoutStream, Engine, Layout, Matrix

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def fitted():
    X, y = load_digits(return_X_y=True)
    clf = MLPClassifier(hidden_layer_sizes=(16,), solver="adam", max_iter=3, random_state=0)
    return clf.fit(X / 16, y), X / 16, y


def _tampered(clf, **changes):
    state = clf.__getstate__()
    for key, value in changes.items():
        if value is KeyError:
            state.pop(key)
        else:
            state[key] = value(state[key]) if callable(value) else value
    new = object.__new__(type(clf))
    new.__setstate__(state)
    return new


def test_pickle_keeps_a_version_and_round_trips(fitted):
    clf, X, _ = fitted
    state = clf.__getstate__()
    from gainprop._persistence import STATE_VERSION

    assert state["_gainprop_state_version"] == STATE_VERSION
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("changes,match", [
    (dict(_params=lambda p: p[:-5].copy()), "parameter buffer"),
    (dict(_params=lambda p: p.astype(np.int64)), "parameter buffer"),
    (dict(_params=lambda p: np.where(np.arange(p.size) == 3, np.nan, p)), "non-finite"),
    (dict(_layout=lambda lay: Layout([64, 17, 10])), "parameter buffer"),
    (dict(_layout=lambda lay: "not a layout"), "layout"),
    (dict(_gainprop_state_version=KeyError), "state version"),
    (dict(_gainprop_state_version=99), "state version 99"),
    (dict(_optimizer=lambda o: setattr(o, "slots", {n: s[:10] for n, s in o.slots.items()})
          or o), "optimizer state"),
    (dict(_running=np.zeros(3)), "running statistics"),
    (dict(_dropout_stream="not a stream"), "dropout stream"),
    (dict(_dropout_stream=lambda s: DropoutStream(-1, s.batch)), "dropout stream"),
    (dict(_dropout_stream=lambda s: DropoutStream(2**64, s.batch)), "dropout stream"),
    (dict(_dropout_stream=lambda s: DropoutStream(s.key, 2**60)), "dropout stream"),
    (dict(_dropout_stream=lambda s: DropoutStream(s.key, 1.5)), "dropout stream"),
])
def test_tampered_pickles_raise_value_error(fitted, changes, match):
    clf, _, _ = fitted
    clf = pickle.loads(pickle.dumps(clf))  # a private copy to tamper with
    with pytest.raises(ValueError, match=match):
        _tampered(clf, **changes)


def test_tampered_bytes_never_reach_c(fitted):
    clf, X, y = fitted
    blob = bytearray(pickle.dumps(clf))
    # truncate the parameter buffer's bytes in the pickle stream: whatever
    # happens, it is an exception at load time, not a crash later
    for cut in (len(blob) // 3, len(blob) // 2, len(blob) - 20):
        with pytest.raises(Exception):
            pickle.loads(bytes(blob[:cut]))


def test_a_network_too_large_for_memory_is_refused_before_allocating():
    X = np.random.RandomState(0).rand(10, 5)
    y = np.arange(10) % 2
    with pytest.raises(MemoryError, match="parameters; training it needs"):
        MLPClassifier(hidden_layer_sizes=(10**6, 10**6), max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="BLAS limit"):
        MLPClassifier(hidden_layer_sizes=(2**31,), max_iter=1).fit(X, y)


def test_eight_fits_in_threads_equal_eight_sequential_fits():
    X, y = load_digits(return_X_y=True)
    X = X[:600] / 16

    def fit(seed):
        clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=5, random_state=seed,
                            n_threads=1)
        return clf.fit(X, y[:600])._params.copy()

    from threadpoolctl import threadpool_info

    def blas_threads():
        return sorted(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")

    before = blas_threads()
    sequential = [fit(s) for s in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(fit, range(8)))
    for a, b in zip(sequential, parallel):
        np.testing.assert_array_equal(a, b)
    # the BLAS limit of overlapping fits is lifted when the last one ends
    assert blas_threads() == before


@pytest.mark.parametrize("dtype,scale", [(np.float64, 1e4), (np.float32, 1e3)])
def test_extreme_logits_give_finite_probabilities(dtype, scale):
    rng = np.random.RandomState(0)
    X = rng.rand(50, 4).astype(dtype)
    y = np.arange(50) % 3
    clf = MLPClassifier(hidden_layer_sizes=(5,), activation="identity", max_iter=1,
                        random_state=0).fit(X, y)
    clf.coefs_[0][...] = np.eye(4, 5, dtype=dtype)
    clf.coefs_[1][...] = rng.choice([-scale, scale], size=(5, 3)).astype(dtype)
    clf.intercepts_[0][...] = 0
    clf.intercepts_[1][...] = 0
    X = X * 0 + 1  # logits of order ±scale
    proba = clf.predict_proba(X)
    logp = clf.predict_log_proba(X)
    assert proba.dtype == dtype
    assert np.isfinite(proba).all() and np.isfinite(logp).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert logp.min() < -scale / 2  # really extreme, yet finite


def test_float32_reductions_over_millions_of_rows():
    rng = np.random.RandomState(0)
    n = 2_000_000
    X = rng.rand(n, 6).astype(np.float32)
    Y = np.eye(3, dtype=np.float32)[rng.randint(3, size=n)]
    layout = Layout([6, 4, 3])
    params = rng.uniform(-1, 1, layout.n_params).astype(np.float32)
    out = {}
    for dtype in (np.float32, np.float64):
        eng = Engine(layout, "tanh", "softmax", "log_loss", 0.0, 2, 4096, dtype, 6, False)
        loss, _ = eng.loss_grad(Matrix(X, dtype), Y.astype(dtype), None, params.astype(dtype))
        bias = np.concatenate(layout.intercept_views(eng.grad)).astype(np.float64)
        out[np.dtype(dtype).name] = (loss, bias)
    loss32, bias32 = out["float32"]
    loss64, bias64 = out["float64"]
    assert abs(loss32 - loss64) <= 1e-6 * abs(loss64)
    np.testing.assert_allclose(bias32, bias64, rtol=1e-5, atol=1e-6)


def test_nan_detection_in_c_and_no_flush_to_zero():
    # importing gainprop must not turn on flush-to-zero / denormals-are-zero
    assert gainprop.__version__
    tiny64 = np.float64(5e-324)
    assert tiny64 * np.float64(1.0) == tiny64 and tiny64 > 0
    tiny32 = np.float32(1e-45)
    assert tiny32 * np.float32(1.0) > 0
    # a NaN weight makes the C loss check fire: partial_fit refuses the epoch
    X, y = load_digits(return_X_y=True)
    reg = MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", random_state=0)
    reg.partial_fit(X[:100] / 16, y[:100].astype(float))
    reg.coefs_[0][0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        reg.partial_fit(X[:100] / 16, y[:100].astype(float))
    # the kernels flush subnormals only while they run: the caller's mode is back
    reg.set_params(n_threads=2).fit(X[:200] / 16, y[:200].astype(float))
    reg.predict(X[:200] / 16)
    assert tiny64 * np.float64(1.0) == tiny64 and tiny32 * np.float32(1.0) > 0


def _flush_supported():
    from gainprop import _core

    return _core.flushes_subnormals()


@pytest.mark.skipif(not _flush_supported(), reason="the kernels flush nothing on this platform")
@pytest.mark.parametrize("dtype,tiny", [(np.float32, 1e-39), (np.float64, 1e-310)])
@pytest.mark.parametrize("n,threads", [(100, 1), (200_000, 2)], ids=["serial", "parallel"])
def test_kernels_flush_subnormal_state(dtype, tiny, n, threads):
    # subnormal operands cost ~100 cycles on x86; optimizer state decays into that
    # range (momentum on weights of always-zero inputs).  The kernels flush
    # subnormals to zero on every thread they run on, so a subnormal velocity
    # becomes exactly 0 (it would stay subnormal, 0.9 * tiny, otherwise).
    from gainprop import _core
    from gainprop.optimizers import SGD

    assert 0 < tiny < np.finfo(dtype).tiny
    w = np.full(n, 0.5, dtype=dtype)
    g = np.zeros(n, dtype=dtype)
    state = SGD(momentum=0.9)._make_state(n, dtype, 0.01)
    velocity = state.slots["velocity"]
    velocity[:] = tiny
    _core.optimizer_step(w, g, state, threads)
    assert np.all(velocity == 0)
    assert np.all(w == 0.5)
    assert np.asarray(tiny, dtype=dtype) * dtype(1) > 0  # the caller's mode is untouched


@pytest.mark.parametrize("solver", ["adam", "localgain"])
def test_skops_round_trip_trusts_only_gainprop_types(fitted, solver):
    sio = pytest.importorskip("skops.io")
    _, X, y = fitted
    from gainprop.optimizers import LocalGain

    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, random_state=0,
                        solver=LocalGain() if solver == "localgain" else solver,
                        batch_norm=solver == "localgain").fit(X, y)
    data = sio.dumps(clf)
    untrusted = sio.get_untrusted_types(data=data)
    assert untrusted and all(t.startswith("gainprop.") for t in untrusted)
    back = sio.loads(data, trusted=untrusted)
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert np.shares_memory(back.coefs_[0], back._params)


def _rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) * 1024
    pytest.skip("no /proc/self/status")


def test_thousand_fit_predict_cycles_do_not_grow_memory():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 8)
    y = np.arange(40) % 3

    def cycle():
        clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=1, random_state=0).fit(X, y)
        clf.predict_proba(X)
        clf.partial_fit(X, y)

    for _ in range(100):  # warm up caches and allocator pools
        cycle()
    before = _rss_bytes()
    for _ in range(1000):
        cycle()
    grown = _rss_bytes() - before
    assert grown < 5 * 2**20, f"resident memory grew by {grown / 2**20:.1f} MB"


@pytest.mark.skipif(not _flush_supported(), reason="the kernels flush nothing on this platform")
def test_no_thread_keeps_flushing_after_a_fit():
    # In a fresh process the OpenMP pool is created inside the first kernel,
    # while the calling thread flushes; its new threads inherit that mode and
    # must be set back to the caller's at the end of each parallel region.
    code = (
        "import warnings; warnings.simplefilter('ignore')\n"
        "from sklearn.datasets import load_digits\n"
        "from gainprop import MLPClassifier, _core\n"
        "X, y = load_digits(return_X_y=True)\n"
        "MLPClassifier(hidden_layer_sizes=(512,), max_iter=2, n_threads=2,\n"
        "              random_state=0).fit(X / 16, y)\n"
        "print(_core.thread_flush_flags(2))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[False, False]"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dropout", [0.0, 0.2], ids=["plain", "dropout"])
def test_batches_split_between_threads_give_the_same_bits(dtype, sparse, dropout):
    """At the default batch of 200 a small network's batches run as two halves
    side by side (csrc gp_splits_rows); the halves are the same for any thread
    count and calling thread, so are the weights.  1,100 rows: the last batch
    of 100 rows is not split."""
    import scipy.sparse as sp

    rng = np.random.RandomState(0)
    X = rng.randn(1100, 20).astype(dtype)
    X[rng.rand(*X.shape) < 0.3] = 0
    y = X[:, :5] @ rng.randn(5) + 0.1 * rng.randn(1100)
    sw = rng.uniform(0.5, 2.0, 1100)
    Xf = sp.csr_matrix(X) if sparse else X

    def fit(threads):
        est = MLPRegressor(hidden_layer_sizes=(64, 48), alpha=1e-3, dropout=dropout,
                           max_iter=3, random_state=0, n_threads=threads)
        return est.fit(Xf, y, sample_weight=sw)

    one, two = fit(1), fit(2)
    with ThreadPoolExecutor(max_workers=1) as pool:
        other = pool.submit(fit, 2).result()
    assert one._params.dtype == dtype
    for est in (two, other):
        np.testing.assert_array_equal(est._params, one._params)
        assert est.loss_curve_ == one.loss_curve_
    # and they are the weights of a network that learnt
    assert one.loss_curve_[-1] < one.loss_curve_[0]
