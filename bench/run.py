"""gainprop's benchmark: gainprop against scikit-learn and PyTorch, in one run.

    python bench/run.py [--quick] [--only 1,2,...] [--repeats N] [--threads N]
                        [--json PATH]

Each workload runs the same network, data, batch size, optimizer and epochs
in every library (float32 unless stated), repeats alternate between the
libraries (in reverse order every other repeat), and the table shows median
times and the ratios (how many times faster gainprop is).  The raw figures
go to a JSON file.  Workloads (issue 6):

1. online: load_digits, 64-100-10 relu, batch 1, SGD momentum 0.9 (per epoch, fits
   of 3 epochs)
2. small mini-batch: load_digits, 64-100-10 relu, batch 32, Adam (per epoch, fits
   of 10 epochs)
3. letters, local gains (Hinton's per-weight gains): 841-100-26 sigmoid, 5,000 samples, full batch, 50 epochs; gainprop
   with local gains, scikit-learn and PyTorch with plain SGD; GEMM floor
4. mini-batch Rprop's network (Ndauka & Zheng): 3072-2048-1024-512-10 relu, 10,000 samples, batch 250, Adam, one
   epoch; GEMM floor (the same products by numpy alone)
5. optimizer step: each optimizer's fused update on 10M float32 parameters, GB/s
   of the bytes it must move, beside a memory copy by
   the same number of threads
6. predict throughput (rows/s) for the networks of workloads 2 and 4
7. threads: workload 4 with 1 and 2 threads
8. peak memory of workload 4 for the three libraries (fresh processes)
9. one-row latency: predict and predict_proba of one row, 64-100-10 network
   trained on load_digits, float32 and float64 models (microseconds per call)
10. batch prediction: predict_proba of 20,000 rows on a 784-256-128-10 float32
   network, and of workload 4's 10,000 rows on its network; GEMM floor (numpy
   doing the same products)
11. small networks at the default batch size (200): MLPRegressor 20-64-64-1,
   float64, 100,000 rows, Adam, per epoch, gainprop with 1 and 2 threads; a
   classifier of the same size; two hidden layers of 32 to 128 units on 25
   inputs and 50,000 rows (time against the work)

PyTorch is optional: without it its columns are empty.
"""

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

try:
    import torch
except ImportError:  # the benchmark runs without the peer
    torch = None


def _quiet():
    from sklearn.exceptions import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)
    warnings.simplefilter("ignore", UserWarning)


# ----------------------------------------------------------------- helpers
def _median_times(funcs, repeats):
    """Alternate the callables `repeats` times; median seconds of each.  Every
    other repeat runs them in reverse order (A B C, C B A, A B C, ...), so that
    no library always runs right after the same one: on this machine a run
    right after another library's large allocations pays more for fresh
    memory."""
    times = {name: [] for name in funcs}
    names = list(funcs)
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            fn = funcs[name]
            gc.collect()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}, times


