"""ONNX export (gainprop.onnx): onnxruntime's outputs against predict and
predict_proba, and the emitted activations against NumPy/SciPy references."""

import numpy as np
import pytest

pytest.importorskip("onnx")
skl2onnx = pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

from activation_reference import EXISTING, NEW  # noqa: E402
from activation_reference import VALUE as REFERENCE  # noqa: E402
from scipy.special import softmax  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import gainprop.onnx  # noqa: E402
from gainprop import MLPClassifier, MLPRegressor  # noqa: E402
from gainprop.optimizers import SGD, Adam, LocalGain, RMSprop, Rprop  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

DTYPES = [np.float32, np.float64]
# onnxruntime against predict: float32 products and functions round
# differently from the core's; float64 agrees to a few units in the last place
ATOL = {np.float32: 1e-5, np.float64: 1e-10}
BN_EPS = 1e-5  # batch normalisation's epsilon (torch's default)


def _run(onx, X):
    """{output name: value} from onnxruntime for input X."""
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: X})))


def _export(model, X, target_opset=None, **options):
    return skl2onnx.to_onnx(model, X[:1], target_opset=target_opset,
                            options={id(model): options} if options else None)


@pytest.fixture(scope="module")
def data():
    """Inputs and one target of each kind; the regression targets are of
    order 1, so that float32's absolute tolerance means a few ulps."""
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4)
    k = np.digitize(X[:, 0] + 0.5 * X[:, 1], [-0.5, 0.5])
    return X, {
        "binary": (X[:, 0] + X[:, 1] > 0).astype(int),
        "multiclass_int": np.array([-2, 5, 9])[k],
        "multiclass_str": np.array(["cat", "dog", "emu"])[k],
        "multilabel": (X[:, :3] + 0.3 * X[:, 3:] > 0).astype(int),
        "identity": 0.5 * X[:, 0] - 0.3 * X[:, 1] * X[:, 2],
        "multioutput": np.c_[0.5 * X[:, 0], np.tanh(X[:, 1] - X[:, 2])],
        "poisson": rng.poisson(np.exp(0.3 * X[:, 0])),
    }


def _perturb_batch_norm(model, seed=0):
    """Scales, shifts and running statistics far from their initial values,
    so that a converter that drops any of them gets other outputs."""
    rng = np.random.RandomState(seed)
    for i, gamma in enumerate(model.bn_gamma_):
        gamma[...] = rng.uniform(0.5, 2.0, gamma.shape)
        model.bn_beta_[i][...] = rng.uniform(-1.0, 1.0, gamma.shape)
        model.bn_running_mean_[i][...] += rng.uniform(-0.5, 0.5, gamma.shape)
        model.bn_running_var_[i][...] *= rng.uniform(0.3, 3.0, gamma.shape)


def _fit(data, kind, dtype, batch_norm=False, activation="tanh", solver="adam", max_iter=15,
         hidden=(6, 5)):
    X, targets = data
    X = X.astype(dtype)
    if kind in ("identity", "multioutput", "poisson"):
        model = MLPRegressor(hidden_layer_sizes=hidden, loss="squared_error"
                             if kind != "poisson" else "poisson")
    else:
        model = MLPClassifier(hidden_layer_sizes=hidden)
    rate = {} if isinstance(solver, Rprop) else {"learning_rate_init": 0.01}  # Rprop has none
    model.set_params(activation=activation, solver=solver, batch_norm=batch_norm,
                     max_iter=max_iter, random_state=0, **rate)
    model.fit(X, targets[kind])
    if batch_norm:
        _perturb_batch_norm(model)
    return model, X


def _check_classifier(model, X, outputs):
    label, proba = outputs["label"], outputs["probabilities"]
    expected = model.predict_proba(X)
    assert proba.dtype == expected.dtype == model.coefs_[0].dtype
    assert proba.shape == expected.shape
    np.testing.assert_allclose(proba, expected, rtol=0, atol=ATOL[proba.dtype.type])
    np.testing.assert_array_equal(label, model.predict(X))


