"""Fast path for 3x3 convolutions (stride 1, padding 1): Winograd F(2x2, 3x3).

The fast twin of minicnn/functional/winograd.py, the same maths in a few lines of
NumPy (read that first), and so of conv2d_forward, conv2d_parameter_gradients and
conv2d_transpose in minicnn/functional/conv.py for the one shape that dominates
VGG-style networks. tests/test_winograd.py holds the three products equal to the
readable Winograd version, tests/test_fastpaths.py to the readable im2col versions
(to float rounding: the arithmetic is reordered, not approximated).

The idea (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural
Networks"): cut the output into 2x2 tiles. The 2x2 outputs of one tile need
the 4x4 input patch d around it, and with the constant matrices

        B^T = [1  0 -1  0]      G = [ 1    0    0 ]      A^T = [1  1  1  0]
              [0  1  1  0]          [1/2  1/2  1/2]            [0  1 -1 -1]
              [0 -1  1  0]          [1/2 -1/2  1/2]
              [0  1  0 -1]          [ 0    0    1 ]

    output tile  Y = A^T [ (G g G^T) * (B^T d B) ] A          (* elementwise, 4x4)

for one filter g (3x3) and one input channel; over channels the elementwise
products are summed. Written per position k of the 4x4 "Winograd domain",
that sum over channels is a matrix product:

    U[k] = (G g G^T)[k]      (F, C)   the filters, transformed once per call
    V[k] = (B^T d B)[k]      (C, T)   the input tiles, T tiles in all
    M[k] = U[k] @ V[k]       (F, T)   16 GEMMs
    Y    = A^T M A                    back to 2x2 outputs per tile and filter

The 16 GEMMs do 16*F*C*T multiply-adds where im2col does 9*F*C*4T = 36*F*C*T:
2.25 times fewer. The transforms are additions (and halvings) only; V holds 4
values per input value, less memory traffic than im2col's cols (9 per value).

The two backward products are Winograd too:

* the input gradient of a 3x3, stride 1, padding 1 convolution is the same
  kind of convolution of dout with the filters flipped in space and with
  input and output channels swapped, so it is ``forward`` again;
* the weight gradient of tile-wise Y = A^T [U * V] A is
  dU = sum over tiles of (A dY A^T) * V, then dg = G^T dU G: 16 GEMMs
  (F, T) @ (T, C) of the transformed dout and input tiles. Forward keeps its
  V for this (``TransformedInput``), instead of transforming x again.

Like the im2col fast path, the work runs in chunks of a few samples on the
worker threads of minicnn/runtime/threads.py, with single-threaded BLAS, and the weight
gradient is summed over chunks in chunk order. The transforms are serial Numba
kernels that release the GIL.
"""
import numpy as np
from numba import njit

from ..runtime.scratch import scratch
from ..runtime.threads import chunk_ranges, run_chunks, sum_in_order

# The transformed input tiles of one chunk take about this many bytes. With the products M
# (as large again for F = C) and the chunk's input, a chunk's working set stays inside one
# core's L2 (1-2 MiB); 2 MiB chunks spilled it: a training step of ahe-resnet or of the reference
# network took 8-9% longer (benchmarks/bench_setting.py, docs/performance.md).
CHUNK_BYTES = 2**19
# Below this many input (or output) channels the 16 GEMMs are too thin to beat im2col
# (conv1: C = 3). The input gradient swaps the two counts, so ``applies`` asks it of both.
MIN_CHANNELS = 16

# G of the module docstring; the kernels below write its products out by hand
FILTER_TRANSFORM = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])

# Extra elements between the 16 planes of the transformed filters. Without them
# the planes often start exactly a multiple of 4 KiB apart, so the 16 streams
# the filter transform writes at once fall into the same few cache sets and
# evict each other (it ran several times slower). The tile transforms, whose loops
# stream along one plane at a time, do better with plain contiguous planes.
PLANE_PAD = 16


def planes(rows, columns, dtype):
    """A new (16, rows, columns) array, each plane contiguous, planes PLANE_PAD apart."""
    flat = np.empty((16, rows * columns + PLANE_PAD), dtype=dtype)
    return flat[:, :rows * columns].reshape(16, rows, columns)


