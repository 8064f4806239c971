"""Fast path for convolution (twin of ``conv2d_forward``, ``conv2d_parameter_gradients`` and
``conv2d_transpose`` in minicnn/functional/conv.py).

The readable version builds cols = im2col(x) for the whole batch (75 MB for
the second layer of the reference network at batch 64), keeps it for
backward, and multiplies one sample at a time. Most of its time goes into
moving that buffer through memory, not into arithmetic. This version changes
four things, and none of the maths:

1. **Chunks that stay in cache.** The batch is processed a few samples at a
   time, so the cols of one chunk (about ``CHUNK_BYTES``) are still in the
   core's cache when the matrix multiply reads them.
2. **One large GEMM per chunk.** The chunk's columns sit side by side
   (``im2col_side_by_side``), so forward, weight gradient and input gradient
   are each a single BLAS call with a long dimension of chunk * P.
3. **One core per chunk.** Each worker thread takes a chunk and does all of
   it, im2col, GEMM and the copy back, with single-threaded BLAS
   (minicnn/runtime/threads.py says why). Each thread reuses one set of
   buffers for all its chunks.
4. **Recompute, don't store.** Backward rebuilds the cols of each chunk from
   x instead of keeping them from forward: an im2col into cache costs less
   than writing the whole cols to memory and reading it back, and the step
   needs far less memory. So the cache keeps the input x itself (on the
   Winograd path below, the transformed input tiles instead).

The weight gradient is a sum over chunks: each chunk's share is kept and they
are added in chunk order, so the result does not depend on which thread did
which chunk.

3x3 convolutions with stride 1 and padding 1 (and at least 16 channels in and
out) take another fast path, winograd_numba.py, which needs 2.25 times fewer
multiplications; stride-1 convolutions with at most 4 input channels (the
3-channel stem) take direct_conv_numba.py, whose loops need no im2col. The
functions below hand them over first thing.
"""
from typing import NamedTuple

import numpy as np

from ..functional.im2col import conv_output_size
from ..runtime.scratch import scratch
from ..runtime.threads import chunk_ranges, run_chunks, sum_in_order
from . import direct_conv_numba, winograd_numba
from .im2col_numba import col2im_side_by_side, im2col_side_by_side

# Target size of one chunk's cols: small enough to stay in one core's cache.
CHUNK_BYTES = 1 * 2**20


class NumbaConvCache(NamedTuple):
    """What the fast forward keeps for backward: x, or on the Winograd path its transformed tiles."""
    x: object           # (N, C, H, W), the input: each chunk's cols are rebuilt from it (None on Winograd)
    tiles: object       # winograd_numba.TransformedInput (None on the im2col path)
    x_shape: tuple
    weight: object      # (F, C, kh, kw)
    stride: int
    padding: int
    has_bias: bool


