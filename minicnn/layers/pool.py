"""MaxPool2D (with its argmax *switches*) and GlobalAvgPool2D: the layers around
minicnn/functional/pool.py, which has the maths."""
from ..functional.pool import pool_output_size
from .base import Layer, ShapeError


class MaxPool2D(Layer):
    """x: (N, C, H, W) -> (N, C, out_h, out_w); stride defaults to kernel_size."""

    def __init__(self, kernel_size=2, stride=None):
        super().__init__()
        stride = kernel_size if stride is None else stride
        for name, value in (("kernel_size", kernel_size), ("stride", stride)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"MaxPool2D {name} must be an integer >= 1, got {value!r}")
        if kernel_size > 16:
            raise ValueError(f"MaxPool2D kernel_size must be <= 16 (switches are uint8), "
                             f"got {kernel_size}")
        self.kernel_size = kernel_size
        self.stride = stride
        self.cache = None       # functional.pool.MaxPoolCache: switches, x_shape, kernel_size, stride

    def config(self):
        return {"kernel_size": self.kernel_size, "stride": self.stride}

    @property
    def switches(self):
        """(N, C, out_h, out_w) uint8: which offset i*k + j of each window won in the last forward."""
        return None if self.cache is None else self.cache.switches

    def output_shape(self, x_shape):
        N, C, H, W = x_shape
        k, s = self.kernel_size, self.stride
        return (N, C, pool_output_size(H, k, s), pool_output_size(W, k, s))

    def forward(self, x):
        self.check_input(x, "(N, C, H, W)")
        if min(x.shape[2:]) < self.kernel_size:
            raise ShapeError(f"MaxPool2D input {x.shape[2]}x{x.shape[3]} is smaller than "
                             f"its {self.kernel_size}x{self.kernel_size} window")
        out, self.cache = self.ops.maxpool_forward(x, self.kernel_size, self.stride)
        return out

    def input_gradient(self, dout):
        """dout: (N, C, out_h, out_w) -> dx: (N, C, H, W); dx is dout at the switches, 0 elsewhere."""
        return self.unpool(dout)

    def unpool(self, y, switches=None, x_shape=None):
        """Place each value of y at its switch (the recorded argmax); side-effect free."""
        switches = self.switches if switches is None else switches
        x_shape = self.cache.x_shape if x_shape is None else x_shape
        if tuple(y.shape) != tuple(switches.shape):
            raise ShapeError(f"MaxPool2D.unpool expects shape {tuple(switches.shape)} "
                             f"(the pooled output), got {tuple(y.shape)}")
        return self.ops.unpool(y, switches, x_shape, self.kernel_size, self.stride)


class GlobalAvgPool2D(Layer):
    """x: (N, C, H, W) -> (N, C): the mean of each feature map."""

    def __init__(self):
        super().__init__()
        self.cache = None       # the input's shape

    def forward(self, x):
        self.check_input(x, "(N, C, H, W)")
        out, self.cache = self.ops.global_avg_pool_forward(x)
        return out

    def input_gradient(self, dout):
        """dout: (N, C) -> dx: (N, C, H, W) = dout / (H*W) at every position."""
        return self.ops.global_avg_pool_backward(dout, self.cache)