def applies(x_shape, weight_shape, stride, padding):
    """Whether this fast path computes the convolution: 3x3, stride 1, padding 1, even H and W,
    and at least MIN_CHANNELS channels in and out."""
    _, C, H, W = x_shape
    return (tuple(weight_shape[2:]) == (3, 3) and stride == 1 and padding == 1
            and H % 2 == 0 and W % 2 == 0 and C >= MIN_CHANNELS and weight_shape[0] >= MIN_CHANNELS)


def transform_filters(weight):
    """weight (F, C, 3, 3) -> U (16, F, C): G g G^T for every filter and channel."""
    F, C = weight.shape[:2]
    U = planes(F, C, weight.dtype)
    _transform_filters(np.ascontiguousarray(weight), U)
    return U


def untransform_filter_gradient(gradient_u):
    """dU (16, F, C) -> dg (F, C, 3, 3) = G^T dU G: the adjoint of transform_filters."""
    F, C = gradient_u.shape[1:]
    gradient = np.empty((F, C, 3, 3), dtype=gradient_u.dtype)
    _untransform_filter_gradient(gradient_u, gradient)
    return gradient


@njit(nogil=True, cache=True)
def _transform_filters(weight, U):
    """U[4a + b, f, c] = (G g G^T)[a, b]: G's rows are g0, (g0 + g1 + g2)/2, (g0 - g1 + g2)/2, g2."""
    F, C = weight.shape[:2]
    rows = np.empty((4, 3), dtype=weight.dtype)
    for f in range(F):
        for c in range(C):
            for j in range(3):                 # G g, column by column
                g0, g1, g2 = weight[f, c, 0, j], weight[f, c, 1, j], weight[f, c, 2, j]
                rows[0, j] = g0
                rows[1, j] = 0.5 * (g0 + g1 + g2)
                rows[2, j] = 0.5 * (g0 - g1 + g2)
                rows[3, j] = g2
            for a in range(4):                 # (G g) G^T, row by row
                g0, g1, g2 = rows[a, 0], rows[a, 1], rows[a, 2]
                U[4 * a + 0, f, c] = g0
                U[4 * a + 1, f, c] = 0.5 * (g0 + g1 + g2)
                U[4 * a + 2, f, c] = 0.5 * (g0 - g1 + g2)
                U[4 * a + 3, f, c] = g2


@njit(nogil=True, cache=True)
def _untransform_filter_gradient(gradient_u, gradient):
    """gradient[f, c] = G^T dU G: G^T's rows are (1, 1/2, 1/2, 0), (0, 1/2, -1/2, 0), (0, 1/2, 1/2, 1)."""
    F, C = gradient.shape[:2]
    rows = np.empty((3, 4), dtype=gradient.dtype)
    for f in range(F):
        for c in range(C):
            for b in range(4):                 # G^T dU, column by column
                u0, u1 = gradient_u[b, f, c], gradient_u[4 + b, f, c]
                u2, u3 = gradient_u[8 + b, f, c], gradient_u[12 + b, f, c]
                rows[0, b] = u0 + 0.5 * (u1 + u2)
                rows[1, b] = 0.5 * (u1 - u2)
                rows[2, b] = 0.5 * (u1 + u2) + u3
            for i in range(3):                 # (G^T dU) G, row by row
                u0, u1, u2, u3 = rows[i, 0], rows[i, 1], rows[i, 2], rows[i, 3]
                gradient[f, c, i, 0] = u0 + 0.5 * (u1 + u2)
                gradient[f, c, i, 1] = 0.5 * (u1 - u2)
                gradient[f, c, i, 2] = 0.5 * (u1 + u2) + u3


