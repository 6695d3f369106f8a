"""Class labels: encoding the targets of a fit and decoding predictions.

LabelBinarizer's own checks of the target type cost more than a short fit's
epoch; for class labels of one column (binary or multiclass, the usual case)
the fitted binarizer and the encoding are made directly from np.unique and
np.searchsorted, with the same results (tested)."""

import numpy as np
from sklearn.preprocessing import LabelBinarizer


def fit_binarizer(y):
    """LabelBinarizer().fit(y).  For class labels of one column of integers or
    strings the fitted attributes are set directly from np.unique: the
    target-type checks of LabelBinarizer.fit only tell binary from
    multiclass here."""
    if y.ndim == 1 and len(y) > 0 and y.dtype.kind in "biuU":
        classes = np.unique(y)
        if classes.dtype.kind == "U":  # as unique_labels: as wide as the longest label
            classes = classes.astype(f"<U{max(1, max(len(c) for c in classes))}")
        if len(classes) >= 2:
            lb = LabelBinarizer()
            lb.y_type_ = "binary" if len(classes) == 2 else "multiclass"
            lb.sparse_input_ = False
            lb.classes_ = classes
            return lb
    return LabelBinarizer().fit(y)


def binarize(lb, y):
    """lb.transform(y) as booleans.  Class labels of one column are looked up
    with searchsorted directly: LabelBinarizer.transform checks the target
    type again."""
    classes = lb.classes_
    if (lb.y_type_ in ("binary", "multiclass") and y.ndim == 1 and len(classes) >= 2
            and y.dtype.kind in "biufUS" and classes.dtype.kind == y.dtype.kind):
        idx = np.searchsorted(classes, y)
        idx[idx == len(classes)] = 0
        if np.array_equal(classes[idx], y):  # every label known
            if lb.y_type_ == "binary":
                return (idx == 1).reshape(-1, 1)
            Y = np.zeros((len(y), len(classes)), dtype=bool)
            Y[np.arange(len(y)), idx] = True
            return Y
    return lb.transform(y).astype(bool)


def decode(lb, out):
    """lb.inverse_transform(out) for the network's outputs (probabilities):
    the class of each row (multiclass: the most probable; binary: above
    one half) or the 0/1 indicator matrix (multi-label), without the
    binarizer's checks; the same values and dtypes (tested)."""
    y_type = lb.y_type_
    if getattr(lb, "sparse_input_", True):
        return lb.inverse_transform(out)
    if y_type == "multiclass":
        return lb.classes_.take(out.argmax(axis=1), mode="clip")
    above = np.array(out > 0.5, dtype=int)
    if y_type == "multilabel-indicator":
        return above
    if y_type == "binary" and len(lb.classes_) == 2:
        return lb.classes_[above.ravel()]
    return lb.inverse_transform(out)
