"""Pooling: MaxPool2D (with its argmax *switches*) and GlobalAvgPool2D.

Max-pool forward records, for every output, which element of its window won:
the switch, an index 0 .. k*k-1 (row-major within the window). Backward routes
each upstream gradient to its switch and nowhere else. A deconvnet uses the
very same switches to *unpool* (Zeiler & Fergus 2014, section 2.1).

``maxpool_forward`` / ``maxpool_backward`` are the readable NumPy versions; the
numba backend swaps in ``minicnn/kernels/pool_numba.py``.
"""
from .base import Layer, ShapeError
from .im2col import array_module


def pool_output_size(size, kernel_size, stride):
    return (size - kernel_size) // stride + 1


def maxpool_forward(x, kernel_size, stride):
    """x: (N, C, H, W) -> (out: (N, C, out_h, out_w), switches: same shape, uint8).

    Stacks the k*k window offsets as strided slices, then takes the argmax over
    them; ties go to the first offset in row-major order.
    """
    xp = array_module(x)
    N, C, H, W = x.shape
    k, s = kernel_size, stride
    out_h, out_w = pool_output_size(H, k, s), pool_output_size(W, k, s)
    windows = xp.empty((k * k, N, C, out_h, out_w), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            windows[i * k + j] = x[:, :, i:i + s * out_h:s, j:j + s * out_w:s]
    switches = windows.argmax(axis=0).astype(xp.uint8)
    return windows.max(axis=0), switches


def maxpool_backward(dout, switches, x_shape, kernel_size, stride):
    """Route dout (N, C, out_h, out_w) to the switch positions -> dx: x_shape.

    Also the *unpooling* of a deconvnet. With overlapping windows (stride < k)
    one input can win several windows; ``+=`` per offset adds them all up.
    """
    xp = array_module(dout)
    _, _, out_h, out_w = dout.shape
    k, s = kernel_size, stride
    dx = xp.zeros(x_shape, dtype=dout.dtype)
    for i in range(k):
        for j in range(k):
            routed = xp.where(switches == i * k + j, dout, 0)
            dx[:, :, i:i + s * out_h:s, j:j + s * out_w:s] += routed
    return dx


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
        self.switches = None

    def config(self):
        return {"kernel_size": self.kernel_size, "stride": self.stride}

    def output_shape(self, x_shape):
        N, C, H, W = x_shape
        k, s = self.kernel_size, self.stride
        return (N, C, pool_output_size(H, k, s), pool_output_size(W, k, s))

    def forward(self, x):
        self.check_input(x, "(N, C, H, W)")
        if min(x.shape[2:]) < self.kernel_size:
            raise ShapeError(f"MaxPool2D input {x.shape[2]}x{x.shape[3]} is smaller than "
                             f"its {self.kernel_size}x{self.kernel_size} window")
        out, self.switches = self.backend.maxpool_forward(x, self.kernel_size, self.stride)
        # backward (and a deconvnet) need the switches and the input shape
        self.x_shape = x.shape
        return out

    def backward(self, dout):
        """dout: (N, C, out_h, out_w) -> dx: (N, C, H, W); dx is dout at the switches, 0 elsewhere."""
        return self.unpool(dout)

    def unpool(self, y, switches=None, x_shape=None):
        """Place each value of y at its switch (the recorded argmax); side-effect free."""
        switches = self.switches if switches is None else switches
        x_shape = self.x_shape if x_shape is None else x_shape
        if tuple(y.shape) != tuple(switches.shape):
            raise ShapeError(f"MaxPool2D.unpool expects shape {tuple(switches.shape)} "
                             f"(the pooled output), got {tuple(y.shape)}")
        return self.backend.maxpool_backward(y, switches, x_shape, self.kernel_size, self.stride)


class GlobalAvgPool2D(Layer):
    """x: (N, C, H, W) -> (N, C): the mean of each feature map."""

    def forward(self, x):
        self.check_input(x, "(N, C, H, W)")
        self.x_shape = x.shape  # backward spreads the gradient evenly over H*W
        return x.mean(axis=(2, 3))

    def backward(self, dout):
        """dout: (N, C) -> dx: (N, C, H, W) = dout / (H*W) at every position."""
        N, C, H, W = self.x_shape
        return self.backend.xp.broadcast_to(dout[:, :, None, None] / (H * W), self.x_shape).copy()
