"""Optimizers: per-weight update rules, each one fused loop over the flat
parameter buffer in C.

An optimizer object here is a *specification*: its hyperparameters, with
scikit-learn style ``get_params`` / ``set_params`` so that it can be passed as
``solver=`` to :class:`~gainprop.MLPClassifier`, cloned, and searched by
``GridSearchCV`` (``{"solver__momentum": [...]}``).  The state an optimizer
accumulates while training (velocities, moment estimates, step counter) lives
in the fitted estimator, never in the object the user passed.

The global rate η of every rule is the estimator's ``learning_rate_init``
(after its schedule).

Adding an optimizer means: one ``csrc/optim/<name>.inc`` with its range
function, one entry in the C enum ``gp_optim_kind`` and the driver's switch,
one class here, and one row in the test registry (``tests/optim_reference.py``).
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

__all__ = ["BaseOptimizer", "SGD", "Adam", "get_optimizer"]

# C enum gp_optim_kind (csrc/gainprop.h)
_KIND_SGD = 0
_KIND_ADAM = 1


class _OptimizerState:
    """Training state of an optimizer: what the C step reads and writes.

    Attributes
    ----------
    kind : int
        The C rule (gp_optim_kind).
    hyper : tuple of float
        The rule's hyperparameters in the C order.
    lr : float
        Rate η for the next step.
    slots : list of ndarray
        Flat state arrays, same length and dtype as the parameters.
    slot_names : tuple of str
    step : int
        Steps taken so far.
    prev_loss : float
        Loss before the last step (loss-aware rules).
    """

    def __init__(self, kind, hyper, lr, slot_names, n_params, dtype):
        self.kind = int(kind)
        self.hyper = tuple(float(h) for h in hyper)
        self.lr = float(lr)
        self.slot_names = tuple(slot_names)
        self.slots = [np.zeros(n_params, dtype=dtype) for _ in slot_names]
        self.step = 0
        self.prev_loss = np.inf

    def astype(self, dtype):
        """Cast the slots to dtype (the compute dtype follows X)."""
        self.slots = [np.ascontiguousarray(s, dtype=dtype) for s in self.slots]
        return self

    def state_dict(self):
        """The slots by name (views, not copies)."""
        return dict(zip(self.slot_names, self.slots))

    def copy(self):
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.slots = [s.copy() for s in self.slots]
        return new


class BaseOptimizer(BaseEstimator):
    """Base class of gainprop's optimizers.

    Subclasses declare ``_kind`` (the C rule), ``_slot_names`` (state arrays)
    and ``_hyper()`` (hyperparameters in the order the C rule reads them).
    """

    _kind = None
    _slot_names = ()
    #: Does the rule use the global learning rate η?  (Rprop does not.)
    uses_learning_rate = True
    #: Does the rule adapt on the sign of the full-batch gradient?  The
    #: estimator then defaults to full batches and warns on small ones.
    full_batch = False

    def _hyper(self):
        raise NotImplementedError

    def _slots(self):
        return self._slot_names

    def _validate(self):
        self._validate_params()

    def _make_state(self, n_params, dtype, lr):
        """Fresh training state for a buffer of n_params parameters."""
        self._validate()
        return _OptimizerState(self._kind, self._hyper(), lr, self._slots(), n_params, dtype)


class SGD(BaseOptimizer):
    r"""Stochastic gradient descent with optional classical or Nesterov momentum.

    .. math::

        \text{plain:}\quad & \theta \leftarrow \theta - \eta g \\
        \text{momentum:}\quad & v \leftarrow \mu v - \eta g;\ \theta \leftarrow \theta + v \\
        \text{Nesterov:}\quad & v \leftarrow \mu v - \eta g;\ \theta \leftarrow \theta + \mu v - \eta g

    This is scikit-learn's ``solver='sgd'`` (Rumelhart, Hinton & Williams
    1986; Sutskever et al. 2013 for the Nesterov form), the same C code path.
    A sensible ``learning_rate_init`` is 0.01 to 0.1 with momentum 0.9.

    Parameters
    ----------
    momentum : float, default=0.0
        μ in [0, 1].  0 gives plain SGD (no velocity is kept).
    nesterov : bool, default=False
        Use Nesterov's momentum.

    See Also
    --------
    Adam : adaptive moments.
    """

    _kind = _KIND_SGD
    _parameter_constraints = {
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterov": ["boolean"],
    }

    def __init__(self, momentum=0.0, nesterov=False):
        self.momentum = momentum
        self.nesterov = nesterov

    def _hyper(self):
        return (self.momentum, 1.0 if self.nesterov else 0.0)

    def _slots(self):
        # scikit-learn keeps a velocity even at momentum 0; its update is then
        # exactly θ - η g, which is what the stateless path computes.
        return ("velocity",) if self.momentum > 0 else ()


class Adam(BaseOptimizer):
    r"""Adam: adaptive moment estimation (Kingma & Ba 2015, Algorithm 1).

    .. math::

        m &\leftarrow \beta_1 m + (1 - \beta_1) g \qquad
        v \leftarrow \beta_2 v + (1 - \beta_2) g^2 \\
        \theta &\leftarrow \theta - \eta\, \frac{m / (1 - \beta_1^t)}
                 {\sqrt{v / (1 - \beta_2^t)} + \epsilon}

    With the default ``sklearn_form=False`` this is ``torch.optim.Adam``'s
    form (ε added after the bias-corrected root).  ``solver='adam'`` uses
    scikit-learn's form, which folds the bias corrections into the rate,
    :math:`\eta_t = \eta \sqrt{1-\beta_2^t} / (1-\beta_1^t)`, and adds ε to
    :math:`\sqrt{v}`; the two differ only at ε's scale.  A sensible
    ``learning_rate_init`` is 1e-3.

    Parameters
    ----------
    beta_1 : float, default=0.9
        Decay of the first-moment estimate, in [0, 1).
    beta_2 : float, default=0.999
        Decay of the second-moment estimate, in [0, 1).
    epsilon : float, default=1e-8
        Added to the denominator for numerical stability.
    sklearn_form : bool, default=False
        Use scikit-learn's placement of ε (``solver='adam'``).

    References
    ----------
    Kingma, D. P. and Ba, J. (2015). Adam: A method for stochastic
    optimization. ICLR.
    """

    _kind = _KIND_ADAM
    _slot_names = ("exp_avg", "exp_avg_sq")
    _parameter_constraints = {
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "sklearn_form": ["boolean"],
    }

    def __init__(self, beta_1=0.9, beta_2=0.999, epsilon=1e-8, sklearn_form=False):
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.sklearn_form = sklearn_form

    def _hyper(self):
        return (self.beta_1, self.beta_2, self.epsilon, 1.0 if self.sklearn_form else 0.0)


#: String names accepted by ``solver=`` (besides 'lbfgs'), and their classes.
OPTIMIZERS = {
    "sgd": SGD,
    "adam": Adam,
}


def get_optimizer(solver, estimator=None):
    """The optimizer object for a ``solver`` value.

    Parameters
    ----------
    solver : str or BaseOptimizer
        A name from ``OPTIMIZERS`` or an optimizer object.
    estimator : estimator, optional
        For 'sgd' and 'adam', scikit-learn's ``momentum``,
        ``nesterovs_momentum``, ``beta_1``, ``beta_2`` and ``epsilon`` are
        read from it, exactly as scikit-learn does.

    Returns
    -------
    BaseOptimizer
    """
    if isinstance(solver, BaseOptimizer):
        return solver
    if solver == "sgd" and estimator is not None:
        return SGD(momentum=estimator.momentum, nesterov=estimator.nesterovs_momentum)
    if solver == "adam" and estimator is not None:
        return Adam(
            beta_1=estimator.beta_1,
            beta_2=estimator.beta_2,
            epsilon=estimator.epsilon,
            sklearn_form=True,
        )
    try:
        return OPTIMIZERS[solver]()
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown solver {solver!r}; expected 'lbfgs', one of {sorted(OPTIMIZERS)} "
            "or a gainprop.optimizers optimizer object."
        ) from None