def samples_per_chunk(cols_bytes_per_sample):
    """How many samples' cols fit in CHUNK_BYTES (at least one)."""
    return max(1, CHUNK_BYTES // cols_bytes_per_sample)


def _chunks(batch, cols_rows, positions, itemsize):
    """range(batch) cut into cache-sized (start, stop) chunks."""
    return chunk_ranges(batch, samples_per_chunk(cols_rows * positions * itemsize))


def _samples_side_by_side(batch_part, out):
    """(n, F, P) -> (F, n*P): the transposed copy the GEMMs need, into ``out``."""
    n, F, P = batch_part.shape
    np.copyto(out.reshape(F, n, P), batch_part.transpose(1, 0, 2))
    return out


def conv2d_forward(x, weight, bias, stride=1, padding=0):
    """x: (N, C, H, W), weight: (F, C, kh, kw), bias: (F,) or None -> (out (N, F, out_h, out_w), cache)."""
    x = np.ascontiguousarray(x)
    has_bias = bias is not None
    if winograd_numba.applies(x.shape, weight.shape, stride, padding):
        out, tiles = winograd_numba.forward(x, weight, bias, keep_tiles=True)
        return out, NumbaConvCache(None, tiles, x.shape, weight, stride, padding, has_bias)
    if direct_conv_numba.applies(x.shape, weight.shape, stride):
        out = direct_conv_numba.forward(x, weight, bias, padding)
        return out, NumbaConvCache(x, None, x.shape, weight, stride, padding, has_bias)
    N, C, H, W = x.shape
    F, _, kernel_h, kernel_w = weight.shape
    out_h = conv_output_size(H, kernel_h, stride, padding)
    out_w = conv_output_size(W, kernel_w, stride, padding)
    positions = out_h * out_w
    weight_rows = weight.reshape(F, -1)
    rows = weight_rows.shape[1]
    out = np.empty((N, F, out_h, out_w), dtype=x.dtype)

    def forward_chunk(chunk):
        start, stop = chunk
        columns = (stop - start) * positions
        cols = im2col_side_by_side(x[start:stop], kernel_h, kernel_w, stride, padding,
                                   out=scratch.matrix("cols", rows, columns, x.dtype))
        product = np.matmul(weight_rows, cols,
                            out=scratch.matrix("product", F, columns, x.dtype))
        # back from side by side to (n, F, P), adding the bias on the way
        per_sample = product.reshape(F, stop - start, positions).transpose(1, 0, 2)
        target = out[start:stop].reshape(stop - start, F, positions)
        if bias is None:
            np.copyto(target, per_sample)
        else:
            np.add(per_sample, bias[:, None], out=target)

    run_chunks(forward_chunk, _chunks(N, rows, positions, x.itemsize))
    return out, NumbaConvCache(x, None, x.shape, weight, stride, padding, has_bias)


def conv2d_parameter_gradients(dout, cache):
    """dW = sum over samples and positions of dout times cols (and db = the sum of dout).

    -> (dW (F, C, kh, kw), db (F,) or None), from dout (N, F, out_h, out_w).
    """
    if cache.tiles is not None:
        return winograd_numba.weight_gradient(dout, cache.tiles, cache.has_bias)
    x, weight_shape, stride, padding = cache.x, cache.weight.shape, cache.stride, cache.padding
    if direct_conv_numba.applies(x.shape, weight_shape, stride):
        return direct_conv_numba.parameter_gradients(dout, x, weight_shape, padding,
                                                     cache.has_bias)
    N, F, out_h, out_w = dout.shape
    _, _, kernel_h, kernel_w = weight_shape
    positions = out_h * out_w
    rows = weight_shape[1] * kernel_h * kernel_w
    dout = dout.reshape(N, F, positions)

    def gradient_chunk(chunk):
        start, stop = chunk
        columns = (stop - start) * positions
        cols = im2col_side_by_side(x[start:stop], kernel_h, kernel_w, stride, padding,
                                   out=scratch.matrix("cols", rows, columns, dout.dtype))
        dout_side = _samples_side_by_side(dout[start:stop],
                                          scratch.matrix("dout", F, columns, dout.dtype))
        bias_share = dout_side.sum(axis=1) if cache.has_bias else None
        return dout_side @ cols.T, bias_share

    weight_gradient, bias_gradient = sum_in_order(
        run_chunks(gradient_chunk, _chunks(N, rows, positions, dout.dtype.itemsize)))
    return weight_gradient.reshape(weight_shape), bias_gradient


def conv2d_transpose(y, weight, x_shape, stride=1, padding=0):
    """The transposed convolution y: (N, F, out_h, out_w) -> (N, C, H, W): col2im(W_rows^T @ y)."""
    if winograd_numba.applies(x_shape, weight.shape, stride, padding):
        return winograd_numba.transpose(y, weight)
    N, F, out_h, out_w = y.shape
    _, _, kernel_h, kernel_w = weight.shape
    positions = out_h * out_w
    weight_rows = weight.reshape(F, -1)
    rows = weight_rows.shape[1]
    y = y.reshape(N, F, positions)
    dx = np.empty(x_shape, dtype=y.dtype)

    def transpose_chunk(chunk):
        start, stop = chunk
        columns = (stop - start) * positions
        y_side = _samples_side_by_side(y[start:stop], scratch.matrix("dout", F, columns, y.dtype))
        cols = np.matmul(weight_rows.T, y_side,
                         out=scratch.matrix("cols", rows, columns, y.dtype))
        col2im_side_by_side(cols, x_shape, kernel_h, kernel_w, stride, padding, out=dx[start:stop])

    run_chunks(transpose_chunk, _chunks(N, rows, positions, y.dtype.itemsize))
    return dx