def _check_regressor(model, X, outputs):
    (out,) = outputs.values()
    expected = model.predict(X)
    assert out.dtype == expected.dtype == model.coefs_[0].dtype
    assert out.shape == (len(X), model.n_outputs_)
    np.testing.assert_allclose(out, expected.reshape(len(X), -1), rtol=0,
                               atol=ATOL[out.dtype.type])


# ----------------------------------------------------------------------
# onnxruntime against predict / predict_proba
# ----------------------------------------------------------------------
@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["binary", "multiclass_int", "multiclass_str", "multilabel"])
def test_classifier_matches_predict_proba(data, kind, dtype, batch_norm):
    model, X = _fit(data, kind, dtype, batch_norm)
    _check_classifier(model, X, _run(_export(model, X, zipmap=False), X))


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["identity", "multioutput", "poisson"])
def test_regressor_matches_predict(data, kind, dtype, batch_norm):
    model, X = _fit(data, kind, dtype, batch_norm)
    _check_regressor(model, X, _run(_export(model, X), X))


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", EXISTING + NEW)
def test_every_activation_of_the_estimator(data, activation, dtype, batch_norm):
    model, X = _fit(data, "multiclass_int", dtype, batch_norm, activation=activation)
    _check_classifier(model, X, _run(_export(model, X, zipmap=False), X))
    model, X = _fit(data, "multioutput", dtype, batch_norm, activation=activation)
    _check_regressor(model, X, _run(_export(model, X), X))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("solver", [SGD(momentum=0.9), Adam(), Rprop(), LocalGain(), RMSprop(),
                                    "lbfgs"], ids=lambda s: getattr(s, "__name__", str(s)))
def test_models_of_every_optimizer_export(data, solver, dtype):
    model, X = _fit(data, "multiclass_str", dtype, batch_norm=solver != "lbfgs", solver=solver)
    _check_classifier(model, X, _run(_export(model, X, zipmap=False), X))


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_is_folded_and_matters(data, dtype):
    """The graph is MatMul/Add/activation only, its weights are the folded
    ones computed in float64 and rounded once, and the batch-norm model's
    outputs differ from those of its weights without batch normalisation
    (so the tests above fail for a converter that ignores it)."""
    from onnx import numpy_helper

    model, X = _fit(data, "multiclass_int", dtype, batch_norm=True)
    onx = _export(model, X, zipmap=False)
    assert {n.op_type for n in onx.graph.node} <= {
        "Cast", "MatMul", "Add", "Tanh", "Softmax", "ArgMax", "Gather", "Identity"}
    constants = {t.name: numpy_helper.to_array(t) for t in onx.graph.initializer}
    weights = [constants[n.input[1]] for n in onx.graph.node if n.op_type == "MatMul"]
    for i, W in enumerate(weights[:-1]):
        s = model.bn_gamma_[i] / np.sqrt(model.bn_running_var_[i].astype(np.float64) + BN_EPS)
        np.testing.assert_array_equal(W, (model.coefs_[i] * s).astype(dtype))
    without = _reference_forward(model, X, np.tanh, batch_norm=False)
    assert np.abs(softmax(without, axis=1) - model.predict_proba(X)).max() > 0.05
    _check_classifier(model, X, _run(onx, X))


def test_pipeline_with_a_scaler(data):
    X, targets = data
    X = 10.0 * X + 3.0
    for dtype in DTYPES:
        Xd = X.astype(dtype)
        clf = make_pipeline(StandardScaler(), MLPClassifier(
            hidden_layer_sizes=(6,), batch_norm=True, max_iter=15, random_state=0))
        clf.fit(Xd, targets["multiclass_str"])
        _perturb_batch_norm(clf[-1])
        out = _run(skl2onnx.to_onnx(clf, Xd[:1], options={id(clf[-1]): {"zipmap": False}}), Xd)
        # StandardScaler's graph rounds as scikit-learn does to ~1 ulp
        np.testing.assert_allclose(out["probabilities"], clf.predict_proba(Xd), rtol=0,
                                   atol=ATOL[dtype])
        np.testing.assert_array_equal(out["label"], clf.predict(Xd))

        reg = make_pipeline(StandardScaler(), MLPRegressor(
            hidden_layer_sizes=(6,), max_iter=15, random_state=0))
        reg.fit(Xd, targets["multioutput"])
        (pred,) = _run(skl2onnx.to_onnx(reg, Xd[:1]), Xd).values()
        np.testing.assert_allclose(pred, reg.predict(Xd), rtol=0, atol=ATOL[dtype])


