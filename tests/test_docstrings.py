"""Every public object gainprop defines passes numpydoc's docstring validation.

The objects: every name in the ``__all__`` of gainprop's public modules that is
a class or a function, and the public methods and properties those classes
define in gainprop (not the ones inherited from scikit-learn).  Constants
(``OPTIMIZERS``, ``STOP_REASONS``, ``EXPERIMENTS``, ``MIN_OPSET``) are
documented by their ``#:`` comments, which numpydoc does not read.
"""

import importlib
import inspect

import pytest

validate = pytest.importorskip("numpydoc.validate").validate

#: The numpydoc checks every docstring must pass (numpydoc.validate.ERROR_MSGS).
CHECKS = {
    "GL03": "double line break found",
    "GL05": "tabs used for indentation",
    "GL06": "unknown section",
    "GL07": "sections in the wrong order",
    "GL08": "the object has no docstring",
    "GL10": "a reST directive without its double colon",
    "SS01": "no summary",
    "SS02": "the summary does not start with a capital letter",
    "SS03": "the summary does not end with a period",
    "SS04": "the summary has leading whitespace",
    "SS06": "the summary does not fit on one line",
    "PR01": "a parameter of the signature is not documented",
    "PR02": "a documented parameter is not in the signature",
    "PR03": "the parameters are documented in another order",
    "PR04": "a parameter has no type",
    "PR05": "a parameter's type ends with a period",
    "PR06": "a type says 'integer', 'boolean' or 'string'",
    "PR07": "a parameter has no description",
    "PR08": "a parameter's description does not start with a capital letter",
    "PR09": "a parameter's description does not end with a period",
    "PR10": "a parameter's colon lacks its spaces",
    "RT01": "a function that returns a value has no Returns section",
    "RT03": "a returned value has no description",
    "RT04": "a return value's description does not start with a capital letter",
    "RT05": "a return value's description does not end with a period",
    "YD01": "a generator has no Yields section",
    "SA04": "a See Also entry has no description",
}

PUBLIC_MODULES = ["gainprop", "gainprop.optimizers", "gainprop.schedules", "gainprop.callbacks",
                  "gainprop.plotting", "gainprop.model_selection", "gainprop.datasets",
                  "gainprop.preprocessing", "gainprop.experiments"]


def _public_objects():
    """Import paths of gainprop's public classes and functions, and of the
    public methods and properties its classes define themselves."""
    modules = list(PUBLIC_MODULES)
    if importlib.util.find_spec("skl2onnx") is not None:
        modules.append("gainprop.onnx")
    paths = []
    for module_name in modules:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue  # constants
            path = f"{module_name}.{name}"
            paths.append(path)
            if inspect.isclass(obj):
                paths += [f"{path}.{member}" for member in _own_members(obj)]
    return paths


def _own_members(cls):
    """Public methods and properties of cls defined by a gainprop class."""
    names = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("gainprop"):
            continue
        for member, value in vars(klass).items():
            if member.startswith("_") or member.startswith("set_") and member.endswith(
                    "_request"):
                continue  # private, or scikit-learn's generated metadata-routing setters
            # functions, properties, classmethods and scikit-learn's
            # available_if descriptors (partial_fit); not plain class constants
            if inspect.isfunction(value) or hasattr(type(value), "__get__"):
                names.add(member)
    return sorted(names)


OBJECTS = _public_objects()


def test_every_kind_of_public_object_is_checked():
    # the enumeration finds the estimators' own methods, optimizers, schedules,
    # callbacks and the rest (a broken enumeration would check nothing)
    for path in ("gainprop.MLPClassifier.fit", "gainprop.MLPClassifier.predict_proba",
                 "gainprop.MLPRegressor.partial_fit", "gainprop.optimizers.Rprop.minibatch",
                 "gainprop.schedules.BaseSchedule.rate_sequence",
                 "gainprop.callbacks.ProgressBar.on_epoch_end",
                 "gainprop.model_selection.LearningRateSweepResult.final_loss",
                 "gainprop.preprocessing.ZCAWhitener.transform", "gainprop.show_config",
                 "gainprop.plotting.log_axis", "gainprop.datasets.load_letters",
                 "gainprop.experiments.demo"):
        assert path in OBJECTS
    # scikit-learn's own methods are scikit-learn's to document
    assert "gainprop.MLPClassifier.get_params" not in OBJECTS
    assert "gainprop.MLPClassifier.score" not in OBJECTS
    assert "gainprop.MLPClassifier.set_fit_request" not in OBJECTS


@pytest.mark.parametrize("path", OBJECTS)
def test_docstring(path):
    result = validate(path)
    errors = [f"{code}: {message}" for code, message in result["errors"] if code in CHECKS]
    assert not errors, f"{path}:\n" + "\n".join(errors)


def test_solver_type_lists_every_solver_name():
    from gainprop import MLPClassifier, MLPRegressor
    from gainprop.optimizers import OPTIMIZERS

    for cls in (MLPClassifier, MLPRegressor):
        line = next(line for line in cls.__doc__.splitlines()
                    if line.strip().startswith("solver : "))
        for name in ["lbfgs", *OPTIMIZERS]:
            assert f"'{name}'" in line, (cls.__name__, name)
        assert "BaseOptimizer" in line


def test_regressor_documents_each_of_its_parameters():
    from gainprop import MLPRegressor

    params = inspect.signature(MLPRegressor).parameters
    for name in params:
        assert f"\n    {name} : " in MLPRegressor.__doc__, name
    assert "As in" not in MLPRegressor.__doc__ and "class_weight" not in MLPRegressor.__doc__
