"""The optimizers: classes that walk a model and apply an update rule (rules.py) to each parameter.

    optimizer = SGD(0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    model.backward()
    optimizer.step(model)      # every parameter: w <- the rule's next_w, its state kept here

An optimizer walks ``model.params_and_grads()`` and writes each rule's result back
into the parameter's own array (the model keeps its arrays; the rule itself changes
nothing). Its per-parameter state (momentum, Adam's moments) is keyed by the same
"<layer path>.<name>" keys, so it can be saved in a checkpoint and restored.

Weight decay applies to the parameters ``decays`` names: the weights of Conv2D and
Dense (named "W"), not biases or BatchNorm's gamma and beta. Decaying those only
hurts: a bias or a shift has no scale to shrink, and BatchNorm's gamma is the scale
the network chose after normalising (a common practice, e.g. in timm).
docs/optim.md derives every rule.
"""
from . import rules

# the parameter names weight decay applies to (Conv2D's and Dense's weights)
DECAYED_PARAMETERS = ("W",)


def decays(key):
    """Whether weight decay applies to the parameter ``key``: "3.W" yes, "3.b" and "4.gamma" no."""
    return key.rpartition(".")[2] in DECAYED_PARAMETERS


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
            param[...] = self.update(key, param, grad, decay=decays(key))

    def update(self, key, param, grad, decay):
        """-> the parameter's next value, from its rule; ``decay``: weight decay applies to it."""
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
    """SGD with optional (Nesterov) momentum, as PyTorch defines it (rules.sgd_momentum):

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
            grad = rules.l2_gradient(param, grad, self.weight_decay)
        if not self.momentum:
            return rules.sgd(param, grad, self.lr)
        next_param, self.state["velocity"][key] = rules.sgd_momentum(
            param, grad, self.slot("velocity", key, param), self.lr, self.momentum, self.nesterov)
        return next_param


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015), rules.adam; weight_decay here is L2 added to the gradient.

        m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2
        param -= lr * m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def hyperparameters(self):
        return {**super().hyperparameters(), "beta1": self.beta1, "beta2": self.beta2,
                "eps": self.eps}

    def moments(self, key, param):
        """The first and second moments of parameter ``key`` (zeros before its first step)."""
        return self.slot("first_moment", key, param), self.slot("second_moment", key, param)

    def keep_moments(self, key, first, second):
        self.state["first_moment"][key], self.state["second_moment"][key] = first, second

    def update(self, key, param, grad, decay):
        if decay and self.weight_decay:
            grad = rules.l2_gradient(param, grad, self.weight_decay)
        next_param, first, second = rules.adam(param, grad, *self.moments(key, param), self.steps,
                                               self.lr, self.beta1, self.beta2, self.eps)
        self.keep_moments(key, first, second)
        return next_param


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019, rules.adamw):
    param -= lr * wd * param, beside Adam's step."""

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
        super().__init__(lr, beta1, beta2, eps, weight_decay)

    def update(self, key, param, grad, decay):
        next_param, first, second = rules.adamw(param, grad, *self.moments(key, param), self.steps,
                                                self.lr, self.beta1, self.beta2, self.eps,
                                                self.weight_decay if decay else 0.0)
        self.keep_moments(key, first, second)
        return next_param