# ----------------------------------------------------------------------
# Options, dtypes and opsets
# ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["binary", "multiclass_str", "multilabel"])
def test_default_zipmap_gives_dictionaries(data, kind, dtype):
    """ZipMap takes float32 only: a float64 model's dictionaries hold its
    probabilities rounded to float32, its labels are exact."""
    model, X = _fit(data, kind, dtype, batch_norm=True)
    out = _run(_export(model, X), X)
    np.testing.assert_array_equal(out["output_label"], model.predict(X))
    rows = out["output_probability"]
    assert [list(row) for row in rows] == [list(model.classes_)] * len(X)
    proba = np.array([[row[c] for c in model.classes_] for row in rows])
    np.testing.assert_allclose(proba, model.predict_proba(X).astype(np.float32), rtol=0,
                               atol=ATOL[np.float32])


def test_zipmap_columns_and_label_options(data):
    model, X = _fit(data, "multiclass_int", np.float64, batch_norm=True)
    out = _run(_export(model, X, zipmap="columns"), X)
    proba, labels = model.predict_proba(X), model.predict(X)
    np.testing.assert_array_equal(out["output_label"], labels)
    for j, c in enumerate(model.classes_):
        np.testing.assert_allclose(out[f"i{c}"], proba[:, j], rtol=0, atol=ATOL[np.float64])
    out = _run(_export(model, X, zipmap=False, output_class_labels=True), X)
    np.testing.assert_array_equal(out["class_labels"], model.classes_)
    # nocl: class indices for labels
    out = _run(_export(model, X, zipmap=False, nocl=True), X)
    np.testing.assert_array_equal(out["label"], np.searchsorted(model.classes_, labels))


@pytest.mark.parametrize("model_dtype, input_dtype", [(np.float32, np.float64),
                                                      (np.float64, np.float32),
                                                      (np.float32, np.int64)])
def test_input_is_cast_to_the_model_dtype(data, model_dtype, input_dtype):
    """As predict: the graph computes in the model's dtype whatever the input."""
    model, _ = _fit(data, "multiclass_int", model_dtype, batch_norm=True)
    X = (3 * data[0]).astype(input_dtype)
    _check_classifier(model, X, _run(_export(model, X, zipmap=False), X))
    regressor, _ = _fit(data, "poisson", model_dtype, batch_norm=True)
    _check_regressor(regressor, X, _run(_export(regressor, X), X))


def test_convert_sklearn_with_initial_types(data):
    from skl2onnx.common.data_types import FloatTensorType

    model, X = _fit(data, "multilabel", np.float32, batch_norm=True)
    onx = skl2onnx.convert_sklearn(model, initial_types=[("input", FloatTensorType([None, 4]))],
                                   options={id(model): {"zipmap": False}})
    _check_classifier(model, X, _run(onx, X))


@pytest.mark.parametrize("dtype", DTYPES)
def test_oldest_opset_and_too_old(data, dtype):
    """A classifier at MIN_OPSET (the activations are checked there below)."""
    oldest = gainprop.onnx.MIN_OPSET
    model, X = _fit(data, "multiclass_str", dtype, batch_norm=True)
    onx = _export(model, X, target_opset=oldest, zipmap=False)
    assert {o.version for o in onx.opset_import if o.domain in ("", "ai.onnx")} == {oldest}
    _check_classifier(model, X, _run(onx, X))
    with pytest.raises(RuntimeError, match=f"opset {oldest} or newer"):
        _export(model, X, target_opset=oldest - 1, zipmap=False)


