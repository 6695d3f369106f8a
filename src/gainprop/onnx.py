"""ONNX export of gainprop's estimators, through skl2onnx.

Importing this module registers a shape calculator and a converter for
:class:`gainprop.MLPClassifier` and :class:`gainprop.MLPRegressor` with
`skl2onnx <https://onnx.ai/sklearn-onnx/>`_, so that skl2onnx's ``to_onnx``
and ``convert_sklearn`` convert them, alone or as a step of a scikit-learn
``Pipeline``.  It needs the ``onnx`` extra (``pip install gainprop[onnx]``:
skl2onnx, onnx and onnxruntime).

What the graph computes
-----------------------
The forward pass of ``predict``: per layer a ``MatMul`` and an ``Add``, then
the hidden activation (or, after the last layer, the output function).  Batch
normalisation in prediction is an affine map per unit, with the running
statistics::

    s = gamma / sqrt(running_var + eps),   f(s * z + beta - s * running_mean)

so it is folded into the preceding layer: its weight columns are scaled by
``s`` and its biases become ``s * (b - running_mean) + beta`` (computed in
float64, then rounded to the model's dtype).  A network with batch
normalisation exports to the same chain of ``MatMul``, ``Add`` and
activation as one without.  The models of every optimizer export the same way:
the graph holds the fitted weights only.

The hidden activations (``activation``), and what the graph computes for
each (onnxruntime's CPU provider has no float64 kernel for ONNX's Elu,
Softplus or Erf, and none for LeakyRelu before opset 16, so these are built
from operators that have one):

============  ==========================================================
'identity'    nothing
'logistic'    ``Sigmoid``
'tanh'        ``Tanh``
'relu'        ``Relu``
'leaky_relu'  ``Max(x, 0.01 x)`` (negative slope 0.01)
'elu'         ``Where(x > 0, x, Exp(Min(x, 0)) - 1)`` (alpha 1)
'gelu'        ``x Phi(x)``, the exact form (as ``torch.nn.GELU()``):
              ``(1 + Erf(x / sqrt 2)) / 2`` in float32; in float64 from
              ``erfc``, a polynomial in ``(|u| - 3) / (|u| + 3)`` times
              ``Exp(-u^2)`` (``u = x / sqrt 2``)
'softplus'    ``Relu(x) + Log(1 + Exp(-|x|))``, i.e. ``log(1 + exp(x))``
              without overflow and without a threshold
'silu'        ``x / (1 + Exp(-x))``, i.e. ``x sigmoid(x)``
============  ==========================================================

Each agrees with its definition to a few rounding units of
``max(|f(x)|, 1)`` (measured from -1000 to 1000: within 7e-16 in float64
and 2.5e-7 in float32).

Outputs
-------
Classifier
    As skl2onnx's classifiers: ``label`` (shape ``(n_samples,)``: the class
    of highest probability, integers as int64 or strings; for a multi-label
    model the indicator matrix ``p > 0.5`` of shape ``(n_samples,
    n_labels)``, int64) and ``probabilities`` (``(n_samples, n_classes)``,
    as ``predict_proba``; a binary model's are ``[sigmoid(-z),
    sigmoid(z)]``).  skl2onnx's ``zipmap`` option applies: by default
    (``zipmap=True``) the probabilities come as a list of dictionaries
    (outputs ``output_label`` and ``output_probability``);
    ``options={id(model): {"zipmap": False}}`` gives the matrix, and
    ``"columns"`` one output per class.  skl2onnx's options
    ``output_class_labels`` and ``nocl`` apply as well.
Regressor
    ``variable``, shape ``(n_samples, n_outputs)``; a Poisson model's is
    ``exp`` of the last layer.

dtypes
------
The graph computes in the model's dtype, as ``predict`` does: float32 for a
model fitted on float32 data, float64 otherwise.  An input of another type
(float, double, int64 or bool tensor) is cast to it, and the label aside, the
outputs have it.  One exception: ONNX's ZipMap takes float32 only, so with
``zipmap=True`` (the default) a float64 model's probabilities are rounded to
float32 in the dictionaries (its labels still come from the float64
probabilities); pass ``zipmap=False`` for float64 probabilities.

Limits
------
- ONNX opset 11 or newer (:data:`MIN_OPSET`), and ``ai.onnx.ml`` for
  ZipMap; ``target_opset`` is honoured, and skl2onnx's default is its newest
  tested opset.
- Dense input (ONNX has no sparse matrices).
- ``predict_proba`` floors probabilities at ``np.finfo(dtype).tiny``; the
  graph does not (the values differ by less than that).
- Class labels must be integers (or integral floats, or booleans, exported as
  int64) or strings, as in skl2onnx.

Examples
--------
>>> import numpy as np
>>> import onnxruntime as ort
>>> import skl2onnx
>>> import gainprop.onnx  # registers the converters
>>> from gainprop import MLPClassifier
>>> X = np.random.RandomState(0).rand(40, 3).astype(np.float32)
>>> y = (X[:, 0] > 0.5).astype(int)
>>> clf = MLPClassifier(hidden_layer_sizes=(5,), batch_norm=True, max_iter=20,
...                     random_state=0).fit(X, y)
>>> onx = skl2onnx.to_onnx(clf, X[:1], options={id(clf): {"zipmap": False}})
>>> session = ort.InferenceSession(onx.SerializeToString(),
...                                providers=["CPUExecutionProvider"])
>>> label, proba = session.run(None, {"X": X})
>>> bool(np.abs(proba - clf.predict_proba(X)).max() < 1e-5)
True
"""

