"""Dropout: the layer around minicnn/functional/dropout.py (inverted dropout)."""
from ..limits import LIMITS
from .init import generator
from .base import Layer


class Dropout(Layer):
    """Any shape. ``p`` is the *drop* probability; identity in eval mode.

    The keep flags are drawn from the model backend's random stream (which a
    checkpoint saves, so a resumed run draws the same masks); a Dropout used on
    its own draws from ``rng`` (a numpy Generator, a seed, or None for fresh
    entropy). Set ``fixed_mask`` (an array of 0/1 keep flags, the input's
    shape) to reuse one mask on every forward: that is how a gradient check
    holds it still.
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if not LIMITS["dropout"].admits(p):
            raise ValueError(f"Dropout p (the drop probability) must be {LIMITS['dropout']}, "
                             f"got {p!r}")
        self.p = p
        self.rng = generator(rng)
        self.fixed_mask = None
        self.cache = None       # the scaled mask keep / (1 - p) of the last training forward

    def config(self):
        return {"p": self.p}

    @property
    def mask(self):
        """keep / (1 - p) of the last forward (None after an eval-mode forward)."""
        return self.cache

    def forward(self, x):
        self.check_floating(x)
        if not self.training or self.p == 0.0:
            self.cache = None
            return x
        if self.fixed_mask is not None:
            if tuple(self.fixed_mask.shape) != tuple(x.shape):
                raise ValueError(f"Dropout fixed_mask has shape {tuple(self.fixed_mask.shape)}"
                                 f" but the input has shape {tuple(x.shape)}")
            keep = self.fixed_mask
        else:
            keep = self.uniform(x.shape, x.dtype) >= self.p
        out, self.cache = self.ops.dropout_forward(x, self.p, keep)
        return out

    def uniform(self, shape, dtype):
        """Samples in [0, 1): from the backend's stream in a model, from ``rng`` on its own."""
        if self.backend is None:
            return self.rng.random(shape, dtype=dtype)
        return self.backend.random(shape, dtype)

    def input_gradient(self, dout):
        """dx = mask * dout, mask = keep / (1 - p) (or dout itself in eval mode)."""
        return dout if self.cache is None else self.ops.dropout_backward(dout, self.cache)
