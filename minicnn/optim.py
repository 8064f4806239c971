"""Optimizers and learning-rate schedules.

An optimizer walks ``model.params_and_grads()`` and updates each parameter in
place. Its per-parameter state (momentum, Adam moments) is keyed by the same
"<layer>.<name>" keys, so it can be saved in a checkpoint and restored.

Weight decay applies to weights (ndim > 1) only, not to biases or BatchNorm's
gamma/beta: decaying those only hurts (a common practice, e.g. in timm).

Schedules are plain callables ``schedule(step) -> lr``; the training loop sets
``optimizer.lr = schedule(step)`` before each step.
"""
import math

__all__ = ["SGD", "Adam", "AdamW", "StepLR", "CosineLR", "WarmupLR", "OneCycleLR", "ConstantLR"]


class Optimizer:
    """Base class: ``step(model)`` applies one update from the gradients of the last backward."""

    def __init__(self, lr, weight_decay=0.0):
        if not lr > 0:
            raise ValueError(f"{type(self).__name__} lr must be > 0, got {lr!r}")
        if weight_decay < 0:
            raise ValueError(f"{type(self).__name__} weight_decay must be >= 0, got {weight_decay!r}")
        self.lr = lr
        self.weight_decay = weight_decay
        self.steps = 0
        self.state = {}  # slot name -> {param key -> array}

    def hyperparameters(self):
        return {"lr": self.lr, "weight_decay": self.weight_decay}

    def step(self, model):
        self.steps += 1
        for key, param, grad in model.params_and_grads():
            if grad is None:
                raise RuntimeError(f"{type(self).__name__}: parameter {key} has no gradient; "
                                   "call model.backward() before optimizer.step()")
            self.update(key, param, grad, decay=param.ndim > 1)

    def update(self, key, param, grad, decay):
        raise NotImplementedError

    def slot(self, name, key, like):
        """The state array ``name`` of parameter ``key``, zeros on first use."""
        slots = self.state.setdefault(name, {})
        if key not in slots:
            slots[key] = like.copy()
            slots[key][...] = 0
        return slots[key]

    def map_state(self, function):
        """Replace every state array by ``function(array)`` (moving it to another backend)."""
        for slots in self.state.values():
            for key, value in slots.items():
                slots[key] = function(value)

    # --- checkpoints ----------------------------------------------------------
    def state_dict(self):
        """(config JSON-able dict, {"slot.key": array}) for a checkpoint."""
        config = {"type": type(self).__name__, "steps": self.steps, **self.hyperparameters()}
        arrays = {f"{name}.{key}": value for name, slots in self.state.items()
                  for key, value in slots.items()}
        return config, arrays

    def load_state_dict(self, config, arrays):
        if config.get("type") != type(self).__name__:
            raise ValueError(f"optimizer state is for {config.get('type')}, "
                             f"not {type(self).__name__}")
        self.steps = config["steps"]
        for name, value in config.items():
            if name not in ("type", "steps"):
                setattr(self, name, value)
        self.state = {}
        for slot_key, value in arrays.items():
            name, key = slot_key.split(".", 1)
            self.state.setdefault(name, {})[key] = value