import numpy as np
from numpy.polynomial import chebyshev
from onnx import TensorProto, numpy_helper
from scipy.special import erfcx
from skl2onnx import update_registered_converter
from skl2onnx._parse import _parse_sklearn_classifier
from skl2onnx.common.data_types import (
    BooleanTensorType,
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
    StringTensorType,
    guess_proto_type,
)
from skl2onnx.common.utils import check_input_and_output_numbers, check_input_and_output_types
from skl2onnx.common.utils_classifier import get_label_classes
from sklearn.utils.validation import check_is_fitted

from ._engine import BN_EPS
from ._multilayer_perceptron import MLPClassifier, MLPRegressor

__all__ = ["MIN_OPSET"]

#: The oldest ONNX opset the converters emit: Erf and Where are from opset 9,
#: and onnxruntime (1.19) has a float64 ArgMax kernel from opset 11.
MIN_OPSET = 11

_PROTO = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}
_TENSOR_TYPE = {np.dtype(np.float32): FloatTensorType, np.dtype(np.float64): DoubleTensorType}
_INPUT_TYPES = [FloatTensorType, DoubleTensorType, Int64TensorType, BooleanTensorType]


class _Graph:
    """Nodes and constants of one dtype, added to a skl2onnx container: each
    method returns the name of the tensor it makes."""

    def __init__(self, scope, container, dtype):
        self.scope = scope
        self.container = container
        self.dtype = np.dtype(dtype)

    def const(self, value, name="c"):
        out = self.scope.get_unique_variable_name(name)
        tensor = numpy_helper.from_array(np.asarray(value, dtype=self.dtype), out)
        self.container.add_initializer(out, _PROTO[self.dtype], list(tensor.dims), tensor)
        return out

    def op(self, op_type, *inputs, output=None, domain="", **attrs):
        out = output or self.scope.get_unique_variable_name(op_type.lower())
        self.container.add_node(op_type, list(inputs), out, op_domain=domain,
                                name=self.scope.get_unique_operator_name(op_type), **attrs)
        return out

    def cast(self, x, to, output=None):
        return self.op("Cast", x, output=output, to=to)


# ----------------------------------------------------------------------
# Activations: name -> function(graph, x) emitting f(x) element-wise
# ----------------------------------------------------------------------
def _native(op_type):
    def emit(g, x):
        return g.op(op_type, x)
    emit.__doc__ = f"ONNX {op_type} (float32 and float64 kernels in onnxruntime)."
    return emit


