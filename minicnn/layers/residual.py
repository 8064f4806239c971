"""Residual: a block that adds its input back to what its body computes (He et al. 2016).

    forward    y = body(x) + shortcut(x)         shortcut = identity, or a 1x1 strided conv (+ BN)
    backward   the fork rule: x feeds two branches, so
               d_body     = dout                 (d(a + b)/da = 1: the sum passes dout on unchanged)
               d_shortcut = dout
               dx         = body^T(dout) + shortcut^T(dout)   the branches' input gradients add

docs/layers.md, section "Residual", derives it. The identity shortcut passes
dout straight to x: a path along which the gradient is never scaled down,
which is why deep residual networks train.
"""
from .base import Layer, ShapeError
from .container import Container, pass_down


class Residual(Container):
    """y = body(x) + shortcut(x); ``body`` and ``shortcut`` are lists of layers, ``shortcut=None``
    is the identity. The two outputs must have the same shape (a strided or wider body needs a
    shortcut that matches it, e.g. ``[Conv2D(C, F, 1, stride=2, bias=False), BatchNorm2D(F)]``)."""

    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body = list(body)
        self.shortcut = None if shortcut is None else list(shortcut)
        for branch_name, branch in self.branches().items():
            for index, layer in enumerate(branch):
                if not isinstance(layer, Layer):
                    raise TypeError(f"Residual {branch_name}[{index}] must be a minicnn Layer, "
                                    f"got {type(layer).__name__}")
        if not self.body:
            raise ValueError("Residual needs at least one layer in its body")

    def branches(self):
        """{"body": [...], "shortcut": [...]} (no shortcut entry for the identity)."""
        return {"body": self.body} if self.shortcut is None else {"body": self.body,
                                                                   "shortcut": self.shortcut}

    def sublayers(self):
        return {f"{name}.{index}": layer for name, branch in self.branches().items()
                for index, layer in enumerate(branch)}

    def config(self):
        return {"body": [layer.describe() for layer in self.body],
                "shortcut": None if self.shortcut is None else [layer.describe()
                                                                for layer in self.shortcut]}

    @classmethod
    def from_config(cls, config, build):
        shortcut = config.get("shortcut")
        return cls([build(spec) for spec in config["body"]],
                   None if shortcut is None else [build(spec) for spec in shortcut])

    def __repr__(self):
        """Short: the layer types of each branch (the architecture description has their configs)."""
        def names(branch):
            return "[" + ", ".join(type(layer).__name__ for layer in branch) + "]"
        shortcut = "identity" if self.shortcut is None else names(self.shortcut)
        return f"Residual(body={names(self.body)}, shortcut={shortcut})"

    def forward(self, x):
        self.check_floating(x)
        outputs = {}
        for name, branch in self.branches().items():
            signal = x
            for layer in branch:
                signal = layer.forward(signal)
            outputs[name] = signal
        body, shortcut = outputs["body"], outputs.get("shortcut", x)
        if tuple(body.shape) != tuple(shortcut.shape):
            raise ShapeError(f"Residual body gives shape {tuple(body.shape)} but the "
                             f"{'shortcut' if self.shortcut else 'identity shortcut'} gives "
                             f"{tuple(shortcut.shape)}: give it a shortcut that matches "
                             "(e.g. a 1x1 strided Conv2D and a BatchNorm2D)")
        return body + shortcut

    def pass_down(self, dout, step):
        """The fork rule: every branch gets dout, and the signals they pass down add up.

        ``step(layer, signal)`` passes a signal down through one layer of a branch.
        """
        total = dout if self.shortcut is None else None   # the identity passes dout on unchanged
        for branch in self.branches().values():
            below = pass_down(branch, dout, step)
            total = below if total is None else total + below
        return total
