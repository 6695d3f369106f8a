"""scikit-learn's estimator checks on both estimators, configured as
scikit-learn configures its own MLPs (max_iter=100, and its per-check
parameters for the sample-weight equivalence checks); nothing is skipped."""

import warnings

from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from gainprop import MLPClassifier, MLPRegressor

# scikit-learn's PER_ESTIMATOR_CHECK_PARAMS for its MLPs
_CHECK_PARAMS = {
    MLPClassifier: {"check_sample_weight_equivalence_on_dense_data": dict(solver="lbfgs")},
    MLPRegressor: {
        "check_sample_weight_equivalence_on_dense_data": dict(solver="sgd", tol=1e-2,
                                                              random_state=42)
    },
}


@parametrize_with_checks([MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)])
def test_sklearn_compatible_estimator(estimator, check):
    name = getattr(check, "func", check).__name__
    params = _CHECK_PARAMS[type(estimator)].get(name)
    if params:  # on a copy: the same instance serves every check
        estimator = clone(estimator).set_params(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
