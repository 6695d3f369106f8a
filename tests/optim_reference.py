"""Plain-numpy transcriptions of each optimizer's published rule
(``../shared/ALGORITHMS.md``), and the registry the generic tests iterate over.

Each reference takes the initial weights, a list of gradients, the learning
rate and a list of losses (for iRprop+), and returns the weights after every
step.  They are written from the equations, not from the C code.
"""

import numpy as np

from gainprop.optimizers import SGD, AdaGrad, Adadelta, Adam, AdaMax, LocalGain, Rprop, RMSprop


def ref_sgd(opt, w, grads, lr, losses):
    v = np.zeros_like(w)
    out = []
    for g in grads:
        if opt.momentum == 0:
            w = w - lr * g
        else:
            v = opt.momentum * v - lr * g
            w = w + (opt.momentum * v - lr * g if opt.nesterov else v)
        out.append(w)
    return out


def ref_adam(opt, w, grads, lr, losses):
    b1, b2, eps = opt.beta_1, opt.beta_2, opt.epsilon
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    vmax = np.zeros_like(w)
    out = []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        if opt.sklearn_form:  # scikit-learn: bias corrections folded into the rate
            lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
            w = w - lr_t * m / (np.sqrt(v) + eps)
        else:  # Kingma & Ba, Algorithm 1 (torch)
            vmax = np.maximum(vmax, v)
            vhat = (vmax if opt.amsgrad else v) / (1 - b2**t)
            w = w - lr * (m / (1 - b1**t)) / (np.sqrt(vhat) + eps)
        out.append(w)
    return out


def ref_localgain(opt, w, grads, lr, losses):
    lo, hi = opt.gain_limits
    gain = np.ones_like(w)
    gbar = np.zeros_like(w)
    v = np.zeros_like(w)
    out = []
    for g in grads:
        p = g * gbar
        gain = np.where(p > 0, gain + opt.bonus, np.where(p < 0, gain * opt.penalty, gain))
        gain = np.clip(gain, lo, hi)
        if opt.momentum > 0:
            v = opt.momentum * v - lr * gain * g
            w = w + v
        else:
            w = w - lr * gain * g
        gbar = (1 - opt.smoothing) * g + opt.smoothing * gbar
        out.append(w)
    return out


def ref_rprop(opt, w, grads, lr, losses):
    step = np.full_like(w, opt.step_init)
    prev = np.zeros_like(w)
    last_d = np.zeros_like(w)
    prev_loss = np.inf
    out = []
    for g, loss in zip(grads, losses):
        c = g * prev
        factor = np.where(c > 0, opt.eta_plus, np.where(c < 0, opt.eta_minus, 1.0))
        step = np.clip(step * factor, opt.step_min, opt.step_max)
        flip = c < 0
        if opt.variant in ("rprop+", "irprop+"):
            undo = flip & (opt.variant == "rprop+" or loss > prev_loss)
            d = np.where(flip, 0.0, -np.sign(g) * step)
            w = w - np.where(undo, last_d, 0.0) + d
            last_d = d
            prev = np.where(flip, 0.0, g)
        elif opt.variant == "rprop-":
            w = w - np.sign(g) * step
            prev = g
        elif opt.variant == "irprop-":
            w = w - np.where(flip, 0.0, np.sign(g) * step)
            prev = np.where(flip, 0.0, g)
        else:  # minibatch-irprop- (Ndauka & Zheng)
            w = w - np.sign(g) * step
            prev = np.where(flip, 0.0, g)
        prev_loss = loss
        out.append(w)
    return out


def ref_adagrad(opt, w, grads, lr, losses):
    G = np.full_like(w, opt.initial_accumulator)
    out = []
    for g in grads:
        G = G + g * g
        w = w - lr * g / (np.sqrt(G) + opt.epsilon)
        out.append(w)
    return out