def test_assigned_weights_are_exported(data):
    """Weights assigned by hand are used as predict uses them: in the model's
    dtype (float64 arrays assigned to a float32 model)."""
    model, X = _fit(data, "identity", np.float32)
    model.coefs_ = [2.0 * W.astype(np.float64) for W in model.coefs_]
    onx = _export(model, X)
    assert model.predict(X).dtype == np.float32
    _check_regressor(model, X, _run(onx, X))


def test_errors(data):
    X = data[0]
    with pytest.raises(NotFittedError):
        skl2onnx.to_onnx(MLPClassifier(), X[:1])
    model, X = _fit(data, "binary", np.float64)
    model.activation = "swish"
    with pytest.raises(ValueError, match="Cannot export activation 'swish'"):
        _export(model, X)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_models_export_as_plain_networks(data, dtype):
    """Dropout is training's alone: the graph of a model trained with it has
    the operators of one trained without and computes predict_proba."""
    model, X = _fit(data, "multiclass_int", dtype, activation="gelu", hidden=(8, 6))
    plain_ops = [n.op_type for n in _export(model, X, zipmap=False).graph.node]
    model.set_params(dropout=[0.4, 0.2], input_dropout=0.2).fit(X, data[1]["multiclass_int"])
    onx = _export(model, X, zipmap=False)
    assert [n.op_type for n in onx.graph.node] == plain_ops
    _check_classifier(model, X, _run(onx, X))
    _check_regressor(*_regressor_with_dropout(data, dtype))


def _regressor_with_dropout(data, dtype):
    model, X = _fit(data, "multioutput", dtype, activation="silu", batch_norm=True)
    model.set_params(dropout=0.3, input_dropout=0.1).fit(X, data[1]["multioutput"])
    _perturb_batch_norm(model)
    return model, X, _run(_export(model, X), X)


# ----------------------------------------------------------------------
# The activations against their definitions
# ----------------------------------------------------------------------
def _reference_forward(model, X, f, batch_norm=True):
    """The logits in float64 from the fitted attributes, batch normalisation
    applied as defined (not folded) unless batch_norm is False."""
    a = np.asarray(X, dtype=np.float64)
    last = len(model.coefs_) - 1
    for i, (W, b) in enumerate(zip(model.coefs_, model.intercepts_)):
        z = a @ W.astype(np.float64) + b
        if i == last:
            return z
        if batch_norm and getattr(model, "bn_gamma_", None) is not None:
            z = ((z - model.bn_running_mean_[i]) / np.sqrt(model.bn_running_var_[i] + BN_EPS)
                 * model.bn_gamma_[i] + model.bn_beta_[i])
        a = f(z)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", EXISTING + NEW)
def test_activation_elementwise_over_a_wide_range(data, activation, dtype):
    """A network whose layers are identity maps outputs f(x): each emitted
    activation against its definition from -40 to 40 (both tails), at the
    oldest opset."""
    k = 4
    model, _ = _fit(data, "multioutput", dtype, hidden=(k,), max_iter=1)
    model.fit(data[0].astype(dtype), data[0][:, :k])  # k outputs
    for W, b in zip(model.coefs_, model.intercepts_):
        W[...], b[...] = np.eye(k), 0.0
    x = np.concatenate([np.linspace(-40, 40, 4001), [-1e-12, 1e-12, 1e-200, 0.0]])
    x = x[: len(x) // k * k].reshape(-1, k).astype(dtype)
    model.activation = activation
    (out,) = _run(_export(model, x, target_opset=gainprop.onnx.MIN_OPSET), x).values()
    expected = REFERENCE[activation](x.astype(np.float64))
    assert out.dtype == dtype
    np.testing.assert_allclose(out, expected, rtol=0, atol=ATOL[dtype])
    np.testing.assert_allclose(model.predict(x), expected, rtol=0, atol=ATOL[dtype])
