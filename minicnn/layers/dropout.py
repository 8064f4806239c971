"""Inverted dropout: zero each activation with probability p in training, scale the
survivors by 1/(1-p) so the expected output equals the input; identity in eval."""
from .base import Layer


class Dropout(Layer):
    """Any shape. ``p`` is the *drop* probability.

    Set ``fixed_mask`` (an array of 0/1 keep flags, the input's shape) to reuse
    one mask on every forward: that is how a gradient check holds it still.
    """

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout p (the drop probability) must be in [0, 1), got {p!r}")
        self.p = p
        self.fixed_mask = None
        self.mask = None

    def config(self):
        return {"p": self.p}

    def forward(self, x):
        self.check_floating(x)
        if not self.training or self.p == 0.0:
            self.mask = None
            return x
        if self.fixed_mask is not None:
            if tuple(self.fixed_mask.shape) != tuple(x.shape):
                raise ValueError(f"Dropout fixed_mask has shape {tuple(self.fixed_mask.shape)}"
                                 f" but the input has shape {tuple(x.shape)}")
            keep = self.fixed_mask
        else:
            keep = self.backend.random(x.shape, x.dtype) >= self.p
        # the scaled mask is exactly d(out)/d(x), so backward is one multiply
        self.mask = keep.astype(x.dtype) / x.dtype.type(1.0 - self.p)
        return x * self.mask

    def backward(self, dout):
        """dx = mask * dout, mask = keep / (1 - p) (or dout itself in eval mode)."""
        return dout if self.mask is None else dout * self.mask
