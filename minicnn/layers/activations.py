"""ReLU, and the three ways a backward walk can pass a signal R back through it.

    gradient   R_in = 1[f > 0] * R              the true gradient (saliency, Simonyan 2013)
    deconvnet  R_in = 1[R > 0] * R              rectify the signal (Zeiler & Fergus 2014)
    guided     R_in = 1[f > 0] * 1[R > 0] * R   both (Springenberg et al. 2014)

f is the forward input of the ReLU, R the signal coming down from above.

``relu_forward`` / ``relu_backward`` are the readable NumPy versions of the
two passes a training step runs; the numba backend swaps in
``minicnn/kernels/activation_numba.py`` (one parallel pass instead of two).
"""
from .base import Layer

RELU_RULES = ("gradient", "deconvnet", "guided")


def relu_forward(x):
    """-> (out, mask): out = x * mask, mask = (x > 0), the on/off pattern backward needs."""
    mask = x > 0
    return x * mask, mask


def relu_backward(dout, mask):
    """dx = dout * mask (at exactly 0 we take the subgradient 0)."""
    return dout * mask


class ReLU(Layer):
    """out = max(x, 0), elementwise; any shape."""

    def forward(self, x):
        self.check_floating(x)
        out, self.mask = self.backend.relu_forward(x)
        return out

    def backward(self, dout):
        """dx = 1[x > 0] * dout (at exactly 0 we take the subgradient 0)."""
        return self.backward_rule(dout, "gradient")

    def backward_rule(self, R, rule="gradient"):
        """Pass R back with one of RELU_RULES; side-effect free (a deconvnet calls this)."""
        if tuple(R.shape) != tuple(self.mask.shape):
            raise ValueError(f"ReLU.backward_rule expects shape {tuple(self.mask.shape)}, "
                             f"got {tuple(R.shape)}")
        if rule == "gradient":
            return self.backend.relu_backward(R, self.mask)
        if rule == "deconvnet":
            return R * (R > 0)
        if rule == "guided":
            return R * (self.mask & (R > 0))
        raise ValueError(f"unknown ReLU rule {rule!r}: choose one of {RELU_RULES}")