def _torch_mlp(units, activation):
    act = {"relu": torch.nn.ReLU, "logistic": torch.nn.Sigmoid, "tanh": torch.nn.Tanh}[activation]
    layers = []
    for i, (a, b) in enumerate(zip(units[:-1], units[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(units) - 2:
            layers.append(act())
    return torch.nn.Sequential(*layers)


def _torch_proba(units, X):
    """A call of PyTorch's predict_proba (softmax of a ReLU network's output
    under no_grad) on all of X, as the prediction workloads time it."""
    net, Xt = _torch_mlp(units, "relu"), torch.from_numpy(X)

    def proba():
        with torch.no_grad():
            torch.softmax(net(Xt), dim=1)

    return proba


def _torch_train(units, activation, X, y, batch_size, epochs, make_opt, shuffle=True):
    net = _torch_mlp(units, activation)
    opt = make_opt(net.parameters())
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(y.astype(np.int64))
    n = len(X)
    g = torch.Generator().manual_seed(0)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(epochs):
        order = torch.randperm(n, generator=g) if shuffle else torch.arange(n)
        for s in range(0, n, batch_size):
            idx = order[s : s + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    return net


def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def _gemm_floor(units, n_rows, batch_size, epochs, dtype=np.float32):
    """Seconds numpy needs for the forward, weight-gradient and delta products
    of `epochs` epochs (the matrix-product floor of the workload)."""
    rng = np.random.RandomState(0)
    Ws = [rng.randn(a, b).astype(dtype) * 0.01 for a, b in zip(units[:-1], units[1:])]
    acts = [rng.rand(batch_size, u).astype(dtype) for u in units]
    deltas = [rng.rand(batch_size, u).astype(dtype) for u in units]
    n_batches = -(-n_rows // batch_size)
    t0 = time.perf_counter()
    for _ in range(epochs * n_batches):
        for i, W in enumerate(Ws):
            np.matmul(acts[i], W, out=acts[i + 1])
        for i in range(len(Ws) - 1, -1, -1):
            acts[i].T @ deltas[i + 1]
            if i > 0:
                np.matmul(deltas[i + 1], Ws[i].T, out=deltas[i])
    return time.perf_counter() - t0


def _step_products(units, batch_size, accumulate=True):
    """The matrix products gainprop's core calls for one mini-batch, in its
    order and shapes, as (ta, tb, m, n, k, beta) of row-major C = op(A) op(B) +
    beta C: the forward products, then from the last layer down its weight
    gradient (accumulated onto the L2 term when alpha > 0) and, above the first
    layer, the delta of the layer below."""
    L = len(units) - 1
    out = [(0, 0, batch_size, units[i + 1], units[i], 0) for i in range(L)]
    for i in range(L - 1, -1, -1):
        out.append((1, 0, units[i], units[i + 1], batch_size, 1 if accumulate else 0))
        if i > 0:
            out.append((0, 1, batch_size, units[i], units[i + 1], 0))
    return out


_FLOOR_EXE = []


def _floor_program():
    """bench/gemm_floor.c built with the system's C compiler (once per run),
    and the OpenBLAS numpy loaded (the library gainprop's products call), or
    None when either is missing."""
    if not _FLOOR_EXE:
        import tempfile

        from threadpoolctl import threadpool_info

        libs = [i["filepath"] for i in threadpool_info()
                if i.get("internal_api") == "openblas" and "numpy" in i["filepath"]]
        exe = os.path.join(tempfile.mkdtemp(prefix="gainprop-bench-"), "gemm_floor")
        cc = os.environ.get("CC", "cc")
        built = subprocess.run([cc, "-O2", "-std=c99", "-o", exe,
                                os.path.join(HERE, "gemm_floor.c"), "-ldl"],
                               capture_output=True).returncode == 0 if libs else False
        _FLOOR_EXE.append((exe, libs[0]) if built else None)
    return _FLOOR_EXE[0]


def _c_gemm_floor(units, batch_size, n_batches, dtype, threads=(1, 2), runs=9):
    """Seconds per epoch of the step's products alone (_step_products), timed
    in C through numpy's OpenBLAS at each thread count (its own threading);
    {threads: (fastest, median)}, or {} when the program cannot be built."""
    found = _floor_program()
    if found is None:
        return {}
    exe, lib = found
    args = [str(v) for p in _step_products(units, batch_size) for v in p]
    out = {}
    for t in threads:
        res = subprocess.run([exe, lib, "f32" if dtype == np.float32 else "f64", str(t), str(runs),
                              *args], capture_output=True, text=True, check=True)
        best, med = map(float, res.stdout.split())
        out[t] = (best * n_batches, med * n_batches)
    return out


def _row(name, times, work=None):
    gp = times.get("gainprop")
    out = {"workload": name, "seconds": times}
    if gp:
        for other in ("scikit-learn", "pytorch", "gemm floor"):
            if times.get(other):
                out[f"vs {other}"] = times[other] / gp
    if work:
        out.update(work)
    return out


# ---------------------------------------------------------------- workloads
def w1_online(args):
    from sklearn.neural_network import MLPClassifier as Sk

    from gainprop import MLPClassifier as Gp

    X, y = _digits()
    # time per epoch over a fit of 3 epochs (as workload 2 over 10), so that
    # a fit's fixed costs are not counted as epoch time
    epochs = 1 if args.quick else 3
    if args.quick:
        X, y = X[:300], y[:300]
    kw = dict(hidden_layer_sizes=(100,), solver="sgd", momentum=0.9, nesterovs_momentum=False,
              batch_size=1, learning_rate_init=0.001, max_iter=epochs, random_state=0, tol=0,
              n_iter_no_change=10**6)
    funcs = {"gainprop": lambda: Gp(**kw).fit(X, y), "scikit-learn": lambda: Sk(**kw).fit(X, y)}
    if torch is not None:
        funcs["pytorch"] = lambda: _torch_train(
            (64, 100, 10), "relu", X, y, 1, epochs,
            lambda p: torch.optim.SGD(p, lr=0.001, momentum=0.9))
    med, raw = _median_times(funcs, args.repeats)
    med = {k: v / epochs for k, v in med.items()}
    return _row("1 online (batch 1, SGD momentum), s/epoch", med, {"raw": raw})


def w2_minibatch(args):
    from sklearn.neural_network import MLPClassifier as Sk

    from gainprop import MLPClassifier as Gp

    X, y = _digits()
    epochs = 2 if args.quick else 10
    kw = dict(hidden_layer_sizes=(100,), solver="adam", batch_size=32, max_iter=epochs,
              random_state=0, tol=0, n_iter_no_change=10**6)
    funcs = {"gainprop": lambda: Gp(**kw).fit(X, y), "scikit-learn": lambda: Sk(**kw).fit(X, y)}
    if torch is not None:
        funcs["pytorch"] = lambda: _torch_train(
            (64, 100, 10), "relu", X, y, 32, epochs, lambda p: torch.optim.Adam(p, lr=1e-3))
    med, raw = _median_times(funcs, args.repeats)
    med = {k: v / epochs for k, v in med.items()}
    return _row("2 mini-batch (batch 32, Adam), s/epoch", med, {"raw": raw})


def w3_local_gains(args):
    from sklearn.neural_network import MLPClassifier as Sk

    from gainprop import MLPClassifier as Gp
    from gainprop.optimizers import LocalGain

    n, epochs = (1000, 5) if args.quick else (5000, 50)
    rng = np.random.RandomState(0)
    X = rng.rand(n, 841).astype(np.float32)
    y = rng.randint(0, 26, n)
    kw = dict(hidden_layer_sizes=(100,), activation="logistic", batch_size=n, shuffle=False,
              learning_rate_init=0.01, max_iter=epochs, tol=0, n_iter_no_change=10**6,
              random_state=0, alpha=0.0)
    funcs = {
        "gainprop": lambda: Gp(solver=LocalGain(), **kw).fit(X, y),
        "scikit-learn": lambda: Sk(solver="sgd", momentum=0.0, **kw).fit(X, y),
    }
    if torch is not None:
        funcs["pytorch"] = lambda: _torch_train(
            (841, 100, 26), "logistic", X, y, n, epochs, lambda p: torch.optim.SGD(p, lr=0.01),
            shuffle=False)
    funcs["gemm floor"] = lambda: _gemm_floor((841, 100, 26), n, n, epochs)
    med, raw = _median_times(funcs, args.repeats)
    return _row(f"3 letters, local gains (841-100-26, full batch {n}, {epochs} epochs), s", med,
                {"raw": raw, "gemm floor ratio": med["gainprop"] / med["gemm floor"]})


def _large_setup(quick):
    n, units = (1000, (3072, 256, 128, 64, 10)) if quick else (10000, (3072, 2048, 1024, 512, 10))
    rng = np.random.RandomState(0)
    X = rng.rand(n, 3072).astype(np.float32)
    y = rng.randint(0, 10, n)
    return X, y, units


def _gp_large(X, y, units, n_threads=None):
    from gainprop import MLPClassifier as Gp

    return Gp(hidden_layer_sizes=units[1:-1], solver="adam", batch_size=250, max_iter=1,
              random_state=0, n_threads=n_threads).fit(X, y)


def w4_large(args):
    from sklearn.neural_network import MLPClassifier as Sk

    X, y, units = _large_setup(args.quick)
    funcs = {
        "gainprop": lambda: _gp_large(X, y, units),
        "scikit-learn": lambda: Sk(hidden_layer_sizes=units[1:-1], solver="adam",
                                   batch_size=250, max_iter=1, random_state=0).fit(X, y),
    }
    if torch is not None:
        funcs["pytorch"] = lambda: _torch_train(units, "relu", X, y, 250, 1,
                                                lambda p: torch.optim.Adam(p, lr=1e-3))
    funcs["gemm floor"] = lambda: _gemm_floor(units, len(X), 250, 1)
    med, raw = _median_times(funcs, max(1, args.repeats - 2) if not args.quick else 1)
    name = "-".join(map(str, units))
    return _row(f"4 large network ({name}, batch 250, Adam), s/epoch", med,
                {"raw": raw, "gemm floor ratio": med["gainprop"] / med["gemm floor"]})


def w5_optimizer_step(args):
    from gainprop import _core
    from gainprop.optimizers import OPTIMIZERS, get_optimizer

    n = 1_000_000 if args.quick else 10_000_000
    rng = np.random.RandomState(0)
    w = rng.randn(n).astype(np.float32)
    g = rng.randn(n).astype(np.float32)
    dst = np.empty_like(w)
    reps = 3 if args.quick else 10
    item = 4

    def bw(fn, bytes_moved):
        fn()
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        return bytes_moved * reps / (time.perf_counter() - t0) / 1e9

    threads = args.threads or os.cpu_count()
    # the reference: a copy by as many threads as the optimizer steps use, each
    # copying one contiguous part (np.copyto releases the GIL)
    from concurrent.futures import ThreadPoolExecutor

    bounds = np.linspace(0, n, threads + 1).astype(int)
    parts = [(dst[a:b], w[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    with ThreadPoolExecutor(threads) as pool:
        def par_copy():
            list(pool.map(lambda p: np.copyto(*p), parts))

        copy_gbs = bw(par_copy, 2 * n * item)
    results = {"memory copy": copy_gbs,
               "memory copy, 1 thread": bw(lambda: np.copyto(dst, w), 2 * n * item)}
    seen = set()
    for name in OPTIMIZERS:
        opt = get_optimizer(name)
        key = repr(opt)
        if key in seen:
            continue
        seen.add(key)
        state = opt._make_state(n, np.float32, 1e-3)
        k = sum(s is not None for s in state.slots)
        # read params, grad and each slot; write params and each slot
        moved = (2 + k) * n * item + (1 + k) * n * item
        results[name] = bw(lambda: _core.optimizer_step(w, g, state, threads), moved)
    return {"workload": f"5 optimizer step ({n / 1e6:g}M float32 params, {threads} threads), "
                        "GB/s",
            "gbs": results,
            "fraction of copy": {k: v / copy_gbs for k, v in results.items()}}


def w6_predict(args):
    from gainprop import MLPClassifier as Gp
    from sklearn.neural_network import MLPClassifier as Sk

    out = {}
    X, y = _digits()
    Xb = np.tile(X, (20, 1))
    kw = dict(hidden_layer_sizes=(100,), max_iter=2, random_state=0)
    gp, sk = Gp(**kw).fit(X, y), Sk(**kw).fit(X, y)
    funcs = {"gainprop": lambda: gp.predict_proba(Xb), "scikit-learn": lambda: sk.predict_proba(Xb)}
    if torch is not None:
        funcs["pytorch"] = _torch_proba((64, 100, 10), Xb)
    med, _ = _median_times(funcs, args.repeats)
    out["digits net, rows/s"] = {k: len(Xb) / v for k, v in med.items()}
    X4, y4, units = _large_setup(args.quick)
    gp4 = Gp(hidden_layer_sizes=units[1:-1], max_iter=1, batch_size=250, random_state=0)
    gp4.fit(X4[:500], y4[:500])
    sk4 = Sk(hidden_layer_sizes=units[1:-1], max_iter=1, batch_size=250, random_state=0)
    sk4.fit(X4[:500], y4[:500])
    funcs = {"gainprop": lambda: gp4.predict_proba(X4),
             "scikit-learn": lambda: sk4.predict_proba(X4)}
    if torch is not None:
        funcs["pytorch"] = _torch_proba(units, X4)
    med, _ = _median_times(funcs, max(1, args.repeats - 2))
    out["large net (workload 4), rows/s"] = {k: len(X4) / v for k, v in med.items()}
    return {"workload": "6 predict throughput", "rows_per_second": out}


def w7_threads(args):
    X, y, units = _large_setup(args.quick)
    funcs = {"1 thread": lambda: _gp_large(X, y, units, 1),
             "2 threads": lambda: _gp_large(X, y, units, 2)}
    med, raw = _median_times(funcs, max(1, args.repeats - 2) if not args.quick else 1)
    return {"workload": "7 threads (workload 4, gainprop)", "seconds": med,
            "speed-up 1->2": med["1 thread"] / med["2 threads"]}


_MEMORY_SNIPPET = r"""
import sys, json, numpy as np
sys.path.insert(0, {here!r})
import run
X, y, units = run._large_setup({quick})
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    return 0
lib = {lib!r}
if lib == "pytorch":
    import torch
import gainprop, sklearn.neural_network
# the baseline is the memory in use now; the peak counts from now on (writing
# 5 to clear_refs resets the high-water mark, which still holds the data
# generator's float64 temporary).  Without that, the old high-water mark.
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = status("VmRSS")
except OSError:
    base = status("VmHWM")
if lib == "gainprop":
    run._gp_large(X, y, units)
elif lib == "scikit-learn":
    sklearn.neural_network.MLPClassifier(hidden_layer_sizes=units[1:-1], solver="adam",
        batch_size=250, max_iter=1, random_state=0).fit(X, y)
else:
    run._torch_train(units, "relu", X, y, 250, 1, lambda p: torch.optim.Adam(p, lr=1e-3))
print(json.dumps({{"peak": status("VmHWM"), "base": base}}))
"""


def w8_memory(args):
    libs = ["gainprop", "scikit-learn"] + (["pytorch"] if torch is not None else [])
    out = {}
    for lib in libs:
        code = _MEMORY_SNIPPET.format(here=HERE, quick=args.quick, lib=lib)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=HERE, timeout=1800)
        if proc.returncode != 0:
            out[lib] = {"error": proc.stderr.strip().splitlines()[-1:]}
            continue
        rec = json.loads(proc.stdout.strip().splitlines()[-1])
        out[lib] = {"peak MB": rec["peak"] / 1e6, "above baseline MB": (rec["peak"] - rec["base"]) / 1e6}
    return {"workload": "8 peak memory of workload 4 (fresh process)", "memory": out}


def _latency(fn, calls):
    """Median microseconds per call of fn over repeats of `calls` calls."""
    fn()
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t0) / calls * 1e6)
    return statistics.median(times)


def w9_latency(args):
    from sklearn.neural_network import MLPClassifier as Sk

    from gainprop import MLPClassifier as Gp

    X, y = _digits()
    calls = 200 if args.quick else 2000
    out = {}
    for dtype in (np.float32, np.float64):
        Xd = X.astype(dtype)
        kw = dict(hidden_layer_sizes=(100,), max_iter=3 if args.quick else 20, random_state=0)
        gp, sk = Gp(**kw).fit(Xd, y), Sk(**kw).fit(Xd, y)
        row = Xd[:1].copy()
        funcs = {
            "gainprop predict_proba": lambda: gp.predict_proba(row),
            "scikit-learn predict_proba": lambda: sk.predict_proba(row),
            "gainprop predict": lambda: gp.predict(row),
            "scikit-learn predict": lambda: sk.predict(row),
        }
        if torch is not None:
            net = _torch_mlp((64, 100, 10), "relu").to(torch.float32 if dtype == np.float32
                                                       else torch.float64)

            def proba():
                with torch.no_grad():
                    return torch.softmax(net(torch.from_numpy(row)), dim=1).numpy()

            def label():
                with torch.no_grad():
                    return net(torch.from_numpy(row)).argmax(dim=1).numpy()

            funcs["pytorch predict_proba"] = proba
            funcs["pytorch predict"] = label
        us = {}
        for r in range(args.repeats):  # interleaved, reversed every other repeat
            for name in (list(funcs) if r % 2 == 0 else list(funcs)[::-1]):
                us.setdefault(name, []).append(_latency(funcs[name], calls // args.repeats + 1))
        out[np.dtype(dtype).name] = {k: statistics.median(v) for k, v in us.items()}
    return {"workload": "9 one-row latency (us per call)", "latency": out}


def w10_batch_predict(args):
    from sklearn.neural_network import MLPClassifier as Sk

    from gainprop import MLPClassifier as Gp

    out = {}
    rng = np.random.RandomState(0)
    cases = [((784, 256, 128, 10), rng.rand(2000 if args.quick else 20000, 784).astype(np.float32))]
    X4, y4, units4 = _large_setup(args.quick)
    cases.append((units4, X4))
    for units, X in cases:
        y = rng.randint(0, units[-1], len(X))
        kw = dict(hidden_layer_sizes=units[1:-1], max_iter=1, batch_size=250, random_state=0)
        gp, sk = Gp(**kw).fit(X[:500], y[:500]), Sk(**kw).fit(X[:500], y[:500])
        Ws = [c.astype(X.dtype) for c in gp.coefs_]

        def floor():
            a = X
            for W in Ws:
                a = a @ W

        funcs = {"gainprop": lambda: gp.predict_proba(X), "scikit-learn": lambda: sk.predict_proba(X),
                 "gemm floor": floor}
        if torch is not None:
            funcs["pytorch"] = _torch_proba(units, X)
        med, raw = _median_times(funcs, args.repeats)
        name = "-".join(map(str, units))
        out[f"{name}, {len(X)} rows"] = _row(name, med, {"raw": raw, "gemm floor ratio":
                                                          med["gainprop"] / med["gemm floor"]})
    return {"workload": "10 batch prediction (s)", "cases": out}


def _floor_fields(units, n_batches, gainprop_seconds, quick, dtype=np.float64):
    """The products floor of one epoch at batch 200 (the faster of OpenBLAS on
    1 and 2 threads, medians) and gainprop's time against it."""
    floor = (_c_gemm_floor(units, 200, n_batches, dtype, (1,), 1) if quick
             else _c_gemm_floor(units, 200, n_batches, dtype))
    if not floor:
        return {}
    threads, (_, best) = min(floor.items(), key=lambda kv: kv[1][1])
    return {"products floor s/epoch": best, "products floor threads": threads,
            "products floor (1, 2 threads)": {t: f[1] for t, f in floor.items()},
            "gemm floor ratio": gainprop_seconds / best}


def w11_small_networks(args):
    from sklearn.neural_network import MLPClassifier as SkC
    from sklearn.neural_network import MLPRegressor as SkR

    from gainprop import MLPClassifier as GpC
    from gainprop import MLPRegressor as GpR

    rng = np.random.RandomState(0)
    n = 4000 if args.quick else 100000
    X = rng.randn(n, 20)
    y = X @ rng.randn(20) + 0.1 * rng.randn(n)
    labels = (X[:, :3] @ rng.randn(3) > 0).astype(int) + (X[:, 3] > 1)
    epochs = 1 if args.quick else 3
    kw = dict(hidden_layer_sizes=(64, 64), solver="adam", max_iter=epochs, random_state=0,
              tol=0, n_iter_no_change=10**6)
    funcs = {
        "gainprop": lambda: GpR(**kw).fit(X, y),
        "gainprop 1 thread": lambda: GpR(n_threads=1, **kw).fit(X, y),
        "scikit-learn": lambda: SkR(**kw).fit(X, y),
        "gainprop classifier": lambda: GpC(**kw).fit(X, labels),
        "scikit-learn classifier": lambda: SkC(**kw).fit(X, labels),
    }
    med, raw = _median_times(funcs, args.repeats)
    med = {k: v / epochs for k, v in med.items()}
    n_batches = -(-n // 200)
    out = {f"20-64-64-1 regressor, {n} rows": _row("regressor", {
        k: med[k] for k in ("gainprop", "scikit-learn")}, {
        "gainprop 1 thread": med["gainprop 1 thread"],
        "2 threads / 1 thread": med["gainprop"] / med["gainprop 1 thread"],
        **_floor_fields((20, 64, 64, 1), n_batches, med["gainprop"], args.quick)}),
        "20-64-64-3 classifier": _row("classifier", {
            "gainprop": med["gainprop classifier"],
            "scikit-learn": med["scikit-learn classifier"]},
            _floor_fields((20, 64, 64, 3), n_batches, med["gainprop classifier"],
                          args.quick))}
    Xw = rng.randn(n // 2, 25)
    yw = Xw @ rng.randn(25)
    sweep = {}
    for width in (32, 64) if args.quick else (32, 48, 56, 64, 80, 96, 112, 128):
        kw = dict(hidden_layer_sizes=(width, width), solver="adam", max_iter=1, random_state=0)
        m, _ = _median_times({"gainprop": lambda: GpR(**kw).fit(Xw, yw),
                              "scikit-learn": lambda: SkR(**kw).fit(Xw, yw)},
                             max(1, args.repeats - 2))
        macs = 3 * (25 * width + width * width + width)  # forward + two backward products
        sweep[width] = {"gainprop s/epoch": m["gainprop"], "scikit-learn s/epoch":
                        m["scikit-learn"], "vs scikit-learn": m["scikit-learn"] / m["gainprop"],
                        "GFLOP/s": 2 * macs * len(Xw) / m["gainprop"] / 1e9,
                        **_floor_fields((25, width, width, 1), -(-len(Xw) // 200),
                                        m["gainprop"], args.quick)}
    out[f"widths (25 inputs, {n // 2} rows, one epoch)"] = sweep
    return {"workload": "11 small networks at the default batch size (s/epoch)", "cases": out}


WORKLOADS = {1: w1_online, 2: w2_minibatch, 3: w3_local_gains, 4: w4_large,
             5: w5_optimizer_step, 6: w6_predict, 7: w7_threads, 8: w8_memory,
             9: w9_latency, 10: w10_batch_predict, 11: w11_small_networks}


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _print_row(result):
    for k, v in result["seconds"].items():
        print(f"   {k:14s} {v:10.4f} s")
    for k, v in result.items():
        if k.startswith("vs ") or k in ("gemm floor ratio", "products floor s/epoch",
                                        "speed-up 1->2", "2 threads / 1 thread",
                                        "gainprop 1 thread"):
            label = (f"gainprop is {v:.2f}x faster than {k[3:]}" if k.startswith("vs ")
                     else f"{k}: {v:.3f}")
            print(f"   {label}")


def _print(result):
    print(f"\n== {result['workload']}")
    if "seconds" in result:
        _print_row(result)
    if "latency" in result:
        for dtype, row in result["latency"].items():
            for k, v in row.items():
                print(f"   {dtype} {k:28s} {v:9.1f} us")
            for what in ("predict_proba", "predict"):
                gp = row[f"gainprop {what}"]
                others = [f"{row[f'{lib} {what}'] / gp:.1f}x faster than {lib}"
                          for lib in ("scikit-learn", "pytorch") if f"{lib} {what}" in row]
                print(f"   {dtype} {what}: gainprop is " + ", ".join(others))
    if "cases" in result:
        for name, sub in result["cases"].items():
            print(f"   -- {name}")
            if "seconds" in sub:
                _print_row(sub)
            else:
                for width, r in sub.items():
                    floor = (f", {r['gemm floor ratio']:.2f}x the products floor"
                             if "gemm floor ratio" in r else "")
                    print(f"      {width:>4}: gainprop {r['gainprop s/epoch']:.4f} s, "
                          f"{r['vs scikit-learn']:.2f}x scikit-learn, {r['GFLOP/s']:.1f} GFLOP/s"
                          f"{floor}")
    for key in ("gbs", "rows_per_second", "memory"):
        if key in result:
            for k, v in result[key].items():
                extra = ""
                if key == "gbs":
                    extra = f"  ({result['fraction of copy'][k]:.0%} of copy)"
                print(f"   {k:20s} {v if isinstance(v, dict) else _fmt(v)}{extra}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat (smoke)")
    parser.add_argument("--only", default=None, help="comma-separated workload numbers")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="n_threads for workload 5")
    parser.add_argument("--json", default=os.path.join(HERE, "results", "latest.json"))
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    _quiet()
    chosen = sorted(WORKLOADS) if not args.only else [int(x) for x in args.only.split(",")]
    import gainprop
    import sklearn

    meta = {"gainprop": gainprop.__version__, "scikit-learn": sklearn.__version__,
            "torch": getattr(torch, "__version__", None), "numpy": np.__version__,
            "python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "quick": args.quick, "repeats": args.repeats,
            "command": " ".join([os.path.basename(sys.argv[0])] + (argv or sys.argv[1:]))}
    print(f"gainprop benchmark: {meta}")
    results = []
    for k in chosen:
        res = WORKLOADS[k](args)
        _print(res)
        results.append(res)
        sys.stdout.flush()
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1, default=float)
    print(f"\nraw figures: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
