"""Fast path for im2col / col2im, in the "side by side" layout (twin of minicnn/functional/im2col.py).

The readable ``im2col`` returns cols of shape (N, C*kh*kw, P), one matrix per
sample, P = out_h * out_w. These kernels put the matrices of a group of
samples *side by side* instead:

    cols: (C*kh*kw, N*P)     sample n owns columns n*P .. (n+1)*P - 1

Row r and column n*P + p hold exactly what ``im2col(x)[n, r, p]`` holds; the
test is ``im2col(x).transpose(1, 0, 2).reshape(C*kh*kw, N*P)``. With this
layout each product of a convolution (forward, weight gradient, input
gradient) is *one* large matrix multiply over the whole group, which BLAS runs
much faster than N small ones.

The kernels are serial and release the GIL: the conv fast path runs them on
its worker threads, one chunk of samples per call (see minicnn/runtime/threads.py). Padding is
a range computation, not a padded copy: the inner loop runs only over output
positions whose input lies inside the image, and is a plain contiguous copy
when the stride is 1.
"""
import numpy as np
from numba import njit

from ..functional.im2col import conv_output_size


@njit(nogil=True, cache=True)
def _inside(offset, stride, padding, size, out_size):
    """The output positions [first, last) whose input ``position*stride + offset - padding``
    lies in [0, size): the rest read padding (zeros)."""
    first = max(0, (padding - offset + stride - 1) // stride)
    last = min(out_size, (size - 1 + padding - offset) // stride + 1)
    return first, max(first, last)


@njit(nogil=True, cache=True)
def _zero_wrapped_columns(row, j, padding, W):
    """In a "same" convolution row (H*W entries, image row after image row), zero the
    entries whose input column x + j - padding falls off the left or right edge: the
    same few columns of every image row, so one strided slice per column."""
    for column in range(padding - j):
        row[column::W] = 0
    for column in range(W - (j - padding), W):
        row[column::W] = 0


@njit(nogil=True, cache=True)
def _shifted_range(i, j, padding, W, positions):
    """For tap (i, j) of a "same" convolution: (shift, low, high). Row entry q copies
    image entry q + shift; only q in [low, high) lands inside the image plane."""
    shift = (i - padding) * W + (j - padding)
    return shift, max(0, -shift), min(positions, positions - shift)


@njit(nogil=True, cache=True)
def _im2col_kernel(x, kernel_h, kernel_w, stride, padding, out_h, out_w, cols):
    N, C, H, W = x.shape
    positions = out_h * out_w
    # A "same" convolution (stride 1, output as large as the input) has a shortcut: the
    # row for tap (i, j) is the whole image plane shifted by (i - padding, j - padding),
    # one contiguous copy, after which only the entries that wrapped around a left or
    # right edge need zeroing.
    same = stride == 1 and out_h == H and out_w == W
    for plane in range(N * C):
        n, c = plane // C, plane % C
        image = x[n, c].reshape(H * W)
        for i in range(kernel_h):
            y_first, y_last = _inside(i, stride, padding, H, out_h)
            for j in range(kernel_w):
                row = cols[(c * kernel_h + i) * kernel_w + j, n * positions:(n + 1) * positions]
                if same:
                    shift, low, high = _shifted_range(i, j, padding, W, positions)
                    row[:low] = 0
                    row[low:high] = image[low + shift:high + shift]
                    row[high:] = 0
                    _zero_wrapped_columns(row, j, padding, W)
                    continue
                x_first, x_last = _inside(j, stride, padding, W, out_w)
                w_first = x_first * stride + j - padding
                for y in range(out_h):
                    start = y * out_w
                    if y < y_first or y >= y_last:
                        row[start:start + out_w] = 0
                        continue
                    h = y * stride + i - padding
                    row[start:start + x_first] = 0
                    row[start + x_first:start + x_last] = x[
                        n, c, h, w_first:w_first + (x_last - x_first - 1) * stride + 1:stride]
                    row[start + x_last:start + out_w] = 0


@njit(nogil=True, cache=True)
def _col2im_kernel(cols, kernel_h, kernel_w, stride, padding, out_h, out_w, dx):
    N, C, H, W = dx.shape
    positions = out_h * out_w
    same = stride == 1 and out_h == H and out_w == W
    for plane in range(N * C):
        n, c = plane // C, plane % C
        dx[n, c] = 0
        image = dx[n, c].reshape(H * W)
        for i in range(kernel_h):
            y_first, y_last = _inside(i, stride, padding, H, out_h)
            for j in range(kernel_w):
                row = cols[(c * kernel_h + i) * kernel_w + j, n * positions:(n + 1) * positions]
                if same:
                    # the adjoint of the shortcut above: drop the wrapped entries (cols is
                    # our scratch buffer), then add the row onto the plane in one sweep
                    _zero_wrapped_columns(row, j, padding, W)
                    shift, low, high = _shifted_range(i, j, padding, W, positions)
                    target, source = image[low + shift:high + shift], row[low:high]
                    for index in range(high - low):
                        target[index] += source[index]
                    continue
                x_first, x_last = _inside(j, stride, padding, W, out_w)
                for y in range(y_first, y_last):
                    h = y * stride + i - padding
                    target = dx[n, c, h, x_first * stride + j - padding:]
                    source = row[y * out_w + x_first:y * out_w + x_last]
                    for index in range(x_last - x_first):
                        target[index * stride] += source[index]


def im2col_side_by_side(x, kernel_h, kernel_w, stride, padding, out=None):
    """x: (N, C, H, W) -> cols: (C*kh*kw, N*out_h*out_w), the samples' columns side by side.

    ``out``, if given, is a C-contiguous array of that shape to fill (a reused buffer).
    """
    N, C, H, W = x.shape
    out_h = conv_output_size(H, kernel_h, stride, padding)
    out_w = conv_output_size(W, kernel_w, stride, padding)
    if out is None:
        out = np.empty((C * kernel_h * kernel_w, N * out_h * out_w), dtype=x.dtype)
    _im2col_kernel(np.ascontiguousarray(x), kernel_h, kernel_w, stride, padding, out_h, out_w,
                   out)
    return out


def col2im_side_by_side(cols, x_shape, kernel_h, kernel_w, stride, padding, out=None):
    """The adjoint: cols (C*kh*kw, N*out_h*out_w) -> dx (N, C, H, W), summing overlaps.

    cols is used as scratch space: entries that no input pixel owns may be zeroed.
    ``out``, if given, is a C-contiguous array of shape ``x_shape`` to overwrite.
    """
    _, _, H, W = x_shape
    out_h = conv_output_size(H, kernel_h, stride, padding)
    out_w = conv_output_size(W, kernel_w, stride, padding)
    if out is None:
        out = np.empty(x_shape, dtype=cols.dtype)
    _col2im_kernel(np.ascontiguousarray(cols), kernel_h, kernel_w, stride, padding, out_h, out_w,
                   out)
    return out
