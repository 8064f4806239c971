"""2-D convolution (really cross-correlation, as in every DL library) via im2col + GEMM.

Forward, by definition (``conv2d_naive`` below writes it as loops):

    out[n, f, y, x] = b[f] + sum_{c,i,j} W[f, c, i, j] * x_pad[n, c, y*s + i, x*s + j]

As one matrix multiply per sample (``conv2d_forward``):

    cols = im2col(x)              (N, C*kh*kw, P)     P = out_h * out_w
    out  = W_rows @ cols + b      (N, F, P)           W_rows = W.reshape(F, C*kh*kw)

Backward (``conv2d_backward``), from dout = dL/dout: (N, F, out_h, out_w):

    dW = sum_n dout[n] @ cols[n]^T                   (F, C*kh*kw) -> (F, C, kh, kw)
    db = sum_{n, p} dout[n, :, p]                    (F,)
    dx = col2im(W_rows^T @ dout)                     (N, C, H, W): the transposed convolution

docs/layers.md, section 2, derives each line. The numba backend computes the
same three products in minicnn/kernels/conv_numba.py, the cupy backend in
minicnn/kernels/cupy_kernels.py.
"""
from typing import NamedTuple

from .arrays import array_module
from .im2col import col2im, conv_output_size, im2col


class ConvCache(NamedTuple):
    """What ``conv2d_forward`` keeps for backward."""
    cols: object        # im2col(x): (N, C*kh*kw, P), reused by dW
    x_shape: tuple      # (N, C, H, W), the shape dx must have
    weight: object      # W: (F, C, kh, kw), needed by dx
    stride: int
    padding: int
    has_bias: bool      # whether forward added a bias (else db is None)


def conv2d_forward(x, weight, bias, stride=1, padding=0, *, unfold=im2col):
    """x: (N, C, H, W), weight: (F, C, kh, kw), bias: (F,) or None -> (out, cache).

    out: (N, F, out_h, out_w) = W_rows @ im2col(x) + b.
    ``unfold`` is the im2col to use (the cupy backend passes its CUDA kernel).
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
    cache = ConvCache(cols, tuple(x.shape), weight, stride, padding, bias is not None)
    return out.reshape(N, F, out_h, out_w), cache


def conv2d_backward(dout, cache):
    """dout: (N, F, out_h, out_w) -> (dx (N, C, H, W), dW (F, C, kh, kw), db (F,) or None).

    The parameter gradients, then the input gradient (the transposed convolution).
    """
    weight_gradient, bias_gradient = conv2d_parameter_gradients(dout, cache)
    dx = conv2d_transpose(dout, cache.weight, cache.x_shape, cache.stride, cache.padding)
    return dx, weight_gradient, bias_gradient


def conv2d_parameter_gradients(dout, cache):
    """dout: (N, F, out_h, out_w) -> (dW (F, C, kh, kw), db (F,) or None).

    dW[f, r] = sum_{n, p} dout[n, f, p] * cols[n, r, p], that is the sum over
    samples of dout[n] @ cols[n].T. (``tensordot`` over the axes (n, p)
    computes the same in one call, but first copies all of cols into a
    transposed layout.)   db[f] = sum_{n, p} dout[n, f, p].
    """
    xp = array_module(dout)
    cols = cache.cols
    N, F = dout.shape[:2]
    dout_rows = dout.reshape(N, F, -1)                          # (N, F, P)
    weight_gradient = xp.zeros((F, cols.shape[1]), dtype=dout.dtype)
    for n in range(N):
        weight_gradient += dout_rows[n] @ cols[n].T              # (F, C*kh*kw)
    bias_gradient = dout_rows.sum(axis=(0, 2)) if cache.has_bias else None
    return weight_gradient.reshape(cache.weight.shape), bias_gradient


def conv2d_transpose(y, weight, x_shape, stride=1, padding=0, *, fold=col2im):
    """The transposed convolution, y: (N, F, out_h, out_w) -> (N, C, H, W).

    dcols = W_rows^T @ y_rows      (N, C*kh*kw, P)
    dx    = col2im(dcols)          scatters each column back onto its window

    It is the adjoint of the convolution without its bias, so with y = dout it
    is the input gradient dx; a deconvnet uses it to "filter with transposed
    filters". ``fold`` is the col2im to use (the cupy backend passes its CUDA kernel).
    """
    xp = array_module(y)
    N, F = y.shape[:2]
    _, _, kernel_h, kernel_w = weight.shape
    dcols = xp.matmul(weight.reshape(F, -1).T, y.reshape(N, F, -1))
    return fold(dcols, x_shape, kernel_h, kernel_w, stride, padding)


def conv2d_naive(x, weight, bias, stride=1, padding=0):
    """The definition of convolution as plain loops: slow, obvious, and the reference
    that the im2col path is tested against. x: (N, C, H, W), weight: (F, C, kh, kw),
    bias: (F,) or None -> (N, F, out_h, out_w)."""
    xp = array_module(x)
    N, _, H, W = x.shape
    F, _, kernel_h, kernel_w = weight.shape
    out_h = conv_output_size(H, kernel_h, stride, padding)
    out_w = conv_output_size(W, kernel_w, stride, padding)
    x_padded = xp.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = xp.zeros((N, F, out_h, out_w), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for row in range(out_h):
                for column in range(out_w):
                    window = x_padded[n, :, row * stride:row * stride + kernel_h,
                                      column * stride:column * stride + kernel_w]
                    out[n, f, row, column] = (window * weight[f]).sum()
                    if bias is not None:
                        out[n, f, row, column] += bias[f]
    return out
