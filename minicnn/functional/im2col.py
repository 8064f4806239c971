"""im2col and col2im: turn convolution into one matrix multiply.

    x: (N, C, H, W)  --im2col-->  cols: (N, C*kh*kw, out_h*out_w)

Column p of sample n holds the C*kh*kw input values under the kernel when it
sits at output position p. Convolution is then ``W.reshape(F, -1) @ cols``.

This is the readable version, written with ``xp`` so it runs on any array
module. Instead of gathering each window with fancy indexing, it loops
over the kh*kw kernel *offsets* and copies one strided slice per offset: for
offset (i, j), the pixels that kernel tap (i, j) touches across all output
positions are exactly ``x_padded[:, :, i : i + stride*out_h : stride,
j : j + stride*out_w : stride]``. The fast paths are
``minicnn/kernels/im2col_numba.py`` (numba backend) and the CUDA kernels of
``minicnn/kernels/cupy_kernels.py`` (cupy backend). See docs/layers.md, section 1.
"""
from .arrays import array_module


def conv_output_size(size, kernel, stride, padding):
    """Output length along one axis: floor((size + 2*padding - kernel) / stride) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def im2col(x, kernel_h, kernel_w, stride=1, padding=0):
    """x: (N, C, H, W) -> cols: (N, C*kernel_h*kernel_w, out_h*out_w)."""
    xp = array_module(x)
    N, C, H, W = x.shape
    out_h = conv_output_size(H, kernel_h, stride, padding)
    out_w = conv_output_size(W, kernel_w, stride, padding)
    x_padded = xp.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))

    cols = xp.empty((N, C, kernel_h, kernel_w, out_h, out_w), dtype=x.dtype)
    for i in range(kernel_h):
        for j in range(kernel_w):
            cols[:, :, i, j] = x_padded[:, :, i:i + stride * out_h:stride,
                                        j:j + stride * out_w:stride]
    return cols.reshape(N, C * kernel_h * kernel_w, out_h * out_w)


def col2im(cols, x_shape, kernel_h, kernel_w, stride=1, padding=0):
    """The adjoint of im2col: cols (N, C*kh*kw, out_h*out_w) -> (N, C, H, W).

    Every input pixel receives the sum of all column entries that copied it.
    Overlapping windows overlap in the strided slices, so we accumulate with
    ``+=`` one kernel offset at a time (never ``a[idx] += v`` with repeated
    indices, which would drop all but one of the repeats).
    """
    xp = array_module(cols)
    N, C, H, W = x_shape
    out_h = conv_output_size(H, kernel_h, stride, padding)
    out_w = conv_output_size(W, kernel_w, stride, padding)
    cols = cols.reshape(N, C, kernel_h, kernel_w, out_h, out_w)

    x_padded = xp.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=cols.dtype)
    for i in range(kernel_h):
        for j in range(kernel_w):
            x_padded[:, :, i:i + stride * out_h:stride,
                     j:j + stride * out_w:stride] += cols[:, :, i, j]
    return x_padded[:, :, padding:padding + H, padding:padding + W]