class SGD(Optimizer):
    """SGD with optional (Nesterov) momentum, as PyTorch defines it:

        g = grad + weight_decay * param
        v = momentum * v + g
        param -= lr * (g + momentum * v)   if nesterov   else   lr * v
    """

    def __init__(self, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        if not 0 <= momentum < 1:
            raise ValueError(f"SGD momentum must be in [0, 1), got {momentum!r}")
        if nesterov and momentum == 0:
            raise ValueError("SGD nesterov=True needs momentum > 0")
        self.momentum = momentum
        self.nesterov = nesterov

    def hyperparameters(self):
        return {**super().hyperparameters(), "momentum": self.momentum, "nesterov": self.nesterov}

    def update(self, key, param, grad, decay):
        if decay and self.weight_decay:
            grad = grad + self.weight_decay * param
        if self.momentum:
            velocity = self.slot("velocity", key, param)
            velocity *= self.momentum
            velocity += grad
            grad = grad + self.momentum * velocity if self.nesterov else velocity
        param -= self.lr * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015); weight_decay here is L2 added to the gradient.

        m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2
        param -= lr * m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)
    """

    decoupled = False

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def hyperparameters(self):
        return {**super().hyperparameters(), "beta1": self.beta1, "beta2": self.beta2,
                "eps": self.eps}

    def update(self, key, param, grad, decay):
        if decay and self.weight_decay:
            if self.decoupled:
                param -= self.lr * self.weight_decay * param
            else:
                grad = grad + self.weight_decay * param
        first = self.slot("first_moment", key, param)
        second = self.slot("second_moment", key, param)
        first *= self.beta1
        first += (1 - self.beta1) * grad
        second *= self.beta2
        second += (1 - self.beta2) * grad * grad
        first_hat = first / (1 - self.beta1 ** self.steps)
        second_hat = second / (1 - self.beta2 ** self.steps)
        param -= self.lr * first_hat / (second_hat ** 0.5 + self.eps)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): param -= lr * wd * param."""

    decoupled = True

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
        super().__init__(lr, beta1, beta2, eps, weight_decay)


# --- learning-rate schedules ---------------------------------------------------
class ConstantLR:
    def __init__(self, lr):
        self.lr = lr

    def __call__(self, step):
        return self.lr


class StepLR:
    """lr * gamma ** (step // step_size)."""

    def __init__(self, lr, step_size, gamma=0.1):
        if step_size < 1:
            raise ValueError(f"StepLR step_size must be >= 1, got {step_size!r}")
        self.lr, self.step_size, self.gamma = lr, step_size, gamma

    def __call__(self, step):
        return self.lr * self.gamma ** (step // self.step_size)


class CosineLR:
    """Cosine decay from lr to min_lr over total_steps: min + (lr - min) (1 + cos(pi t / T)) / 2."""

    def __init__(self, lr, total_steps, min_lr=0.0):
        if total_steps < 1:
            raise ValueError(f"CosineLR total_steps must be >= 1, got {total_steps!r}")
        self.lr, self.total_steps, self.min_lr = lr, total_steps, min_lr

    def __call__(self, step):
        progress = min(step, self.total_steps) / self.total_steps
        return self.min_lr + (self.lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


class WarmupLR:
    """Linear warm-up over warmup_steps, then the wrapped schedule: schedule(step) * min(1, (step+1)/warmup)."""

    def __init__(self, schedule, warmup_steps):
        if warmup_steps < 0:
            raise ValueError(f"WarmupLR warmup_steps must be >= 0, got {warmup_steps!r}")
        self.schedule, self.warmup_steps = schedule, warmup_steps

    def __call__(self, step):
        scale = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
        return self.schedule(step) * scale


class OneCycleLR:
    """One-cycle (Smith 2018): linear rise from max_lr/div to max_lr over pct_start of the
    steps, then cosine decay to max_lr/final_div."""

    def __init__(self, max_lr, total_steps, pct_start=0.25, div=25.0, final_div=1e4):
        if total_steps < 2:
            raise ValueError(f"OneCycleLR total_steps must be >= 2, got {total_steps!r}")
        self.max_lr, self.total_steps = max_lr, total_steps
        self.rise_steps = max(1, int(pct_start * total_steps))
        self.start_lr, self.final_lr = max_lr / div, max_lr / final_div

    def __call__(self, step):
        if step < self.rise_steps:
            return self.start_lr + (self.max_lr - self.start_lr) * step / self.rise_steps
        progress = min(1.0, (step - self.rise_steps) / max(1, self.total_steps - self.rise_steps))
        return self.final_lr + (self.max_lr - self.final_lr) * 0.5 * (1 + math.cos(math.pi * progress))
