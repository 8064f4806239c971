"""ReLU, and the three ways a backward walk can pass a signal R back through it.

    gradient   R_in = 1[f > 0] * R              the true gradient (saliency, Simonyan 2013)
    deconvnet  R_in = 1[R > 0] * R              rectify the signal (Zeiler & Fergus 2014)
    guided     R_in = 1[f > 0] * 1[R > 0] * R   both (Springenberg et al. 2014)

f is the forward input of the ReLU, R the signal coming down from above.
minicnn/functional/relu.py has the maths.
"""
from .base import Layer

RELU_RULES = ("gradient", "deconvnet", "guided")


class ReLU(Layer):
    """out = max(x, 0), elementwise; any shape."""

    def __init__(self):
        super().__init__()
        self.cache = None       # the mask 1[x > 0] of the last forward (bool)

    @property
    def mask(self):
        """The on/off pattern 1[x > 0] of the last forward input."""
        return self.cache

    def forward(self, x):
        self.check_floating(x)
        out, self.cache = self.ops.relu_forward(x)
        return out

    def input_gradient(self, dout):
        """dx = 1[x > 0] * dout (at exactly 0 we take the subgradient 0)."""
        return self.backward_rule(dout, "gradient")

    def backward_rule(self, signal, rule="gradient"):
        """Pass the signal R back with one of RELU_RULES; side-effect free (a deconvnet calls this)."""
        if tuple(signal.shape) != tuple(self.cache.shape):
            raise ValueError(f"ReLU.backward_rule expects shape {tuple(self.cache.shape)}, "
                             f"got {tuple(signal.shape)}")
        if rule == "gradient":
            return self.ops.relu_backward(signal, self.cache)
        if rule == "deconvnet":
            return self.ops.relu_deconvnet(signal)
        if rule == "guided":
            return self.ops.relu_guided(signal, self.cache)
        raise ValueError(f"unknown ReLU rule {rule!r}: choose one of {RELU_RULES}")
