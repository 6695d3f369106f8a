"""
===========
ONNX export
===========

``import gainprop.onnx`` registers converters for gainprop's estimators with skl2onnx (the
``onnx`` extra), so that skl2onnx's ``to_onnx`` exports them, alone or inside a scikit-learn
``Pipeline``; onnxruntime then predicts without gainprop or scikit-learn. Batch normalisation is
folded into the weights.
"""

# %%
import numpy as np
import onnxruntime
import skl2onnx
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import gainprop.onnx  # noqa: F401  (registers the converters)
from gainprop import MLPClassifier

X, y = load_digits(return_X_y=True)
X = X.astype(np.float32)
model = make_pipeline(StandardScaler(),
                      MLPClassifier(hidden_layer_sizes=(64,), batch_norm=True, max_iter=20,
                                    random_state=0)).fit(X, y)

onx = skl2onnx.to_onnx(model, X[:1], options={"zipmap": False})
print(f"{len(onx.graph.node)} nodes:", sorted({node.op_type for node in onx.graph.node}))

# %%
# The exported graph gives the probabilities ``predict_proba`` gives, to float32 rounding.
session = onnxruntime.InferenceSession(onx.SerializeToString(),
                                       providers=["CPUExecutionProvider"])
label, proba = session.run(None, {"X": X})
print("largest difference of the probabilities:", np.abs(proba - model.predict_proba(X)).max())
print("labels agree:", bool(np.array_equal(label, model.predict(X))))