def _identity(g, x):
    return x


def _leaky_relu(g, x):
    """max(x, 0.01 x): equal to the piecewise definition for a slope below 1,
    in any opset (onnxruntime's double LeakyRelu needs opset 16)."""
    return g.op("Max", x, g.op("Mul", x, g.const(0.01, "slope")))


def _elu(g, x):
    """x if x > 0 else exp(x) - 1 (alpha 1); onnxruntime has no double Elu.
    The exponential only sees min(x, 0), so it cannot overflow."""
    zero = g.const(0.0, "zero")
    negative = g.op("Sub", g.op("Exp", g.op("Min", x, zero)), g.const(1.0, "one"))
    return g.op("Where", g.op("Greater", x, zero), x, negative)


def _softplus(g, x):
    """log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|)): no overflow, and no
    threshold (torch's Softplus switches to x above 20); onnxruntime has no
    double Softplus."""
    tail = g.op("Log", g.op("Add", g.const(1.0, "one"), g.op("Exp", g.op("Neg", g.op("Abs", x)))))
    return g.op("Add", g.op("Relu", x), tail)


def _silu(g, x):
    """x * sigmoid(x) (Elfwing, Uchibe & Doya 2018; also called swish), as
    x / (1 + exp(-x)): onnxruntime's optimizer (1.19 to 1.29 at least, its
    issue 32421) fuses Mul(x, Sigmoid(x)) into a QuickGelu that has no float64
    kernel.  Where exp(-x) overflows (x < -709 in float64) the quotient is
    -0, the function's value to within 1e-300."""
    return g.op("Div", x, g.op("Add", g.const(1.0, "one"), g.op("Exp", g.op("Neg", x))))


# erfcx(a) = exp(a^2) erfc(a) for a >= 0 as a polynomial of degree 18 in
# t = (a - 3) / (a + 3), which maps [0, inf) onto [-1, 1): its Chebyshev
# interpolant (in the power basis, whose coefficients stay below 0.33, so
# Horner's rule is stable).  With erfc(a) = exp(-a^2) P(t), gelu is within
# 2e-15 of its definition with scipy.special.erf from -1000 to 1000.
_ERFCX_SHIFT = 3.0
_ERFCX_POLY = chebyshev.cheb2poly(chebyshev.chebinterpolate(
    lambda t: erfcx(_ERFCX_SHIFT * (1 + t) / (1 - t)), 18))


def _normal_cdf(g, x):
    """Phi(x) = (1 + erf(x / sqrt(2))) / 2.  Erf in float32; in float64, where
    onnxruntime has no Erf kernel, Phi(x) = erfc(a) / 2 for x < 0 and
    1 - erfc(a) / 2 otherwise, a = |x| / sqrt(2), with erfc from _ERFCX_POLY
    (accurate in both tails, where 1 + erf(x) would cancel)."""
    u = g.op("Mul", x, g.const(np.sqrt(0.5), "sqrt_half"))
    if g.dtype == np.float32:
        erf = g.op("Erf", u)
        return g.op("Mul", g.op("Add", erf, g.const(1.0, "one")), g.const(0.5, "half"))
    a = g.op("Abs", u)
    shift = g.const(_ERFCX_SHIFT, "shift")
    t = g.op("Div", g.op("Sub", a, shift), g.op("Add", a, shift))
    poly = g.const(_ERFCX_POLY[-1], "p")
    for coef in _ERFCX_POLY[-2::-1]:
        poly = g.op("Add", g.op("Mul", poly, t), g.const(coef, "p"))
    half_erfc = g.op("Mul", g.op("Mul", g.op("Exp", g.op("Neg", g.op("Mul", a, a))), poly),
                     g.const(0.5, "half"))
    upper = g.op("Sub", g.const(1.0, "one"), half_erfc)
    return g.op("Where", g.op("Less", x, g.const(0.0, "zero")), half_erfc, upper)


