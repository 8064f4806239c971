"""Fast path for im2col / col2im (twin of minicnn/layers/im2col.py).

One pass over the output, writing each column entry directly, with the padding
handled by a bounds test instead of a padded copy of the input.
"""
import numpy as np
from numba import njit, prange

from ..layers.im2col import conv_output_size


@njit(parallel=True, cache=True)
def _im2col_kernel(x, kernel_h, kernel_w, stride, padding, cols):
    N, C, H, W = x.shape
    out_w = (W + 2 * padding - kernel_w) // stride + 1
    positions = cols.shape[2]
    out_h = positions // out_w
    for n in prange(N):
        for c in range(C):
            for i in range(kernel_h):
                for j in range(kernel_w):
                    row = (c * kernel_h + i) * kernel_w + j
                    for y in range(out_h):
                        h = y * stride + i - padding
                        for x_pos in range(out_w):
                            w = x_pos * stride + j - padding
                            if 0 <= h < H and 0 <= w < W:
                                cols[n, row, y * out_w + x_pos] = x[n, c, h, w]
                            else:
                                cols[n, row, y * out_w + x_pos] = 0


@njit(parallel=True, cache=True)
def _col2im_kernel(cols, kernel_h, kernel_w, stride, padding, out_w, dx):
    N, C, H, W = dx.shape
    out_h = cols.shape[2] // out_w
    for n in prange(N):
        for c in range(C):
            for i in range(kernel_h):
                for j in range(kernel_w):
                    row = (c * kernel_h + i) * kernel_w + j
                    for y in range(out_h):
                        h = y * stride + i - padding
                        if h < 0 or h >= H:
                            continue
                        for x_pos in range(out_w):
                            w = x_pos * stride + j - padding
                            if 0 <= w < W:
                                dx[n, c, h, w] += cols[n, row, y * out_w + x_pos]


def im2col(x, kernel_h, kernel_w, stride=1, padding=0):
    """x: (N, C, H, W) -> cols: (N, C*kernel_h*kernel_w, out_h*out_w)."""
    N, C, H, W = x.shape
    out_h = conv_output_size(H, kernel_h, stride, padding)
    out_w = conv_output_size(W, kernel_w, stride, padding)
    cols = np.empty((N, C * kernel_h * kernel_w, out_h * out_w), dtype=x.dtype)
    _im2col_kernel(np.ascontiguousarray(x), kernel_h, kernel_w, stride, padding, cols)
    return cols


def col2im(cols, x_shape, kernel_h, kernel_w, stride=1, padding=0):
    """cols: (N, C*kh*kw, out_h*out_w) -> (N, C, H, W), summing overlaps."""
    N, C, H, W = x_shape
    out_w = conv_output_size(W, kernel_w, stride, padding)
    dx = np.zeros(x_shape, dtype=cols.dtype)
    _col2im_kernel(np.ascontiguousarray(cols), kernel_h, kernel_w, stride, padding, out_w, dx)
    return dx
