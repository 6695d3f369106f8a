"""Optimizer objects as ``solver``: which of the estimator's parameters they
take (those left at None), which they do not (a warning names them), and
that the training state holds the resolved settings (searches, pickles)."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from gainprop import MLPClassifier, MLPRegressor
from gainprop.optimizers import (
    SGD,
    AdaGrad,
    Adam,
    AdaMax,
    LocalGain,
    Rprop,
    UnusedParameterWarning,
    get_optimizer,
)
from gainprop.schedules import StepDecay

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _fit(data, **params):
    """A short fit; returns the estimator and the UnusedParameterWarnings it gave."""
    X, y = data
    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0, **params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, y)
    return est, [w for w in caught if issubclass(w.category, UnusedParameterWarning)]


# (object, estimator parameters, the string solver it must train exactly as)
SAME_AS_STRING = [
    (SGD(), dict(learning_rate_init=0.05), "sgd"),  # 'sgd''s momentum 0.9, Nesterov
    (SGD(), dict(momentum=0.5, nesterovs_momentum=False, learning_rate_init=0.05), "sgd"),
    (Adam(sklearn_form=True), dict(beta_1=0.5, beta_2=0.9, epsilon=1e-4), "adam"),
]


@pytest.mark.parametrize("solver,params,string", SAME_AS_STRING,
                         ids=["sgd-defaults", "sgd-momentum", "adam-betas"])
def test_parameters_left_at_none_take_the_estimators(digits_400, solver, params, string):
    # SGD() used to train with momentum 0 whatever the estimator said, and
    # Adam() with its own betas
    obj, warned = _fit(digits_400, solver=solver, **params)
    ref, _ = _fit(digits_400, solver=string, **params)
    assert not warned
    np.testing.assert_array_equal(obj._params, ref._params)
    assert obj._optimizer.rule.get_params() == ref._optimizer.rule.get_params()
    assert obj.solver.get_params() == solver.get_params()  # the user's object is untouched


def test_a_value_set_on_the_object_wins_and_the_estimators_is_named(digits_400):
    est, warned = _fit(digits_400, solver=SGD(momentum=0.0), momentum=0.5, learning_rate_init=0.05)
    ref, _ = _fit(digits_400, solver="sgd", momentum=0.0, learning_rate_init=0.05)
    np.testing.assert_array_equal(est._params, ref._params)
    assert est._optimizer.rule.momentum == 0.0 and est._optimizer.rule.nesterov is True
    assert len(warned) == 1 and "momentum=0.5" in str(warned[0].message)
    assert "SGD(momentum=0.0) sets its own" in str(warned[0].message)
    est, warned = _fit(digits_400, solver=Adam(beta_1=0.8), beta_2=0.99)
    assert (est._optimizer.rule.beta_1, est._optimizer.rule.beta_2) == (0.8, 0.99)
    assert not warned


@pytest.mark.parametrize("solver,params,named", [
    (SGD(), dict(beta_1=0.1), ["beta_1"]),
    (Adam(), dict(momentum=0.5, nesterovs_momentum=False), ["momentum", "nesterovs_momentum"]),
    (Rprop(), dict(learning_rate_init=5.0, learning_rate="adaptive"),
     ["learning_rate_init", "learning_rate"]),
    (Rprop(), dict(learning_rate=StepDecay(), power_t=0.2), ["learning_rate", "power_t"]),
    (LocalGain(), dict(momentum=0.5), ["momentum"]),
    (AdaGrad(), dict(epsilon=1e-3), ["epsilon"]),
    (AdaMax(), dict(beta_1=0.5, beta_2=0.9, epsilon=1e-4), ["beta_1", "beta_2", "epsilon"]),
], ids=["sgd-beta", "adam-momentum", "rprop-rate", "rprop-schedule", "localgain-momentum",
        "adagrad-epsilon", "adamax-betas"])
def test_unused_parameters_give_one_warning_per_fit_naming_them(digits_400, solver, params, named):
    est, warned = _fit(digits_400, solver=solver, **params)
    assert len(warned) == 1
    assert issubclass(warned[0].category, UserWarning)
    message = str(warned[0].message)
    for name in named:
        assert f"{name}=" in message
    # the rule kept its own settings: AdaGrad's and AdaMax's epsilon, LocalGain's momentum
    assert est._optimizer.rule.get_params() == get_optimizer(solver).get_params()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.partial_fit(*digits_400)
    assert sum(issubclass(w.category, UnusedParameterWarning) for w in caught) == 1


@pytest.mark.parametrize("solver,params", [
    (Adam(), dict(learning_rate_init=0.01, learning_rate="invscaling", power_t=0.3)),
    (SGD(), dict(momentum=0.3, nesterovs_momentum=False)),
    (Rprop(eta_plus=1.3), {}),
    ("sgd", dict(beta_1=0.1, epsilon=1e-3)),  # strings stay silent, as scikit-learn's
    ("rprop", dict(learning_rate_init=5.0, momentum=0.1)),
    ("adam", dict(momentum=0.1, learning_rate="adaptive")),
])
def test_no_warning_for_parameters_in_use_or_string_solvers(digits_400, solver, params):
    _, warned = _fit(digits_400, solver=solver, **params)
    assert not warned


def test_grid_search_over_optimizer_objects(digits_400):
    X, y = digits_400
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnusedParameterWarning)
        search = GridSearchCV(
            MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0),
            [{"solver": [Adam()], "solver__beta_1": [0.8, 0.9]},
             {"solver": [Rprop()], "solver__eta_plus": [1.1, 1.2]}],
            cv=2,
        ).fit(X, y)
    assert [(type(p["solver"]), p.get("solver__beta_1", p.get("solver__eta_plus")))
            for p in search.cv_results_["params"]] == [(Adam, 0.8), (Adam, 0.9), (Rprop, 1.1),
                                                       (Rprop, 1.2)]
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    # each candidate trained with its value; the betas it left open are the estimator's
    for params in search.cv_results_["params"]:
        est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
        est.set_params(**params).fit(X, y)
        rule = est._optimizer.rule
        if isinstance(rule, Adam):
            assert (rule.beta_1, rule.beta_2, rule.epsilon) == (
                params["solver__beta_1"], 0.999, 1e-8)
            assert est.solver.beta_2 is None
        else:
            assert rule.eta_plus == params["solver__eta_plus"]
    best = search.best_estimator_._optimizer.rule
    assert None not in best.get_params().values()


def test_state_holds_the_resolved_rule_through_pickle_and_partial_fit(digits_400):
    X, y = digits_400
    est = MLPRegressor(hidden_layer_sizes=(8,), solver=SGD(), momentum=0.4,
                       nesterovs_momentum=False, learning_rate_init=0.01, random_state=0)
    est.partial_fit(X, y)
    assert est._optimizer.rule.get_params() == {"momentum": 0.4, "nesterov": False}
    assert "velocity" in est._optimizer.slots
    back = pickle.loads(pickle.dumps(est))
    assert back._optimizer.rule.get_params() == {"momentum": 0.4, "nesterov": False}
    est.partial_fit(X, y)
    back.partial_fit(X, y)
    np.testing.assert_array_equal(est._params, back._params)
    # a partial_fit after set_params continues with the new settings, resolved
    est.set_params(momentum=0.2).partial_fit(X, y)
    assert est._optimizer.rule.get_params() == {"momentum": 0.2, "nesterov": False}


def test_a_pickled_state_with_an_unresolved_rule_is_refused(digits_400):
    est, _ = _fit(digits_400, solver=Adam())
    est._optimizer.rule = Adam()  # beta_1, beta_2, epsilon None: not what a fit makes
    with pytest.raises(ValueError, match="Corrupted gainprop model.*unset"):
        pickle.loads(pickle.dumps(est))


def test_get_optimizer_without_an_estimator_takes_the_defaults():
    assert get_optimizer("sgd").get_params() == {"momentum": 0.9, "nesterov": True}
    assert get_optimizer(SGD(momentum=0.0)).get_params() == {"momentum": 0.0,
                                                            "nesterov": True}
    adam = get_optimizer(Adam(amsgrad=True))
    assert (adam.beta_1, adam.beta_2, adam.epsilon, adam.amsgrad) == (0.9, 0.999, 1e-8, True)
    rule = Rprop()
    assert get_optimizer(rule) is rule  # nothing to resolve: the object itself
    est = MLPClassifier(momentum=0.2, beta_1=0.3)
    assert get_optimizer("sgd", est).momentum == 0.2
    assert get_optimizer(Adam(), est).beta_1 == 0.3
    with pytest.raises(ValueError, match="momentum"):
        MLPClassifier(solver=SGD(momentum=1.5)).fit(np.zeros((4, 2)), [0, 1, 0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(solver=SGD(momentum=None), max_iter=1).fit(np.zeros((4, 2)), [0, 1, 0, 1])
