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

Where the estimator has a parameter of the same meaning, an optimizer's
parameter defaults to None and then takes the estimator's value:
``SGD(momentum, nesterov)`` the estimator's ``momentum`` and
``nesterovs_momentum``, ``Adam(beta_1, beta_2, epsilon)`` its ``beta_1``,
``beta_2`` and ``epsilon`` (so ``solver=SGD()`` trains as ``solver='sgd'``
does); a value set on the object wins.  The other rules keep their own
published defaults.  With an optimizer object as ``solver``, an estimator
parameter that the rule does not use, set away from its default, gives an
:class:`UnusedParameterWarning` naming it.

Adding an optimizer means: one ``csrc/optim/<name>.inc`` with its range
function, one entry in the C enum ``gp_optim_kind`` and the driver's switch,
one class here, and one row in the test registry (``tests/optim_reference.py``).
"""

from numbers import Real

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import Interval, StrOptions

from . import _core
from ._base import Estimator

__all__ = [
    "BaseOptimizer",
    "UnusedParameterWarning",
    "SGD",
    "Adam",
    "LocalGain",
    "Rprop",
    "AdaGrad",
    "Adadelta",
    "RMSprop",
    "AdaMax",
    "OPTIMIZERS",
    "get_optimizer",
]

_KIND = _core.gp_optim_kind
_VARIANT = _core.gp_rprop_variant


class _OptimizerState:
    """Training state of an optimizer: what the C step reads and writes.

    The state owns its arrays; the rule's settings come from ``rule``, the
    optimizer object (a private copy) it was made for, so the C rule, its
    hyperparameters and the slots it reads are always derived from one
    place.

    Attributes
    ----------
    rule : BaseOptimizer
        The optimizer (settings only).
    dtype : numpy dtype
        dtype of the parameters and slots.
    lr : float
        Rate η for the next step.
    slots : dict of str to ndarray
        Flat state arrays by name (the C rule's slot names), same length and
        dtype as the parameters.
    step : int
        Steps taken so far.
    prev_loss : float
        Loss before the last step (loss-aware rules).
    """

    def __init__(self, rule, n_params, dtype, lr, init):
        self.rule = rule
        self._dtype = np.dtype(dtype).name  # a name pickles as a str (skops trusts it)
        self.lr = float(lr)
        # Zeros come from calloc: the pages are zeroed when first touched (by
        # the first step), not written once here and again there
        self.slots = {name: (np.zeros(n_params, dtype=dtype) if np.ndim(init.get(name, 0.0)) == 0
                             and init.get(name, 0.0) == 0
                             else np.full(n_params, init[name], dtype=dtype))
                      for name in rule._slots()}
        self.step = 0
        self.prev_loss = np.inf

    @property
    def dtype(self):
        return np.dtype(self._dtype)

    @property
    def kind(self):
        """The C rule (a ``gp_optim_kind``)."""
        return self.rule._kind

    @property
    def hyper(self):
        """The rule's hyperparameters by their C names, for this dtype."""
        return self.rule._c_hyper(self.dtype)

    def matches(self, rule):
        """Can this state continue training with `rule` (same C rule, same
        slots)?"""
        return self.kind == rule._kind and set(self.slots) == set(rule._slots())

    def continued(self, rule):
        """This state, continued with `rule`'s settings (a new object sharing
        the arrays; rule must match)."""
        new = _OptimizerState.__new__(_OptimizerState)
        vars(new).update(vars(self))
        new.rule = clone(rule)
        return new

    def astype(self, dtype):
        """A copy of this state in dtype (the compute dtype follows X), with
        arrays of its own."""
        new = _OptimizerState.__new__(_OptimizerState)
        vars(new).update(vars(self))
        new._dtype = np.dtype(dtype).name
        new.slots = {n: s.astype(dtype) for n, s in self.slots.items()}
        return new

    def writable(self):
        """Can the C step write every slot (a model loaded from a read-only
        memory map cannot)?"""
        return all(s.flags.writeable for s in self.slots.values())

    def state_dict(self):
        """The slots by name (views, not copies)."""
        return dict(self.slots)

    def check(self, n_params, dtype):
        """Raise ValueError unless this state is one its rule makes for a
        buffer of n_params values of dtype: a valid rule, exactly its slots,
        each finite, contiguous and of the right length and dtype, and a
        finite rate and a step count."""
        rule = self.rule
        if not isinstance(rule, BaseOptimizer) or type(rule)._kind is None:
            raise ValueError(f"the optimizer state's rule is not a gainprop optimizer: {rule!r}")
        rule._validate()
        unset = [name for name in rule._from_estimator if getattr(rule, name) is None]
        if unset:
            raise ValueError(f"the optimizer state's rule leaves {unset} unset (a state holds "
                             "its rule with every parameter resolved)")
        if not isinstance(self._dtype, str) or self.dtype != np.dtype(dtype):
            raise ValueError(f"the optimizer state is {self.dtype}, the parameters {dtype}")
        if not isinstance(self.slots, dict) or set(self.slots) != set(rule._slots()):
            raise ValueError(f"{type(rule).__name__} keeps the slots {sorted(rule._slots())}, "
                             f"the state has {sorted(getattr(self.slots, 'keys', list)())}")
        for name, slot in self.slots.items():
            if (not isinstance(slot, np.ndarray) or slot.dtype != self.dtype
                    or slot.shape != (n_params,) or not slot.flags.c_contiguous
                    or not np.isfinite(slot).all()):
                raise ValueError(f"the optimizer slot {name!r} must be a finite, contiguous "
                                 f"{self.dtype} array of {n_params} values")
        if (not isinstance(self.step, (int, np.integer)) or isinstance(self.step, bool)
                or self.step < 0 or not isinstance(self.lr, float) or not np.isfinite(self.lr)
                or not isinstance(self.prev_loss, float) or np.isnan(self.prev_loss)):
            raise ValueError("the optimizer state's step, rate or previous loss is malformed")

    def save(self, into=None):
        """What restore() needs to bring this state back.  `into`, an earlier
        save of a state of the same shapes, is reused: its arrays are
        overwritten, so that a save per epoch allocates nothing."""
        saved = into if isinstance(into, _SavedState) else _SavedState()
        saved.step, saved.prev_loss, saved.lr = self.step, self.prev_loss, self.lr
        if self.step == 0 and all(_uniform(a) for a in self.slots.values()):
            # a state that has taken no step holds its starting values, most
            # often one value per slot: keep those, not a copy (in a fit of one
            # epoch the copy would be all it costs; the check reads each slot
            # once and allocates nothing)
            saved.fills = {n: a[0] for n, a in self.slots.items()}
        else:
            saved.fills = None
            saved.arrays = {n: _copy_into(saved.arrays.get(n), a) for n, a in self.slots.items()}
        return saved

    def restore(self, saved):
        """Put back the state save() returned."""
        self.step, self.prev_loss, self.lr = saved.step, saved.prev_loss, saved.lr
        for name, slot in self.slots.items():
            if saved.fills is not None:
                slot.fill(saved.fills[name])
            else:
                np.copyto(slot, saved.arrays[name])


class _SavedState:
    """A saved optimizer state (see _OptimizerState.save)."""

    def __init__(self):
        self.arrays = {}
        self.fills = None


def _uniform(a):
    """Is every element of a equal (and not NaN)?"""
    return a.size > 0 and bool(a.min() == a.max())


def _copy_into(dst, src):
    """src copied into dst when dst has its shape and dtype, else a new copy."""
    if dst is None or dst.shape != src.shape or dst.dtype != src.dtype:
        return src.copy()
    np.copyto(dst, src)
    return dst


class UnusedParameterWarning(UserWarning):
    """Warn that an estimator parameter has no effect with its solver.

    The parameter was set away from its default, and the optimizer object
    passed as ``solver`` does not use it (it has no use for it, or sets its
    own value).
    """


#: The estimator's parameters that set up scikit-learn's rules ('sgd',
#: 'adam'), and those of the global learning rate η and its schedule.
_ESTIMATOR_RULE_PARAMETERS = ("momentum", "nesterovs_momentum", "beta_1", "beta_2", "epsilon")
_ESTIMATOR_RATE_PARAMETERS = ("learning_rate_init", "learning_rate", "power_t")


class BaseOptimizer(Estimator):
    """Base class of gainprop's optimizers.

    Subclasses declare ``_kind`` (the C rule, a ``gp_optim_kind``),
    ``_slot_names`` or ``_slots()`` (the names of the state arrays the rule
    keeps with these settings: its C slot names), ``_slot_init()`` (starting
    values other than 0), ``_hyper()`` (hyperparameters by their names in
    the rule's C struct) and ``_from_estimator`` (the parameters that take
    the estimator's value when left at None).
    """

    _kind = None
    _slot_names = ()
    #: {parameter: the estimator's parameter of the same meaning}: left at
    #: None, the parameter takes the estimator's value (see `_resolved`).
    _from_estimator = {}
    #: Does the rule use the global learning rate η?  (Rprop does not.)
    uses_learning_rate = True
    #: Does the rule adapt on the sign of the full-batch gradient?  The
    #: estimator then defaults to full batches (batch_size='auto') and warns
    #: when an explicit batch is smaller than ``min_batch_size`` (Hinton's
    #: advice for local gains: not for online training or small batches;
    #: Kordecki's lecture on back-propagation: mini-batches break Rprop's sign
    #: test).
    full_batch = False
    min_batch_size = 1
    #: State slot holding per-weight rates, summarised per epoch in the
    #: estimator's ``rate_stats_`` (LocalGain's gains, Rprop's step sizes).
    _rate_slot = None
    #: Names in ``_hyper()`` of small positive guards (ε): in float32 a value
    #: below the smallest normal number is raised to it (it would otherwise
    #: underflow to 0 and a division could blow up).
    _epsilon_names = ()

    def _hyper(self):
        raise NotImplementedError

    def _c_hyper(self, dtype):
        """``_hyper()`` as the C rule reads it for parameters of dtype."""
        hyper = dict(self._hyper())
        if np.dtype(dtype) == np.float32:
            tiny = float(np.finfo(np.float32).tiny)
            for name in self._epsilon_names:
                if 0 < hyper[name] < tiny:
                    hyper[name] = tiny
        return hyper

    def _slots(self):
        return self._slot_names

    def _slot_init(self):
        return {}

    def _validate(self):
        self._validate_params()

    def _resolved(self, estimator=None):
        """These settings with every parameter of ``_from_estimator`` that is
        None set to the estimator's value (without an estimator: the value of
        a default MLPClassifier).  Self when nothing is None, else a copy."""
        unset = [name for name in self._from_estimator if getattr(self, name) is None]
        if not unset:
            return self
        if estimator is None:
            from ._multilayer_perceptron import MLPClassifier

            estimator = MLPClassifier()
        return clone(self).set_params(
            **{name: getattr(estimator, self._from_estimator[name]) for name in unset})

    def _unused_estimator_parameters(self, estimator, defaults):
        """[(name, value, hint)] for the estimator's rule and rate parameters
        that these settings (as the user gave them, before `_resolved`) do
        not take and that differ from `defaults`: those the rule has no use
        for, and those it takes but sets itself."""
        name = type(self).__name__
        own = self.get_params(deep=False)
        taken = {theirs: mine for mine, theirs in self._from_estimator.items()}
        candidates = _ESTIMATOR_RULE_PARAMETERS + (
            () if self.uses_learning_rate else _ESTIMATOR_RATE_PARAMETERS)
        unused = []
        for param in candidates:
            value = getattr(estimator, param)
            if _same(value, defaults[param]):
                continue
            if param in taken:
                if own[taken[param]] is None:
                    continue  # the rule takes this value
                hint = f"{name}({taken[param]}={own[taken[param]]!r}) sets its own"
            elif param in _ESTIMATOR_RATE_PARAMETERS:
                hint = f"{name} does not use the learning rate"
            elif param in own:
                hint = f"{name} keeps its own; set {name}({param}=...)"
            else:
                hint = f"{name} has no such parameter"
            unused.append((param, value, hint))
        return unused

    def _make_state(self, n_params, dtype, lr):
        """Fresh training state for a buffer of n_params parameters (it keeps
        a copy of this optimizer's settings, resolved: see `_resolved`)."""
        rule = self._resolved()
        rule._validate()
        return _OptimizerState(clone(rule), n_params, dtype, lr, rule._slot_init())


class SGD(BaseOptimizer):
    r"""Stochastic gradient descent with optional classical or Nesterov momentum.

    .. math::

        \text{plain:}\quad & \theta \leftarrow \theta - \eta g \\
        \text{momentum:}\quad & v \leftarrow \mu v - \eta g;\ \theta \leftarrow \theta + v \\
        \text{Nesterov:}\quad & v \leftarrow \mu v - \eta g;\ \theta \leftarrow \theta + \mu v - \eta g

    This is scikit-learn's ``solver='sgd'`` (Rumelhart, Hinton & Williams
    1986; Sutskever et al. 2013 for the Nesterov form), the same C code path:
    left at None, its parameters take the estimator's ``momentum`` (0.9 by
    default) and ``nesterovs_momentum`` (True), so that ``SGD()`` trains as
    ``'sgd'`` does.  A sensible ``learning_rate_init`` is 0.01 to 0.1 with
    momentum 0.9.

    Parameters
    ----------
    momentum : float or None, default=None
        The momentum μ, in [0, 1].  0 gives plain SGD (no velocity is kept).  None: the
        estimator's ``momentum``.
    nesterov : bool or None, default=None
        Use Nesterov's momentum.  None: the estimator's
        ``nesterovs_momentum``.

    See Also
    --------
    Adam : adaptive moments.

    Examples
    --------
    >>> from gainprop import MLPClassifier
    >>> from gainprop.optimizers import SGD
    >>> plain = MLPClassifier(solver=SGD(momentum=0.0))  # plain gradient descent
    >>> same_as_sgd = MLPClassifier(solver=SGD(), momentum=0.5)  # as solver='sgd'
    """

    _kind = _KIND.GP_OPT_SGD
    _from_estimator = {"momentum": "momentum", "nesterov": "nesterovs_momentum"}
    _parameter_constraints = {
        "momentum": [None, Interval(Real, 0, 1, closed="both")],
        "nesterov": [None, "boolean"],
    }

    def __init__(self, momentum=None, nesterov=None):
        self.momentum = momentum
        self.nesterov = nesterov

    def _hyper(self):
        return {"momentum": self.momentum, "nesterov": int(bool(self.nesterov))}

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
    :math:`\sqrt{v}`; the two differ only at ε's scale.  Left at None,
    ``beta_1``, ``beta_2`` and ``epsilon`` take the estimator's parameters of
    the same names (0.9, 0.999 and 1e-8 by default, the paper's and torch's
    values).  A sensible ``learning_rate_init`` is 1e-3.

    Parameters
    ----------
    beta_1 : float or None, default=None
        Decay of the first-moment estimate, in [0, 1).  None: the
        estimator's ``beta_1``.
    beta_2 : float or None, default=None
        Decay of the second-moment estimate, in [0, 1).  None: the
        estimator's ``beta_2``.
    epsilon : float or None, default=None
        Added to the denominator for numerical stability.  None: the
        estimator's ``epsilon``.
    amsgrad : bool, default=False
        Use the running maximum of v (Reddi et al. 2018), as torch.
    sklearn_form : bool, default=False
        Use scikit-learn's placement of ε (``solver='adam'``).

    References
    ----------
    Kingma, D. P. and Ba, J. (2015). Adam: A method for stochastic
    optimization. ICLR.
    """

    _kind = _KIND.GP_OPT_ADAM
    _epsilon_names = ("epsilon",)
    _from_estimator = {"beta_1": "beta_1", "beta_2": "beta_2", "epsilon": "epsilon"}
    _parameter_constraints = {
        "beta_1": [None, Interval(Real, 0, 1, closed="left")],
        "beta_2": [None, Interval(Real, 0, 1, closed="left")],
        "epsilon": [None, Interval(Real, 0, None, closed="neither")],
        "amsgrad": ["boolean"],
        "sklearn_form": ["boolean"],
    }

    def __init__(self, beta_1=None, beta_2=None, epsilon=None, amsgrad=False,
                 sklearn_form=False):
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        self.sklearn_form = sklearn_form

    def _validate(self):
        super()._validate()
        if self.amsgrad and self.sklearn_form:
            raise ValueError("Adam: amsgrad is only available in torch's form "
                             "(sklearn_form=False).")

    def _slots(self):
        # amsgrad is the presence of max_exp_avg_sq (the C rule reads no flag)
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.amsgrad else ())

    def _hyper(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "sklearn_form": int(bool(self.sklearn_form))}


class LocalGain(BaseOptimizer):
    r"""Per-weight local gains that grow while a weight's gradient keeps its sign.

    Hinton's local gains (Neural Networks for Machine Learning, lecture 6d)
    and, with ``smoothing`` > 0, Jacobs' delta-bar-delta (1988):

    .. math::

        p_i &= g_i(t)\,\bar g_i(t-1) \\
        \gamma_i &\leftarrow \begin{cases} \gamma_i + b & p_i > 0 \\
                    \gamma_i \cdot p & p_i < 0 \\ \gamma_i & p_i = 0 \end{cases},
        \quad \gamma_i \leftarrow \operatorname{clip}(\gamma_i, \gamma_{min}, \gamma_{max}) \\
        \theta_i &\leftarrow \theta_i - \eta\, \gamma_i\, g_i

    Gains start at 1.  With ``smoothing`` s > 0 the sign test compares with
    a smoothed gradient :math:`\bar g(t) = (1-s) g(t) + s \bar g(t-1)`
    (Jacobs' delta-bar-delta); s = 0 is Hinton's rule (:math:`\bar g = g`).
    With ``momentum`` μ > 0: :math:`v \leftarrow \mu v - \eta \gamma g;\ \theta
    \leftarrow \theta + v`.  ``bonus + penalty = 1`` makes an oscillating gain
    drift back to 1.

    The sign test needs a reliable gradient: the estimator trains full batch
    by default with this optimizer and warns on mini-batches smaller than
    1000 (Hinton: not for online learning or small batches).  The gains are
    an addition to a well-chosen global rate, not a substitute for one: the
    letter experiments (``python -m gainprop experiment local-gains``) show
    them helping at a small global rate and making oscillation worse at a
    large one.  ``rate_stats_`` on the fitted estimator summarises the gains
    per epoch.

    Parameters
    ----------
    bonus : float, default=0.05
        Additive increase b of a gain whose gradient kept its sign, >= 0.
    penalty : float, default=0.95
        Multiplicative decrease p of a gain whose gradient flipped, in (0, 1].
    gain_limits : (float, float), default=(0.1, 10.0)
        Bounds (γmin, γmax) of the gains, with 0 < γmin <= 1 <= γmax (Hinton:
        bound them).
    smoothing : float, default=0.0
        Smoothing s of the gradient the sign test compares with, in [0, 1):
        0 is Hinton's rule, > 0 Jacobs' delta-bar-delta.
    momentum : float, default=0.0
        Momentum μ, in [0, 1); 0 keeps no velocity.

    See Also
    --------
    Rprop : Sign-based per-weight step sizes that ignore the gradient's size.

    References
    ----------
    G. Hinton, N. Srivastava and K. Swersky, "Neural Networks for Machine
    Learning", lecture 6d, Coursera, 2012.

    R. A. Jacobs, "Increased rates of convergence through learning rate
    adaptation", Neural Networks 1(4), 1988.

    Examples
    --------
    >>> from gainprop import MLPClassifier
    >>> from gainprop.optimizers import LocalGain
    >>> clf = MLPClassifier(solver=LocalGain(bonus=0.05, penalty=0.95),
    ...                     activation="logistic", learning_rate_init=0.5)
    """

    _kind = _KIND.GP_OPT_LOCALGAIN
    full_batch = True
    min_batch_size = 1000
    _rate_slot = "gain"
    _parameter_constraints = {
        "bonus": [Interval(Real, 0, None, closed="left")],
        "penalty": [Interval(Real, 0, 1, closed="right")],
        "gain_limits": [tuple, list],
        "smoothing": [Interval(Real, 0, 1, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
    }

    def __init__(self, bonus=0.05, penalty=0.95, gain_limits=(0.1, 10.0), smoothing=0.0,
                 momentum=0.0):
        self.bonus = bonus
        self.penalty = penalty
        self.gain_limits = gain_limits
        self.smoothing = smoothing
        self.momentum = momentum

    def _validate(self):
        super()._validate()
        lo, hi = _pair(self.gain_limits, "gain_limits")
        if not 0 < lo <= 1 <= hi:
            raise ValueError(f"LocalGain: gain_limits must satisfy 0 < low <= 1 <= high (gains "
                             f"start at 1), got {self.gain_limits!r}.")

    def _slots(self):
        return ("gain", "prev_grad") + (("velocity",) if self.momentum > 0 else ())

    def _slot_init(self):
        return {"gain": 1.0}

    def _hyper(self):
        lo, hi = self.gain_limits
        return {"bonus": self.bonus, "penalty": self.penalty, "gain_min": lo, "gain_max": hi,
                "smoothing": self.smoothing, "momentum": self.momentum}


_RPROP_VARIANTS = {"rprop+": _VARIANT.GP_RPROP_PLUS, "rprop-": _VARIANT.GP_RPROP_MINUS,
                   "irprop+": _VARIANT.GP_IRPROP_PLUS, "irprop-": _VARIANT.GP_IRPROP_MINUS,
                   "minibatch-irprop-": _VARIANT.GP_RPROP_MINIBATCH}


class Rprop(BaseOptimizer):
    r"""Resilient back-propagation: per-weight steps adapted on the gradient's sign.

    Rprop (Riedmiller & Braun 1993) and its variants (Igel & Hüsken 2000),
    and the bounded mini-batch iRprop− of Ndauka & Zheng.  **It ignores the
    learning rate** (``learning_rate_init`` and any schedule): the step
    sizes Δ are the rates.  With :math:`c_i = g_i(t)\, g_i^{stored}(t-1)`:

    .. math::

        \Delta_i \leftarrow \operatorname{clip}(\Delta_i \cdot
        \{\eta^+ \text{ if } c_i > 0;\ \eta^- \text{ if } c_i < 0;\ 1\},\
        \Delta_{min}, \Delta_{max})

    When the sign did not change (c ≥ 0) every variant steps
    :math:`\theta_i \leftarrow \theta_i - \operatorname{sign}(g_i)\Delta_i` and
    stores g; they differ on a sign change (c < 0), see ``variant``.

    Rprop was designed for full batches: the sign of a small mini-batch's
    gradient is noisy, and the step sizes then shrink or grow at random
    (Andrzej Kordecki, "Neural Networks: Back-Propagation algorithm",
    lecture 06, Warsaw University of Technology).  The estimator therefore
    trains full batch by default with this optimizer and warns on
    mini-batches smaller than 1000 (250 for ``'minibatch-irprop-'``, meant
    for batches of 250 to 2000).  ``rate_stats_`` on the fitted estimator
    summarises the step sizes per epoch.

    Parameters
    ----------
    variant : {'irprop-', 'irprop+', 'rprop+', 'rprop-', 'minibatch-irprop-'}, default='irprop-'
        What a weight does when its gradient changed sign (c < 0):

        - ``'rprop+'`` (Riedmiller & Braun 1993): undo its previous step
          (weight backtracking) and store 0 as its gradient;
        - ``'rprop-'``: step :math:`-\operatorname{sign}(g)\Delta` with the
          decreased Δ, as on any other step, and store g;
        - ``'irprop+'`` (Igel & Hüsken 2000): as ``'rprop+'``, but undo the
          step only if the loss rose;
        - ``'irprop-'`` (Igel & Hüsken 2000; ``torch.optim.Rprop``): no step,
          store 0;
        - ``'minibatch-irprop-'`` (Ndauka & Zheng): step with the decreased Δ
          and store 0, so that a weight keeps moving on noisy mini-batch
          signs.

        :meth:`minibatch` gives the last with the paper's settings.
    eta_plus : float, default=1.2
        Increase factor η⁺ of Δ when the sign is kept, > 1.
    eta_minus : float, default=0.5
        Decrease factor η⁻ of Δ when the sign changes, in (0, 1).
    step_init : float, default=0.1
        Starting step size Δ0 of every weight (Riedmiller's value; torch uses
        its lr, 0.01).
    step_min : float, default=1e-6
        Lower bound Δmin of the step sizes.
    step_max : float, default=50.0
        Upper bound Δmax of the step sizes.

    See Also
    --------
    LocalGain : Per-weight gains that multiply the gradient step.

    References
    ----------
    M. Riedmiller and H. Braun, "A direct adaptive method for faster
    backpropagation learning: the RPROP algorithm", IEEE International
    Conference on Neural Networks, 1993.

    C. Igel and M. Hüsken, "Improving the Rprop learning algorithm", Second
    International Symposium on Neural Computation, 2000.

    J. K. Ndauka and Zheng Xiao Yan, "Effect of Local Dynamic Learning Rate
    Adaptation on Mini-Batch Gradient Descent for Training Deep Learning
    Models with Back Propagation Algorithm".

    Examples
    --------
    >>> from gainprop import MLPClassifier
    >>> from gainprop.optimizers import Rprop
    >>> Rprop.minibatch()  # Ndauka & Zheng's bounded mini-batch iRprop-
    Rprop(step_init=0.001, step_max=0.006, step_min=0.001, variant='minibatch-irprop-')
    >>> clf = MLPClassifier(solver=Rprop(), hidden_layer_sizes=(32,))  # full batch
    """

    _kind = _KIND.GP_OPT_RPROP
    full_batch = True
    uses_learning_rate = False
    _rate_slot = "step_size"
    _parameter_constraints = {
        "variant": [StrOptions(set(_RPROP_VARIANTS))],
        "eta_plus": [Interval(Real, 1, None, closed="neither")],
        "eta_minus": [Interval(Real, 0, 1, closed="neither")],
        "step_init": [Interval(Real, 0, None, closed="neither")],
        "step_min": [Interval(Real, 0, None, closed="left")],
        "step_max": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, variant="irprop-", eta_plus=1.2, eta_minus=0.5, step_init=0.1,
                 step_min=1e-6, step_max=50.0):
        self.variant = variant
        self.eta_plus = eta_plus
        self.eta_minus = eta_minus
        self.step_init = step_init
        self.step_min = step_min
        self.step_max = step_max

    @classmethod
    def minibatch(cls):
        """Ndauka & Zheng's bounded mini-batch iRprop− with the paper's settings.

        η⁺ = 1.2, η⁻ = 0.5, Δ in [0.001, 0.006] and Δ0 = Δmin ("a small
        value"); the paper trains with mini-batches of 250 to 2000 and stops
        once the training loss is below 0.01 (``target_loss=0.01``).

        Returns
        -------
        Rprop
            ``Rprop(variant='minibatch-irprop-', eta_plus=1.2, eta_minus=0.5,
            step_init=0.001, step_min=0.001, step_max=0.006)``.
        """
        return cls(variant="minibatch-irprop-", eta_plus=1.2, eta_minus=0.5, step_init=0.001,
                   step_min=0.001, step_max=0.006)

    @property
    def min_batch_size(self):
        """Smallest batch without a warning: 250 for 'minibatch-irprop-', else 1000."""
        # Ndauka & Zheng ran their variant on batches of 250 to 2000
        return 250 if self.variant == "minibatch-irprop-" else 1000

    def _validate(self):
        super()._validate()
        if not self.step_min <= self.step_init <= self.step_max:
            raise ValueError(
                "Rprop: need step_min <= step_init <= step_max, got "
                f"{self.step_min}, {self.step_init}, {self.step_max}."
            )

    def _slots(self):
        plus = self.variant in ("rprop+", "irprop+")
        return ("step_size", "prev") + (("prev_delta",) if plus else ())

    def _slot_init(self):
        return {"step_size": self.step_init}

    def _hyper(self):
        return {"eta_plus": self.eta_plus, "eta_minus": self.eta_minus,
                "step_min": self.step_min, "step_max": self.step_max,
                "variant": int(_RPROP_VARIANTS[self.variant])}


class AdaGrad(BaseOptimizer):
    r"""AdaGrad: per-weight rates scaled by the root of the summed squared gradients.

    Duchi, Hazan & Singer (2011), as ``torch.optim.Adagrad``:

    .. math::

        G \leftarrow G + g^2, \qquad
        \theta \leftarrow \theta - \eta\, g / (\sqrt{G} + \epsilon)

    ε is added to √G (torch's placement); the form η / √(ε + G) found in
    some lecture notes differs only at ε's scale.  A sensible
    ``learning_rate_init`` is 0.01.

    Parameters
    ----------
    epsilon : float, default=1e-10
        Added to √G for numerical stability, > 0.
    initial_accumulator : float, default=0.0
        Starting value of G for every weight, >= 0.

    See Also
    --------
    RMSprop : Replaces the sum by a moving average.

    References
    ----------
    J. Duchi, E. Hazan and Y. Singer, "Adaptive subgradient methods for
    online learning and stochastic optimization", JMLR 12, 2011.

    Examples
    --------
    >>> from gainprop import MLPClassifier
    >>> from gainprop.optimizers import AdaGrad
    >>> clf = MLPClassifier(solver=AdaGrad(), learning_rate_init=0.01)
    """

    _kind = _KIND.GP_OPT_ADAGRAD
    _slot_names = ("sum",)
    _epsilon_names = ("epsilon",)
    _parameter_constraints = {
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "initial_accumulator": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, epsilon=1e-10, initial_accumulator=0.0):
        self.epsilon = epsilon
        self.initial_accumulator = initial_accumulator

    def _slot_init(self):
        return {"sum": self.initial_accumulator}

    def _hyper(self):
        return {"epsilon": self.epsilon}


class Adadelta(BaseOptimizer):
    r"""Adadelta: step sizes from running averages of squared gradients and steps.

    Zeiler (2012), as ``torch.optim.Adadelta``:

    .. math::

        E[g^2] &\leftarrow \rho E[g^2] + (1-\rho) g^2 \\
        d &\leftarrow \frac{\sqrt{E[\Delta^2] + \epsilon}}{\sqrt{E[g^2] + \epsilon}}\, g,
        \quad E[\Delta^2] \leftarrow \rho E[\Delta^2] + (1-\rho) d^2,
        \quad \theta \leftarrow \theta - \eta d

    Zeiler's rule needs no learning rate: use ``learning_rate_init=1.0``
    (torch's default).

    Parameters
    ----------
    rho : float, default=0.9
        Decay ρ of both running averages, in [0, 1] (torch's default; Zeiler's
        paper used 0.95).
    epsilon : float, default=1e-6
        Added under both roots, > 0.

    References
    ----------
    M. D. Zeiler, "ADADELTA: an adaptive learning rate method",
    arXiv:1212.5701, 2012.

    Examples
    --------
    >>> from gainprop import MLPClassifier
    >>> from gainprop.optimizers import Adadelta
    >>> clf = MLPClassifier(solver=Adadelta(), learning_rate_init=1.0)
    """

    _kind = _KIND.GP_OPT_ADADELTA
    _slot_names = ("square_avg", "acc_delta")
    _epsilon_names = ("epsilon",)
    _parameter_constraints = {
        "rho": [Interval(Real, 0, 1, closed="both")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, rho=0.9, epsilon=1e-6):
        self.rho = rho
        self.epsilon = epsilon

    def _hyper(self):
        return {"rho": self.rho, "epsilon": self.epsilon}


class RMSprop(BaseOptimizer):
    r"""RMSprop: the gradient divided by a running root mean square of its values.

    Hinton's rule (Neural Networks for Machine Learning, lecture 6e), as
    ``torch.optim.RMSprop``:

    .. math::

        E[g^2] \leftarrow \alpha E[g^2] + (1-\alpha) g^2, \qquad
        \theta \leftarrow \theta - \eta\, g / (\sqrt{E[g^2]} + \epsilon)

    (Kordecki's lecture on back-propagation prints the average as
    "γ R + γ g²", a typo for γ R + (1 − γ) g².)  ``centered`` divides by
    :math:`\sqrt{E[g^2] - E[g]^2} + \epsilon`; ``momentum`` μ keeps a buffer
    :math:`b \leftarrow \mu b + g / (\ldots)` and steps :math:`-\eta b`.
    A sensible ``learning_rate_init`` is 1e-3.

    Parameters
    ----------
    alpha : float, default=0.99
        Decay α of the running average of g², in [0, 1] (torch's default;
        Hinton suggests 0.9 with η = 0.001).
    epsilon : float, default=1e-8
        Added to the root for numerical stability, > 0.
    centered : bool, default=False
        Divide by the root of the variance estimate E[g²] − E[g]² instead of
        E[g²].
    momentum : float, default=0.0
        Momentum μ of the step buffer, in [0, 1); 0 keeps no buffer.

    See Also
    --------
    AdaGrad : Sums the squared gradients instead of averaging them.
    Adam : Adds a moving average of the gradient itself.

    References
    ----------
    G. Hinton, N. Srivastava and K. Swersky, "Neural Networks for Machine
    Learning", lecture 6e, Coursera, 2012.

    Examples
    --------
    >>> from gainprop import MLPClassifier
    >>> from gainprop.optimizers import RMSprop
    >>> clf = MLPClassifier(solver=RMSprop(alpha=0.9), learning_rate_init=1e-3)
    """

    _kind = _KIND.GP_OPT_RMSPROP
    _epsilon_names = ("epsilon",)
    _parameter_constraints = {
        "alpha": [Interval(Real, 0, 1, closed="both")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "centered": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="left")],
    }

    def __init__(self, alpha=0.99, epsilon=1e-8, centered=False, momentum=0.0):
        self.alpha = alpha
        self.epsilon = epsilon
        self.centered = centered
        self.momentum = momentum

    def _slots(self):
        # centered is the presence of grad_avg (the C rule reads no flag)
        return (("square_avg",) + (("grad_avg",) if self.centered else ())
                + (("momentum_buffer",) if self.momentum > 0 else ()))

    def _hyper(self):
        return {"alpha": self.alpha, "epsilon": self.epsilon, "momentum": self.momentum}


class AdaMax(BaseOptimizer):
    r"""AdaMax: Adam with the infinity norm in place of the second moment.

    Kingma & Ba (2015), section 7.1, as ``torch.optim.Adamax``:

    .. math::

        m \leftarrow \beta_1 m + (1-\beta_1) g, \quad
        u \leftarrow \max(\beta_2 u, |g| + \epsilon), \quad
        \theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t}\, \frac{m}{u}

    A sensible ``learning_rate_init`` is 2e-3 (the paper's).

    Parameters
    ----------
    beta_1 : float, default=0.9
        Decay of the first-moment estimate m, in [0, 1).
    beta_2 : float, default=0.999
        Decay of the infinity-norm estimate u, in [0, 1).
    epsilon : float, default=1e-8
        Added to the gradient's magnitude so that u is never 0, > 0.

    See Also
    --------
    Adam : The same first moment with a second-moment estimate.

    References
    ----------
    D. P. Kingma and J. Ba, "Adam: A method for stochastic optimization",
    ICLR, 2015.

    Examples
    --------
    >>> from gainprop import MLPClassifier
    >>> from gainprop.optimizers import AdaMax
    >>> clf = MLPClassifier(solver=AdaMax(), learning_rate_init=2e-3)
    """

    _kind = _KIND.GP_OPT_ADAMAX
    _slot_names = ("exp_avg", "exp_inf")
    _epsilon_names = ("epsilon",)
    _parameter_constraints = {
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _hyper(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


def _pair(value, name):
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair of numbers, got {value!r}.") from None
    return lo, hi


#: String names accepted by ``solver=`` (besides 'lbfgs'): each gives its
#: optimizer with default settings ('sgd' and 'adam' are scikit-learn's: their
#: parameters come from the estimator's momentum, beta_1, ...).
OPTIMIZERS = {
    "sgd": SGD,
    "adam": lambda: Adam(sklearn_form=True),
    "localgain": LocalGain,
    "rprop": Rprop,
    "rprop+": lambda: Rprop(variant="rprop+"),
    "rprop-": lambda: Rprop(variant="rprop-"),
    "irprop+": lambda: Rprop(variant="irprop+"),
    "irprop-": lambda: Rprop(variant="irprop-"),
    "adagrad": AdaGrad,
    "adadelta": Adadelta,
    "rmsprop": RMSprop,
    "adamax": AdaMax,
}


def get_optimizer(solver, estimator=None):
    """The optimizer a ``solver`` value trains with, its settings resolved.

    Parameters
    ----------
    solver : str or BaseOptimizer
        A name from ``OPTIMIZERS`` or an optimizer object.
    estimator : estimator, optional
        The estimator whose ``momentum``, ``nesterovs_momentum``, ``beta_1``,
        ``beta_2`` and ``epsilon`` fill the optimizer's parameters left at
        None (for 'sgd' and 'adam' exactly as scikit-learn reads them);
        without one, a default MLPClassifier's.

    Returns
    -------
    BaseOptimizer
        ``solver`` itself when it has no parameter left at None, else a
        copy with those parameters set.
    """
    if isinstance(solver, BaseOptimizer):
        return solver._resolved(estimator)
    try:
        rule = OPTIMIZERS[solver]()
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown solver {solver!r}; expected 'lbfgs', one of {sorted(OPTIMIZERS)} "
            "or a gainprop.optimizers optimizer object."
        ) from None
    return rule._resolved(estimator)


def _same(value, default):
    """Is a parameter's value its default?  (An object without equality,
    such as a schedule, never is.)"""
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False