def _gelu(g, x):
    """x * Phi(x), Phi the standard normal distribution function (Hendrycks &
    Gimpel 2016; the exact form, as torch.nn.GELU())."""
    return g.op("Mul", x, _normal_cdf(g, x))


# Hidden activation name -> function (graph, x) -> f(x) that emits it
_ACTIVATIONS = {
    "identity": _identity,
    "logistic": _native("Sigmoid"),
    "tanh": _native("Tanh"),
    "relu": _native("Relu"),
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "gelu": _gelu,
    "softplus": _softplus,
    "silu": _silu,
}


# ----------------------------------------------------------------------
# The network
# ----------------------------------------------------------------------
def _fitted(model):
    """The model, checked to be fitted, with hand-assigned ``coefs_`` /
    ``intercepts_`` taken into its buffer (as predict takes them), and its
    compute dtype."""
    check_is_fitted(model)
    model._sync_params()
    return model, model.coefs_[0].dtype


def _affine_maps(model, dtype):
    """[(W, b)] per layer, batch normalisation folded into the hidden ones."""
    n_layers = len(model.coefs_)
    batch_norm = getattr(model, "bn_gamma_", None) is not None  # the fitted layout's
    maps = []
    for i, (W, b) in enumerate(zip(model.coefs_, model.intercepts_)):
        W = np.asarray(W, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if batch_norm and i < n_layers - 1:
            s = model.bn_gamma_[i] / np.sqrt(model.bn_running_var_[i].astype(np.float64)
                                              + BN_EPS)
            W = W * s
            b = s * (b - model.bn_running_mean_[i]) + model.bn_beta_[i]
        maps.append((W.astype(dtype), b.astype(dtype)))
    return maps


def _check_opset(container):
    opset = container.target_opset
    if opset is not None and opset < MIN_OPSET:
        raise RuntimeError(
            f"gainprop's ONNX converters need opset {MIN_OPSET} or newer, got "
            f"target_opset={opset}."
        )


def _logits(scope, operator, container):
    """Emit the network up to its last affine map; returns (graph, logits)."""
    _check_opset(container)
    model, dtype = _fitted(operator.raw_operator)
    if model.activation not in _ACTIVATIONS:
        raise ValueError(
            f"Cannot export activation {model.activation!r}; known: {sorted(_ACTIVATIONS)}."
        )
    g = _Graph(scope, container, dtype)
    x = operator.inputs[0]
    a = x.full_name
    if guess_proto_type(x.type) != _PROTO[dtype]:
        a = g.cast(a, _PROTO[dtype])
    activation = _ACTIVATIONS[model.activation]
    maps = _affine_maps(model, dtype)
    for i, (W, b) in enumerate(maps):
        z = g.op("Add", g.op("MatMul", a, g.const(W, "coefficient")), g.const(b, "intercept"))
        a = activation(g, z) if i < len(maps) - 1 else z
    return g, a


def _zipmap_in_float32(scope, model):
    """ZipMap takes float32 only: a float64 model's probabilities are rounded
    for it (zipmap True; 'columns' slices the matrix and keeps the dtype)."""
    zipmap = scope.get_options(model, dict(zipmap=True))["zipmap"]
    return zipmap is True and model.coefs_[0].dtype == np.float64


def _classes(scope, model):
    """The class labels (``classes_``, or 0, 1, ... with skl2onnx's option
    ``nocl``) as an ONNX tensor type and values: int64 or utf-8 strings."""
    classes = np.asarray(get_label_classes(scope, model))
    if classes.dtype.kind in "biu":
        return TensorProto.INT64, classes.astype(np.int64)
    if classes.dtype.kind == "f":
        if not np.array_equal(classes, np.round(classes)):
            raise ValueError(
                f"Cannot export non-integer float class labels {classes!r}: ONNX "
                "classifiers output int64 or string labels."
            )
        return TensorProto.INT64, classes.astype(np.int64)
    return TensorProto.STRING, np.array([str(c).encode("utf-8") for c in classes], dtype=object)


def _is_multilabel(model):
    return model.out_activation_ == "logistic" and model.n_outputs_ > 1


# ----------------------------------------------------------------------
# Shape calculators and converters
# ----------------------------------------------------------------------
def _check_io(operator, n_outputs):
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=n_outputs)
    check_input_and_output_types(operator, good_input_types=_INPUT_TYPES)


