"""Fast path for max-pooling with switches (twin of maxpool_forward and unpool in minicnn/functional/pool.py).

The kernels are serial and release the GIL; the worker threads of minicnn/runtime/threads.py
run them on slices of the batch. Forward visits
the window offsets in row-major order and keeps the first maximum (a later
value must be strictly greater), exactly the tie rule of ``argmax`` in the
NumPy version. Backward clears each plane of dx and routes the gradients into
it while the plane is still in cache, instead of a separate ``zeros`` pass
over the whole input. The common 2x2 window with stride 2 has its own pair of
kernels, the same loops written out for that size.
"""
import numpy as np
from numba import njit

from ..functional.pool import MaxPoolCache, pool_output_size
from ..runtime.threads import run_chunks, split


@njit(nogil=True, cache=True)
def _maxpool_forward_kernel(x, kernel_size, stride, out, switches):
    N, C = x.shape[0], x.shape[1]
    out_h, out_w = out.shape[2], out.shape[3]
    for plane in range(N * C):
        n, c = plane // C, plane % C
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


@njit(nogil=True, cache=True)
def _maxpool2x2_forward_kernel(x, out, switches):
    """The same for kernel 2, stride 2, written out: with the window size known to the
    compiler the four comparisons need no loop, which makes this kernel ~8x faster."""
    N, C = x.shape[0], x.shape[1]
    out_h, out_w = out.shape[2], out.shape[3]
    for plane in range(N * C):
        n, c = plane // C, plane % C
        for y in range(out_h):
            upper, lower = x[n, c, 2 * y], x[n, c, 2 * y + 1]
            best_row, index_row = out[n, c, y], switches[n, c, y]
            for x_pos in range(out_w):
                best, best_index = upper[2 * x_pos], 0
                if upper[2 * x_pos + 1] > best:
                    best, best_index = upper[2 * x_pos + 1], 1
                if lower[2 * x_pos] > best:
                    best, best_index = lower[2 * x_pos], 2
                if lower[2 * x_pos + 1] > best:
                    best, best_index = lower[2 * x_pos + 1], 3
                best_row[x_pos] = best
                index_row[x_pos] = best_index


@njit(nogil=True, cache=True)
def _maxpool_backward_kernel(dout, switches, kernel_size, stride, dx):
    N, C, out_h, out_w = dout.shape
    for plane in range(N * C):
        n, c = plane // C, plane % C
        dx[n, c] = 0
        for y in range(out_h):
            for x_pos in range(out_w):
                index = switches[n, c, y, x_pos]
                i, j = index // kernel_size, index % kernel_size
                dx[n, c, y * stride + i, x_pos * stride + j] += dout[n, c, y, x_pos]


@njit(nogil=True, cache=True)
def _maxpool2x2_backward_kernel(dout, switches, dx):
    """The same for kernel 2, stride 2, written out: clear the two image rows under
    a row of windows, then put each gradient at its switch (switch // 2 picks the
    row, switch % 2 the column)."""
    N, C, out_h, out_w = dout.shape
    H = dx.shape[2]
    for plane in range(N * C):
        n, c = plane // C, plane % C
        if H != 2 * out_h:
            dx[n, c, H - 1] = 0  # an odd last row belongs to no window
        for y in range(out_h):
            gradient, index = dout[n, c, y], switches[n, c, y]
            upper, lower = dx[n, c, 2 * y], dx[n, c, 2 * y + 1]
            upper[:] = 0
            lower[:] = 0
            for x_pos in range(out_w):
                winner = index[x_pos]
                row = upper if winner < 2 else lower
                row[2 * x_pos + winner % 2] = gradient[x_pos]


def maxpool_forward(x, kernel_size=2, stride=None):
    """x: (N, C, H, W) -> (out (N, C, out_h, out_w), cache), cache.switches uint8."""
    stride = kernel_size if stride is None else stride
    N, C, H, W = x.shape
    shape = (N, C, pool_output_size(H, kernel_size, stride), pool_output_size(W, kernel_size, stride))
    out = np.empty(shape, dtype=x.dtype)
    switches = np.empty(shape, dtype=np.uint8)
    x = np.ascontiguousarray(x)

    def forward_slice(chunk):
        start, stop = chunk
        if kernel_size == stride == 2:
            _maxpool2x2_forward_kernel(x[start:stop], out[start:stop], switches[start:stop])
        else:
            _maxpool_forward_kernel(x[start:stop], kernel_size, stride, out[start:stop],
                                    switches[start:stop])

    run_chunks(forward_slice, split(N))
    return out, MaxPoolCache(switches, x.shape, kernel_size, stride)


def unpool(y, switches, x_shape, kernel_size, stride):
    """Route y (N, C, out_h, out_w) to the switch positions, summing where windows overlap."""
    dx = np.empty(x_shape, dtype=y.dtype)
    dout, switches = np.ascontiguousarray(y), np.ascontiguousarray(switches)

    def backward_slice(chunk):
        start, stop = chunk
        if kernel_size == stride == 2:
            _maxpool2x2_backward_kernel(dout[start:stop], switches[start:stop], dx[start:stop])
        else:
            _maxpool_backward_kernel(dout[start:stop], switches[start:stop], kernel_size, stride,
                                     dx[start:stop])

    run_chunks(backward_slice, split(len(dx)))
    return dx