@njit(nogil=True, cache=True)
def _input_tiles(x, V):
    """x (n, C, H, W) -> V (16, C, T): B^T d B for every 4x4 patch d, padding 1 read as 0.

    Tile t = (sample * H/2 + tile_row) * W/2 + tile_col covers outputs
    (2*tile_row .. +1, 2*tile_col .. +1) and reads input rows 2*tile_row - 1 .. +2.
    B^T d is done first for a whole strip of 4 image rows at once (``u``), then
    u B tile by tile; ``u`` has a zero column on either side for the padding.
    """
    n, C, H, W = x.shape
    tiles_h, tiles_w = H // 2, W // 2
    u = np.zeros((4, W + 2), dtype=x.dtype)
    for sample in range(n):
        for c in range(C):
            for tile_row in range(tiles_h):
                top = 2 * tile_row - 1
                for column in range(W):       # u = B^T d: rows (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
                    d0 = x[sample, c, top, column] if top >= 0 else 0
                    d1 = x[sample, c, top + 1, column]
                    d2 = x[sample, c, top + 2, column]
                    d3 = x[sample, c, top + 3, column] if top + 3 < H else 0
                    u[0, column + 1] = d0 - d2
                    u[1, column + 1] = d1 + d2
                    u[2, column + 1] = d2 - d1
                    u[3, column + 1] = d1 - d3
                first = (sample * tiles_h + tile_row) * tiles_w
                for i in range(4):             # V = u B: columns (u0 - u2, u1 + u2, u2 - u1, u1 - u3)
                    for tile_col in range(tiles_w):
                        left = 2 * tile_col      # column 2*tile_col - 1 of the image, in u
                        V[4 * i + 0, c, first + tile_col] = u[i, left] - u[i, left + 2]
                        V[4 * i + 1, c, first + tile_col] = u[i, left + 1] + u[i, left + 2]
                        V[4 * i + 2, c, first + tile_col] = u[i, left + 2] - u[i, left + 1]
                        V[4 * i + 3, c, first + tile_col] = u[i, left + 1] - u[i, left + 3]


@njit(nogil=True, cache=True)
def _output_tiles(M, bias, use_bias, out):
    """M (16, F, T) -> out (n, F, H, W): A^T m A per tile and filter, plus the bias.

    A^T m is done first for a whole row of tiles (``r``, contiguous loops the
    compiler vectorizes), then r A tile by tile into the two output rows.
    """
    n, F, H, W = out.shape
    tiles_h, tiles_w = H // 2, W // 2
    r = np.empty((8, tiles_w), dtype=out.dtype)
    for sample in range(n):
        for f in range(F):
            shift = bias[f] if use_bias else 0
            for tile_row in range(tiles_h):
                first = (sample * tiles_h + tile_row) * tiles_w
                for j in range(4):             # r = A^T m: rows (m0 + m1 + m2, m1 - m2 - m3)
                    for tile_col in range(tiles_w):
                        t = first + tile_col
                        r[j, tile_col] = M[j, f, t] + M[4 + j, f, t] + M[8 + j, f, t]
                        r[4 + j, tile_col] = M[4 + j, f, t] - M[8 + j, f, t] - M[12 + j, f, t]
                y = 2 * tile_row
                for i in range(2):             # Y = r A: columns (r0 + r1 + r2, r1 - r2 - r3)
                    for tile_col in range(tiles_w):
                        out[sample, f, y + i, 2 * tile_col] = (
                            r[4 * i, tile_col] + r[4 * i + 1, tile_col] + r[4 * i + 2, tile_col]
                            + shift)
                        out[sample, f, y + i, 2 * tile_col + 1] = (
                            r[4 * i + 1, tile_col] - r[4 * i + 2, tile_col] - r[4 * i + 3, tile_col]
                            + shift)