def _calculate_classifier_output_shapes(operator):
    """Shape calculator of gainprop's MLPClassifier for skl2onnx: a label
    tensor and a probability matrix of the model's dtype."""
    _check_io(operator, 2)
    model, dtype = _fitted(operator.raw_operator)
    n = operator.inputs[0].get_first_dimension()
    label_type, classes = _classes(operator.scope_inst, model)
    if _is_multilabel(model):
        operator.outputs[0].type = Int64TensorType([n, len(classes)])
    elif label_type == TensorProto.STRING:
        operator.outputs[0].type = StringTensorType([n])
    else:
        operator.outputs[0].type = Int64TensorType([n])
    proba_type = FloatTensorType if _zipmap_in_float32(operator.scope_inst, model) \
        else _TENSOR_TYPE[dtype]
    operator.outputs[1].type = proba_type([n, len(classes)])


def _calculate_regressor_output_shapes(operator):
    """Shape calculator of gainprop's MLPRegressor for skl2onnx: one matrix
    of shape (n_samples, n_outputs) in the model's dtype."""
    _check_io(operator, 1)
    model, dtype = _fitted(operator.raw_operator)
    operator.outputs[0].type = _TENSOR_TYPE[dtype](
        [operator.inputs[0].get_first_dimension(), model.n_outputs_])


def _parse_classifier(scope, model, inputs, custom_parsers=None):
    """skl2onnx's parser of classifiers (outputs, zipmap), after checking that
    the model is fitted: the parser reads ``classes_`` first."""
    check_is_fitted(model)
    return _parse_sklearn_classifier(scope, model, inputs, custom_parsers=custom_parsers)


def _convert_classifier(scope, operator, container):
    """skl2onnx converter of gainprop's MLPClassifier."""
    model = operator.raw_operator
    g, z = _logits(scope, operator, container)
    label, proba = operator.outputs[0].full_name, operator.outputs[1].full_name
    if model.out_activation_ == "softmax":
        p = g.op("Softmax", z, axis=1)
    elif model.n_outputs_ == 1:  # binary: both columns from the logit, as predict_proba
        p = g.op("Concat", g.op("Sigmoid", g.op("Neg", z)), g.op("Sigmoid", z), axis=1)
    else:  # multi-label
        p = g.op("Sigmoid", z)
    if _is_multilabel(model):  # LabelBinarizer.inverse_transform's threshold
        g.cast(g.op("Greater", p, g.const(0.5, "threshold")), TensorProto.INT64, output=label)
    else:
        label_type, classes = _classes(scope, model)
        name = scope.get_unique_variable_name("classes")
        container.add_initializer(name, label_type, [len(classes)], classes.tolist())
        g.op("Gather", name, g.op("ArgMax", p, axis=1, keepdims=0), output=label)
    if _zipmap_in_float32(scope, model):
        g.cast(p, TensorProto.FLOAT, output=proba)
    else:
        g.op("Identity", p, output=proba)


def _convert_regressor(scope, operator, container):
    """skl2onnx converter of gainprop's MLPRegressor."""
    model = operator.raw_operator
    g, z = _logits(scope, operator, container)
    op_type = {"identity": "Identity", "exp": "Exp"}[model.out_activation_]
    g.op(op_type, z, output=operator.outputs[0].full_name)


update_registered_converter(
    MLPClassifier,
    "GainpropMLPClassifier",
    _calculate_classifier_output_shapes,
    _convert_classifier,
    parser=_parse_classifier,
    options={"zipmap": [True, False, "columns"], "output_class_labels": [False, True],
             "nocl": [False, True]},
)
update_registered_converter(
    MLPRegressor,
    "GainpropMLPRegressor",
    _calculate_regressor_output_shapes,
    _convert_regressor,
)
