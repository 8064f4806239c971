"""Conv2D: 2-D convolution (really cross-correlation, as in every DL library) via im2col + GEMM.

Forward:   out[n, f, y, x] = b[f] + sum_{c,i,j} W[f, c, i, j] * x_pad[n, c, y*s + i, x*s + j]
As GEMM:   cols = im2col(x)            (N, C*kh*kw, P)   P = out_h * out_w
           out  = W_rows @ cols + b     (N, F, P)         W_rows = W.reshape(F, C*kh*kw)

``conv2d_naive`` below is the definition as loops; a test holds the two equal.

The layer asks its backend for the three products (``conv2d_forward``,
``conv2d_parameter_gradients``, ``conv2d_transpose``). The functions of those
names below are the readable NumPy versions; the numba backend swaps in
``minicnn/kernels/conv_numba.py``, the same maths in cache-sized chunks.
"""
from ..init import he_normal
from .base import Layer, ShapeError
from .im2col import array_module, col2im, conv_output_size, im2col


def conv2d_forward(x, weight, bias, stride, padding, unfold=im2col):
    """x: (N, C, H, W), weight: (F, C, kh, kw), bias: (F,) or None -> (out, cols).

    out is (N, F, out_h, out_w); cols = im2col(x) is what backward needs.
    (``unfold`` is the im2col to use: the cupy backend passes its CUDA kernel.)
    """
    xp = array_module(x)
    N, _, H, W = x.shape
    F, _, kernel_h, kernel_w = weight.shape
    cols = unfold(x, kernel_h, kernel_w, stride, padding)     # (N, C*kh*kw, P)
    out = xp.matmul(weight.reshape(F, -1), cols)              # (N, F, P)
    if bias is not None:
        out += bias[:, None]
    out_h = conv_output_size(H, kernel_h, stride, padding)
    out_w = conv_output_size(W, kernel_w, stride, padding)
    return out.reshape(N, F, out_h, out_w), cols


def conv2d_parameter_gradients(dout, cols, weight_shape, stride, padding, with_bias):
    """-> (dW of weight_shape, db (F,) or None), from dout (N, F, out_h, out_w) and the saved cols.

    dW[f, r] = sum_{n, p} dout[n, f, p] * cols[n, r, p], that is the sum over
    samples of dout[n] @ cols[n].T. (``tensordot`` over the axes (n, p)
    computes the same in one call, but first copies all of cols into a
    transposed layout.) stride and padding are not needed: cols has them.
    """
    xp = array_module(dout)
    N, F = dout.shape[:2]
    dout_rows = dout.reshape(N, F, -1)                          # (N, F, P)
    weight_gradient = xp.zeros((F, cols.shape[1]), dtype=dout.dtype)
    for n in range(N):
        weight_gradient += dout_rows[n] @ cols[n].T              # (F, C*kh*kw)
    bias_gradient = dout_rows.sum(axis=(0, 2)) if with_bias else None
    return weight_gradient.reshape(weight_shape), bias_gradient


def conv2d_transpose(y, weight, x_shape, stride, padding, fold=col2im):
    """The transposed convolution y: (N, F, out_h, out_w) -> (N, C, H, W).

    dcols = W_rows^T @ y_rows      (N, C*kh*kw, P)
    dx    = col2im(dcols)          scatters each column back onto its window
    (``fold`` is the col2im to use: the cupy backend passes its CUDA kernel.)
    """
    xp = array_module(y)
    N, F = y.shape[:2]
    _, _, kernel_h, kernel_w = weight.shape
    dcols = xp.matmul(weight.reshape(F, -1).T, y.reshape(N, F, -1))
    return fold(dcols, x_shape, kernel_h, kernel_w, stride, padding)