@njit(nogil=True, cache=True)
def _gradient_tiles(dout, Q):
    """dout (n, F, H, W) -> Q (16, F, T): A dY A^T for every 2x2 tile dY (adjoint of _output_tiles).

    A dY first for a whole row of tiles (``rows``: (g0, g0 + g1, g0 - g1, -g1)
    for the image rows g0, g1), then the same on the columns, tile by tile.
    """
    n, F, H, W = dout.shape
    tiles_h, tiles_w = H // 2, W // 2
    rows = np.empty((4, W), dtype=dout.dtype)
    for sample in range(n):
        for f in range(F):
            for tile_row in range(tiles_h):
                y = 2 * tile_row
                for column in range(W):
                    g0, g1 = dout[sample, f, y, column], dout[sample, f, y + 1, column]
                    rows[0, column] = g0
                    rows[1, column] = g0 + g1
                    rows[2, column] = g0 - g1
                    rows[3, column] = -g1
                first = (sample * tiles_h + tile_row) * tiles_w
                for i in range(4):
                    for tile_col in range(tiles_w):
                        a, b = rows[i, 2 * tile_col], rows[i, 2 * tile_col + 1]
                        Q[4 * i + 0, f, first + tile_col] = a
                        Q[4 * i + 1, f, first + tile_col] = a + b
                        Q[4 * i + 2, f, first + tile_col] = a - b
                        Q[4 * i + 3, f, first + tile_col] = -b


def _chunks(batch, channels, height, width, itemsize):
    """range(batch) cut so that one chunk's V (16 * C * H*W/4 values per sample) is ~CHUNK_BYTES."""
    per_sample = 4 * channels * height * width * itemsize
    return chunk_ranges(batch, CHUNK_BYTES // per_sample)


class TransformedInput:
    """What the forward pass keeps for the weight gradient: the transformed input
    tiles V of every chunk, so backward need not transform x again (4 values per
    input value: less than the 9 of im2col's cols)."""

    def __init__(self, x_shape, chunks, tiles):
        self.shape = x_shape
        self.chunks = chunks
        self.tiles = tiles


def forward(x, weight, bias, keep_tiles=False):
    """x (N, C, H, W), weight (F, C, 3, 3), bias (F,) or None -> out (N, F, H, W),
    and with ``keep_tiles`` also the TransformedInput the weight gradient needs."""
    x = np.ascontiguousarray(x)
    N, C, H, W = x.shape
    F = weight.shape[0]
    U = transform_filters(weight)
    out = np.empty((N, F, H, W), dtype=x.dtype)
    bias_values = np.zeros(F, dtype=x.dtype) if bias is None else bias

    def forward_chunk(chunk):
        start, stop = chunk
        tiles = (stop - start) * (H // 2) * (W // 2)
        V = (np.empty((16, C, tiles), dtype=x.dtype) if keep_tiles
             else scratch.array("winograd_v", (16, C, tiles), x.dtype))
        _input_tiles(x[start:stop], V)
        # the 16 GEMMs, in one call (NumPy loops over the planes without the GIL)
        M = np.matmul(U, V, out=scratch.array("winograd_m", (16, F, tiles), x.dtype))
        _output_tiles(M, bias_values, bias is not None, out[start:stop])
        return V if keep_tiles else None

    chunks = _chunks(N, C, H, W, x.itemsize)
    tiles = run_chunks(forward_chunk, chunks)
    return (out, TransformedInput(x.shape, chunks, tiles)) if keep_tiles else out


def weight_gradient(dout, saved, has_bias):
    """dout (N, F, H, W), saved: the forward's TransformedInput -> (dW (F, C, 3, 3), db or None)."""
    dout = np.ascontiguousarray(dout)
    N, C, H, W = saved.shape
    F = dout.shape[1]

    def gradient_chunk(index):
        start, stop = saved.chunks[index]
        V = saved.tiles[index]
        Q = scratch.array("winograd_m", (16, F, V.shape[2]), dout.dtype)
        _gradient_tiles(dout[start:stop], Q)
        # db: entry (1, 1) of A dY A^T, counting from 0 (plane 4*1 + 1), is the sum of the
        # tile's four values
        bias_share = Q[5].sum(axis=1) if has_bias else None
        return np.matmul(Q, V.transpose(0, 2, 1)), bias_share    # the 16 GEMMs

    gradient_u, bias_gradient = sum_in_order(run_chunks(gradient_chunk, range(len(saved.chunks))))
    return untransform_filter_gradient(gradient_u), bias_gradient


def transpose(y, weight):
    """dx of the convolution: a 3x3 convolution of y with the flipped, channel-swapped filters."""
    flipped = np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    return forward(y, flipped, None)
