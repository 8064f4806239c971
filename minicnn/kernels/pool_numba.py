"""Fast path for max-pooling with switches (twin of minicnn/layers/pool.py).

Forward scans each window once, keeping the first maximum in row-major order,
exactly the tie rule of ``argmax`` in the NumPy version.
"""
import numpy as np
from numba import njit, prange

from ..layers.pool import pool_output_size


@njit(parallel=True, cache=True)
def _maxpool_forward_kernel(x, kernel_size, stride, out, switches):
    N, C = x.shape[0], x.shape[1]
    out_h, out_w = out.shape[2], out.shape[3]
    for n in prange(N):
        for c in range(C):
            for y in range(out_h):
                for x_pos in range(out_w):
                    top, left = y * stride, x_pos * stride
                    best = x[n, c, top, left]
                    best_index = 0
                    for i in range(kernel_size):
                        for j in range(kernel_size):
                            value = x[n, c, top + i, left + j]
                            if value > best:
                                best = value
                                best_index = i * kernel_size + j
                    out[n, c, y, x_pos] = best
                    switches[n, c, y, x_pos] = best_index


@njit(parallel=True, cache=True)
def _maxpool_backward_kernel(dout, switches, kernel_size, stride, dx):
    N, C, out_h, out_w = dout.shape
    for n in prange(N):
        for c in range(C):
            for y in range(out_h):
                for x_pos in range(out_w):
                    index = switches[n, c, y, x_pos]
                    i, j = index // kernel_size, index % kernel_size
                    dx[n, c, y * stride + i, x_pos * stride + j] += dout[n, c, y, x_pos]


def maxpool_forward(x, kernel_size, stride):
    """x: (N, C, H, W) -> (out, switches uint8), both (N, C, out_h, out_w)."""
    N, C, H, W = x.shape
    shape = (N, C, pool_output_size(H, kernel_size, stride), pool_output_size(W, kernel_size, stride))
    out = np.empty(shape, dtype=x.dtype)
    switches = np.empty(shape, dtype=np.uint8)
    _maxpool_forward_kernel(np.ascontiguousarray(x), kernel_size, stride, out, switches)
    return out, switches


def maxpool_backward(dout, switches, x_shape, kernel_size, stride):
    """Route dout to the switch positions, summing where windows overlap."""
    dx = np.zeros(x_shape, dtype=dout.dtype)
    _maxpool_backward_kernel(np.ascontiguousarray(dout), np.ascontiguousarray(switches),
                             kernel_size, stride, dx)
    return dx
