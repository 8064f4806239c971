"""Conv2D: the layer around conv2d_forward / conv2d_backward (minicnn/functional/conv.py has the maths)."""
from ..functional.im2col import conv_output_size
from .init import constant, he_normal
from .base import Layer, ShapeError


class Conv2D(Layer):
    """x: (N, C_in, H, W) -> out: (N, C_out, out_h, out_w). Params W: (C_out, C_in, k, k), b: (C_out,).

    ``bias=False`` drops b: a conv followed by BatchNorm needs none, since BN
    subtracts the channel mean (b's gradient would be exactly zero).
    ``rng`` draws the initial W (a numpy Generator, a seed, or None for fresh entropy).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 rng=None):
        super().__init__()
        for name, value, low in (("in_channels", in_channels, 1), ("out_channels", out_channels, 1),
                                 ("kernel_size", kernel_size, 1), ("stride", stride, 1),
                                 ("padding", padding, 0)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"Conv2D {name} must be an integer >= {low}, got {value!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.has_bias = bool(bias)
        self.cache = None       # functional.conv.ConvCache, or a fast path's own (NumbaConvCache)
        self.reset_parameters(rng)

    def config(self):
        config = {"in_channels": self.in_channels, "out_channels": self.out_channels,
                  "kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding}
        if not self.has_bias:
            config["bias"] = False
        return config

    def reset_parameters(self, rng=None):
        """Draw W from He-normal (fan-in C_in * k * k) and set b = 0."""
        fan_in = self.in_channels * self.kernel_size ** 2
        shape = (self.out_channels, self.in_channels, self.kernel_size, self.kernel_size)
        params = {"W": he_normal(rng, shape, fan_in)}
        if self.has_bias:
            params["b"] = constant(self.out_channels, 0.0)
        self.params = self.place(params)
        self.grads = {name: None for name in self.params}

    def output_shape(self, x_shape):
        N, _, H, W = x_shape
        k, s, p = self.kernel_size, self.stride, self.padding
        return (N, self.out_channels, conv_output_size(H, k, s, p), conv_output_size(W, k, s, p))

    def forward(self, x):
        self.check_input(x, "(N, C, H, W)", C=self.in_channels)
        _, _, H, W = x.shape
        k, s, p = self.kernel_size, self.stride, self.padding
        if H + 2 * p < k or W + 2 * p < k:
            raise ShapeError(f"Conv2D input {H}x{W} with padding {p} is smaller than "
                             f"the {k}x{k} kernel")
        out, self.cache = self.ops.conv2d_forward(x, self.params["W"], self.params.get("b"), s, p)
        return out

    def parameter_gradients(self, dout):
        """dW[f] = sum_{n, p} dout[n, f, p] * cols[n, :, p],  db[f] = sum_{n, p} dout[n, f, p]."""
        self.grads["W"], bias_gradient = self.ops.conv2d_parameter_gradients(dout, self.cache)
        if self.has_bias:
            self.grads["b"] = bias_gradient

    def input_gradient(self, dout):
        """dx = conv_transpose(dout): dout (N, F, out_h, out_w) -> (N, C, H, W)."""
        return self.conv_transpose(dout)

    def conv_transpose(self, y, x_shape=None):
        """The transposed convolution: the adjoint of the conv (no bias), y: (N, F, out_h, out_w) -> (N, C, H, W).

        dcols = W_rows^T @ y_rows      (N, C*k*k, P)
        dx    = col2im(dcols)          scatters each column back onto its window

        This *is* the input gradient, and the "filtering with transposed
        filters" step of a deconvnet. It touches neither grads nor the cache.
        ``x_shape`` defaults to the shape of the last forward input.
        """
        if x_shape is None:
            x_shape = self.cache.x_shape
        expected = self.output_shape(x_shape)
        if tuple(y.shape) != expected:
            raise ShapeError(f"Conv2D.conv_transpose expects shape (N, F, out_h, out_w) = "
                             f"{expected} for input shape {tuple(x_shape)}, got {tuple(y.shape)}")
        return self.ops.conv2d_transpose(y, self.params["W"], x_shape, self.stride, self.padding)