def ref_adadelta(opt, w, grads, lr, losses):
    rho, eps = opt.rho, opt.epsilon
    Eg = np.zeros_like(w)
    Ed = np.zeros_like(w)
    out = []
    for g in grads:
        Eg = rho * Eg + (1 - rho) * g * g
        d = np.sqrt(Ed + eps) / np.sqrt(Eg + eps) * g
        Ed = rho * Ed + (1 - rho) * d * d
        w = w - lr * d
        out.append(w)
    return out


def ref_rmsprop(opt, w, grads, lr, losses):
    a, eps = opt.alpha, opt.epsilon
    Eg2 = np.zeros_like(w)
    Eg = np.zeros_like(w)
    buf = np.zeros_like(w)
    out = []
    for g in grads:
        Eg2 = a * Eg2 + (1 - a) * g * g
        if opt.centered:
            Eg = a * Eg + (1 - a) * g
            s = np.sqrt(Eg2 - Eg * Eg) + eps
        else:
            s = np.sqrt(Eg2) + eps
        if opt.momentum > 0:
            buf = opt.momentum * buf + g / s
            w = w - lr * buf
        else:
            w = w - lr * g / s
        out.append(w)
    return out


def ref_adamax(opt, w, grads, lr, losses):
    b1, b2, eps = opt.beta_1, opt.beta_2, opt.epsilon
    m = np.zeros_like(w)
    u = np.zeros_like(w)
    out = []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        w = w - (lr / (1 - b1**t)) * m / u
        out.append(w)
    return out


#: (optimizer, reference, learning rate) rows: every optimizer and option.
#: A parameter left at None (Adam's betas) takes a default estimator's value:
#: the tests pass each row through get_optimizer, as the estimator does.
REGISTRY = [
    (SGD(momentum=0.0), ref_sgd, 0.1),
    (SGD(momentum=0.9, nesterov=False), ref_sgd, 0.05),
    (SGD(momentum=0.5, nesterov=True), ref_sgd, 0.05),
    (Adam(), ref_adam, 1e-3),
    (Adam(beta_1=0.8, beta_2=0.99, epsilon=1e-6), ref_adam, 1e-2),
    (Adam(amsgrad=True), ref_adam, 1e-3),
    (Adam(sklearn_form=True), ref_adam, 1e-3),
    (LocalGain(), ref_localgain, 0.01),
    (LocalGain(bonus=0.1, penalty=0.9, gain_limits=(0.01, 100)), ref_localgain, 0.01),
    (LocalGain(smoothing=0.7), ref_localgain, 0.01),
    (LocalGain(momentum=0.9, gain_limits=(0.5, 2.0)), ref_localgain, 0.01),
    (Rprop(variant="rprop+"), ref_rprop, 1.0),
    (Rprop(variant="rprop-"), ref_rprop, 1.0),
    (Rprop(variant="irprop+"), ref_rprop, 1.0),
    (Rprop(variant="irprop-", step_init=0.01, step_max=0.05), ref_rprop, 1.0),
    (Rprop.minibatch(), ref_rprop, 1.0),
    (AdaGrad(), ref_adagrad, 0.01),
    (AdaGrad(initial_accumulator=0.1, epsilon=1e-6), ref_adagrad, 0.1),
    (Adadelta(), ref_adadelta, 1.0),
    (Adadelta(rho=0.95, epsilon=1e-4), ref_adadelta, 0.5),
    (RMSprop(), ref_rmsprop, 0.01),
    (RMSprop(centered=True), ref_rmsprop, 0.01),
    (RMSprop(alpha=0.9, momentum=0.9), ref_rmsprop, 0.001),
    (RMSprop(centered=True, momentum=0.5), ref_rmsprop, 0.001),
    (AdaMax(), ref_adamax, 2e-3),
    (AdaMax(beta_1=0.5, beta_2=0.9, epsilon=1e-3), ref_adamax, 2e-3),
]


def row_id(row):
    opt = row[0]
    params = {k: v for k, v in opt.get_params().items()
              if v != type(opt)().get_params()[k]}
    return type(opt).__name__ + "".join(f"-{k}={v}" for k, v in sorted(params.items()))