class Conv2D(Layer):
    """x: (N, C_in, H, W) -> out: (N, C_out, out_h, out_w). Params W: (C_out, C_in, k, k), b: (C_out,).

    ``bias=False`` drops b: a conv followed by BatchNorm needs none, since BN
    subtracts the channel mean (b's gradient would be exactly zero).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
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
        self.bias = bool(bias)
        self.reset_parameters()

    def config(self):
        config = {"in_channels": self.in_channels, "out_channels": self.out_channels,
                  "kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding}
        if not self.bias:
            config["bias"] = False
        return config

    def reset_parameters(self):
        backend = self.backend
        fan_in = self.in_channels * self.kernel_size ** 2
        shape = (self.out_channels, self.in_channels, self.kernel_size, self.kernel_size)
        self.params = {"W": backend.to_device(he_normal(backend.rng, shape, fan_in, backend.dtype))}
        if self.bias:
            self.params["b"] = backend.xp.zeros(self.out_channels, dtype=backend.dtype)
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
        bias = self.params["b"] if self.bias else None
        out, saved = self.backend.conv2d_forward(x, self.params["W"], bias, s, p)
        # backward needs the input shape and what the backend saved (cols, or x itself)
        self.cache = (x.shape, saved)
        return out

    def backward(self, dout):
        """dout: (N, F, out_h, out_w) -> dx: (N, C, H, W).

        dW[f, k] = sum_{n, p} dout[n, f, p] * cols[n, k, p]      (a GEMM with cols)
        db[f]    = sum_{n, p} dout[n, f, p]
        dx       = conv_transpose(dout)                           (see below)
        """
        self.parameter_gradients(dout)
        return self.conv_transpose(dout, self.cache[0])

    def parameter_gradients(self, dout):
        """dW and db from dout, without dx (see Layer.parameter_gradients).

        Skipping dx saves the transposed convolution: for the first layer of
        the reference network, a GEMM and a col2im over the whole input image.
        """
        _, saved = self.cache
        self.grads["W"], bias_gradient = self.backend.conv2d_parameter_gradients(
            dout, saved, self.params["W"].shape, self.stride, self.padding, self.bias)
        if self.bias:
            self.grads["b"] = bias_gradient

    def conv_transpose(self, y, x_shape=None):
        """The transposed convolution: the adjoint of the conv (no bias), y: (N, F, out_h, out_w) -> (N, C, H, W).

        dcols = W_rows^T @ y_rows      (N, C*k*k, P)
        dx    = col2im(dcols)          scatters each column back onto its window

        This *is* the input-gradient path of backward, and the "filtering with
        transposed filters" step of a deconvnet. It touches neither grads nor the
        cache. ``x_shape`` defaults to the shape of the last forward input.
        """
        if x_shape is None:
            x_shape = self.cache[0]
        expected = self.output_shape(x_shape)
        if tuple(y.shape) != expected:
            raise ShapeError(f"Conv2D.conv_transpose expects shape (N, F, out_h, out_w) = "
                             f"{expected} for input shape {tuple(x_shape)}, got {tuple(y.shape)}")
        return self.backend.conv2d_transpose(y, self.params["W"], x_shape, self.stride,
                                             self.padding)

def conv2d_naive(x, W, b, stride=1, padding=0):
    """The definition of convolution as plain loops: slow, obvious, and the reference
    that the im2col path is tested against. x: (N, C, H, W), W: (F, C, k, k), b: (F,)."""
    xp = array_module(x)
    N, C, H, Wd = x.shape
    F, _, kh, kw = W.shape
    out_h = conv_output_size(H, kh, stride, padding)
    out_w = conv_output_size(Wd, kw, stride, padding)
    x_padded = xp.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = xp.zeros((N, F, out_h, out_w), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for y in range(out_h):
                for x_pos in range(out_w):
                    window = x_padded[n, :, y * stride:y * stride + kh,
                                      x_pos * stride:x_pos * stride + kw]
                    out[n, f, y, x_pos] = (window * W[f]).sum() + b[f]
    return out
