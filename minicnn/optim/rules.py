"""The update rules: one step of each optimizer for one array, as pure functions.

    next_w = sgd(w, dw, lr)
    next_w, next_velocity = sgd_momentum(w, dw, velocity, lr, momentum, nesterov=False)
    next_w, next_m, next_v = adam(w, dw, m, v, t, lr, beta1, beta2, eps)
    next_w, next_m, next_v = adamw(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay)
    dw = l2_gradient(w, dw, weight_decay)

Each takes the array, its gradient and the state it carries from step to step,
and returns the new array and the new state; nothing is changed in place (the
classes of optimizers.py write the results back into the model's arrays).
Shapes: w, dw and every state array have the same shape, any shape. t counts
the steps from 1. docs/optim.md derives each rule.
"""


def l2_gradient(w, dw, weight_decay):
    """The gradient of L + (weight_decay / 2) * ||w||^2: dw + weight_decay * w (L2 regularization)."""
    return dw + weight_decay * w


def sgd(w, dw, lr):
    """Plain gradient descent: w - lr * dw."""
    return w - lr * dw


def sgd_momentum(w, dw, velocity, lr, momentum, nesterov=False):
    """SGD with momentum, as PyTorch defines it (velocity starts at zero):

        velocity = momentum * velocity + dw
        w        = w - lr * velocity                          (heavy ball)
        w        = w - lr * (dw + momentum * velocity)         (Nesterov: look one step ahead)
    """
    velocity = momentum * velocity + dw
    step = dw + momentum * velocity if nesterov else velocity
    return w - lr * step, velocity


def adam_moments(dw, m, v, beta1, beta2):
    """Adam's running averages of the gradient and of its square:
    m = beta1 m + (1 - beta1) dw,   v = beta2 v + (1 - beta2) dw^2."""
    return beta1 * m + (1 - beta1) * dw, beta2 * v + (1 - beta2) * dw * dw


def adam_step(m, v, t, lr, beta1, beta2, eps):
    """lr * m_hat / (sqrt(v_hat) + eps), with the bias corrections m_hat = m / (1 - beta1^t),
    v_hat = v / (1 - beta2^t) (both averages start at zero and would be too small early on)."""
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return lr * m_hat / (v_hat ** 0.5 + eps)


def adam(w, dw, m, v, t, lr, beta1, beta2, eps):
    """Adam (Kingma & Ba 2015): w - lr * m_hat / (sqrt(v_hat) + eps)."""
    m, v = adam_moments(dw, m, v, beta1, beta2)
    return w - adam_step(m, v, t, lr, beta1, beta2, eps), m, v


def adamw(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay):
    """AdamW (Loshchilov & Hutter 2019): Adam's step plus decoupled weight decay,
    w - lr * weight_decay * w - lr * m_hat / (sqrt(v_hat) + eps). The decay acts on w
    directly, so it is not rescaled by 1 / sqrt(v_hat) as L2 in the gradient would be."""
    m, v = adam_moments(dw, m, v, beta1, beta2)
    return w - lr * weight_decay * w - adam_step(m, v, t, lr, beta1, beta2, eps), m, v
