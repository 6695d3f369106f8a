"""The base of gainprop's estimators, optimizers and schedules."""

from sklearn.base import BaseEstimator


class Estimator(BaseEstimator):
    """scikit-learn's BaseEstimator, reading each class's parameter names once.

    ``get_params``, ``set_params`` and ``clone`` read the names from the
    signature of ``__init__`` (``inspect.signature``) at every call; a fit
    makes about a dozen such calls (its optimizer and schedule are estimators
    too), 2 ms of a small fit.  The names are fixed by the class: they are
    read once per class and kept in the class's own dictionary (a subclass
    reads its own).
    """

    @classmethod
    def _get_param_names(cls):
        names = cls.__dict__.get("_gainprop_param_names")
        if names is None:
            names = tuple(super()._get_param_names())
            setattr(cls, "_gainprop_param_names", names)
        return list(names)
