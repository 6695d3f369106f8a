"""The AVX2 and baseline builds of the kernels give the same bits.

Both are compiled with -ffp-contract=off and no fast-math, so they do the same
operations in the same order; only the vector width differs.  Each case is fit
in a fresh process with GAINPROP_ISA=baseline and compared with this process
(which runs the kernels the CPU allows)."""

import os
import subprocess
import sys

import numpy as np
import pytest

from gainprop import _core

CASES = {
    "sgd-online": dict(solver="sgd", batch_size=1, momentum=0.9, max_iter=2),
    "nesterov": dict(solver="sgd", batch_size=16, max_iter=3),
    "adam": dict(solver="adam", batch_size=32, max_iter=3),
    "adam-f64-tanh": dict(solver="adam", activation="tanh", max_iter=3, dtype="float64"),
    "logistic-bn": dict(solver="adam", activation="logistic", batch_norm=True, max_iter=3),
    "rprop": dict(solver="rprop", batch_size=200, max_iter=5),
    "localgain": dict(solver="localgain", batch_size=100, max_iter=5),
    "adagrad": dict(solver="adagrad", max_iter=3),
    "adadelta": dict(solver="adadelta", max_iter=3),
    "rmsprop": dict(solver="rmsprop", max_iter=3),
    "adamax": dict(solver="adamax", max_iter=3),
    "sparse": dict(solver="adam", max_iter=3, sparse=True),
    # the new activations (gelu's erfc, elu's expm1, softplus's log1p) and
    # dropout's masks, with batch norm, float64 and sparse input
    "leaky_relu-dropout": dict(activation="leaky_relu", dropout=0.3, max_iter=3),
    "elu-dropout-sparse": dict(activation="elu", dropout=0.2, input_dropout=0.2, max_iter=3,
                               sparse=True),
    "gelu-dropout-bn": dict(activation="gelu", dropout=[0.3, 0.1], input_dropout=0.1,
                            batch_norm=True, max_iter=3),
    "gelu-f64": dict(activation="gelu", max_iter=3, dtype="float64"),
    "softplus-dropout-f64": dict(activation="softplus", dropout=0.3, input_dropout=0.2,
                                 max_iter=3, dtype="float64"),
    "silu-dropout-bn-f64": dict(activation="silu", dropout=0.2, batch_norm=True, max_iter=3,
                                dtype="float64"),
}

SCRIPT = r"""
import sys, warnings
import numpy as np, scipy.sparse as sp
from sklearn.datasets import load_digits
from gainprop import MLPClassifier
warnings.simplefilter("ignore")
X0, y = load_digits(return_X_y=True)
X0, y = X0[:600] / 16, y[:600]
results = {}
for name, kw in eval(sys.argv[1]).items():
    kw = dict(kw)
    X = X0.astype(kw.pop("dtype", "float32"))
    if kw.pop("sparse", False):
        X = sp.csr_matrix(X)
    clf = MLPClassifier(hidden_layer_sizes=(48, 24), random_state=0, n_threads=2, **kw)
    clf.fit(X, y)
    out = [c.ravel() for c in clf.coefs_ + clf.intercepts_]
    out += [clf.predict_proba(X).ravel(), np.asarray(clf.loss_curve_)]
    results[name] = np.concatenate([o.astype(np.float64) for o in out])
np.savez(sys.argv[2], **results)
"""


def _fit_all(path, isa):
    env = dict(os.environ)
    env.pop("GAINPROP_ISA", None)
    if isa:
        env["GAINPROP_ISA"] = isa
    subprocess.run([sys.executable, "-c", SCRIPT, repr(CASES), path], env=env, check=True,
                   timeout=300)
    return dict(np.load(path))


@pytest.fixture(scope="module")
def both_builds(tmp_path_factory):
    d = tmp_path_factory.mktemp("isa")
    return _fit_all(str(d / "fast.npz"), None), _fit_all(str(d / "base.npz"), "baseline")


def _isa_in_process(value):
    env = dict(os.environ, GAINPROP_ISA=value)
    out = subprocess.run([sys.executable, "-c",
                          "from gainprop import _core; print(_core.kernel_isa())"],
                         env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip(), out.stderr


def test_forcing_the_baseline_is_reported():
    assert _isa_in_process("baseline")[0] == "baseline"
    assert _isa_in_process("Baseline")[0] == "baseline"
    assert _core.kernel_isa() in ("avx2", "baseline")


def test_an_unknown_isa_request_warns_and_uses_the_default():
    isa, err = _isa_in_process("sse9")
    assert isa == _isa_in_process("auto")[0]
    assert "GAINPROP_ISA='sse9'" in err


@pytest.mark.skipif(_core.kernel_isa() == "baseline", reason="this CPU or build has no AVX2 kernels")
@pytest.mark.parametrize("name", sorted(CASES))
def test_avx2_and_baseline_kernels_give_identical_bits(name, both_builds):
    fast, base = both_builds
    assert fast[name].shape == base[name].shape
    np.testing.assert_array_equal(fast[name], base[name])
