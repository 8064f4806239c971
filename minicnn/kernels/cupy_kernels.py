"""Fast paths for the cupy backend: im2col / col2im and max-pooling as CUDA kernels.

Twins of minicnn/functional/im2col.py, conv.py and pool.py; tests/test_cupy_kernels.py
holds each equal to its NumPy version (it needs a GPU and skips without one).

The readable versions already run on CuPy, since they are written with ``xp``:
im2col copies one strided slice per kernel offset, which on a GPU is kh*kw
small kernel launches. Here every output element gets one CUDA thread that
computes where its value comes from, so each step is a single launch:

    im2col      thread per cols entry (n, row, p): read x at the tap under it (or 0 in the padding)
    col2im      thread per input pixel (n, c, y, x): *gather* the cols entries
                that copied it. A scatter (thread per cols entry, atomicAdd into
                x) would be shorter, but float atomics make the sum's order,
                and so its last bit, change from run to run.
    maxpool     thread per output: scan the window, keep the first maximum
                (the tie rule of ``argmax`` in the NumPy version)
    unpool      thread per input pixel: add the dout of every window whose switch
                points at it (again a gather, for the same reason as col2im)

The GEMMs around them are cuBLAS calls made by ``cupy.matmul`` and ``tensordot``.
Kernels are compiled by CuPy on first use and cached on disk by CuPy.

Like minicnn/functional, the functions take the array module from their
arguments (``array_module``): the kernels are built by that module's
``ElementwiseKernel``, so the same wrappers run on CuPy and on a stand-in.
"""
import functools

from ..functional import conv
from ..functional.arrays import array_module
from ..functional.im2col import conv_output_size
from ..functional.pool import MaxPoolCache, pool_output_size

_IM2COL = r"""
const ptrdiff_t positions = out_h * out_w;
const ptrdiff_t rows = (ptrdiff_t)channels * kernel_h * kernel_w;
const ptrdiff_t p = i % positions;
const ptrdiff_t row = (i / positions) % rows;
const ptrdiff_t n = i / (positions * rows);
const int c = row / (kernel_h * kernel_w);
const int tap_y = (row / kernel_w) % kernel_h;
const int tap_x = row % kernel_w;
const int y = (p / out_w) * stride + tap_y - padding;
const int x_pos = (p % out_w) * stride + tap_x - padding;
const bool inside = y >= 0 && y < height && x_pos >= 0 && x_pos < width;
cols = inside ? x[((n * channels + c) * height + y) * width + x_pos] : (T)0;
"""

_COL2IM = r"""
const ptrdiff_t positions = out_h * out_w;
const ptrdiff_t rows = (ptrdiff_t)channels * kernel_h * kernel_w;
const int x_pos = i % width;
const int y = (i / width) % height;
const int c = (i / ((ptrdiff_t)width * height)) % channels;
const ptrdiff_t n = i / ((ptrdiff_t)width * height * channels);
T total = 0;
for (int tap_y = 0; tap_y < kernel_h; ++tap_y) {
    const int shifted_y = y + padding - tap_y;
    if (shifted_y < 0 || shifted_y % stride != 0 || shifted_y / stride >= out_h) continue;
    for (int tap_x = 0; tap_x < kernel_w; ++tap_x) {
        const int shifted_x = x_pos + padding - tap_x;
        if (shifted_x < 0 || shifted_x % stride != 0 || shifted_x / stride >= out_w) continue;
        const ptrdiff_t row = ((ptrdiff_t)c * kernel_h + tap_y) * kernel_w + tap_x;
        const ptrdiff_t p = (ptrdiff_t)(shifted_y / stride) * out_w + shifted_x / stride;
        total += cols[(n * rows + row) * positions + p];
    }
}
image = total;
"""

_MAXPOOL = r"""
const int out_x = i % out_w;
const int out_y = (i / out_w) % out_h;
const ptrdiff_t plane = i / ((ptrdiff_t)out_w * out_h);
const T* window = &x[(plane * height + out_y * stride) * width + out_x * stride];
T best = window[0];
int best_index = 0;
for (int tap_y = 0; tap_y < kernel_size; ++tap_y) {
    for (int tap_x = 0; tap_x < kernel_size; ++tap_x) {
        const T value = window[tap_y * width + tap_x];
        if (value > best) {  // strictly greater: ties keep the first offset
            best = value;
            best_index = tap_y * kernel_size + tap_x;
        }
    }
}
out = best;
switches = best_index;
"""

_UNPOOL = r"""
const int x_pos = i % width;
const int y = (i / width) % height;
const ptrdiff_t plane = i / ((ptrdiff_t)width * height);
// the windows containing (y, x) start at rows out_y*stride in (y - kernel_size, y]
const int first_y = y >= kernel_size ? (y - kernel_size) / stride + 1 : 0;
const int first_x = x_pos >= kernel_size ? (x_pos - kernel_size) / stride + 1 : 0;
const int last_y = min(y / stride, out_h - 1);
const int last_x = min(x_pos / stride, out_w - 1);
T total = 0;
for (int out_y = first_y; out_y <= last_y; ++out_y) {
    for (int out_x = first_x; out_x <= last_x; ++out_x) {
        const ptrdiff_t at = (plane * out_h + out_y) * out_w + out_x;
        const int offset = (y - out_y * stride) * kernel_size + (x_pos - out_x * stride);
        if (switches[at] == offset) total += dout[at];
    }
}
dx = total;
"""


@functools.lru_cache(maxsize=None)
def _kernels(xp):
    """The four ElementwiseKernels of the array module ``xp``, built once (CuPy compiles each on first launch)."""
    sizes = "int32 channels, int32 height, int32 width, int32 kernel_h, int32 kernel_w, " \
            "int32 stride, int32 padding, int32 out_h, int32 out_w"
    pool_sizes = "int32 height, int32 width, int32 kernel_size, int32 stride, " \
                 "int32 out_h, int32 out_w"
    return {
        "im2col": xp.ElementwiseKernel(f"raw T x, {sizes}", "T cols", _IM2COL, "minicnn_im2col"),
        "col2im": xp.ElementwiseKernel(f"raw T cols, {sizes}", "T image", _COL2IM,
                                       "minicnn_col2im"),
        "maxpool": xp.ElementwiseKernel(f"raw T x, {pool_sizes}", "T out, uint8 switches",
                                        _MAXPOOL, "minicnn_maxpool"),
        "unpool": xp.ElementwiseKernel(f"raw T dout, raw uint8 switches, {pool_sizes}",
                                       "T dx", _UNPOOL, "minicnn_unpool"),
    }


def im2col(x, kernel_h, kernel_w, stride=1, padding=0):
    """x: (N, C, H, W) -> cols: (N, C*kh*kw, out_h*out_w); twin of functional/im2col.py:im2col."""
    xp = array_module(x)
    N, C, H, W = x.shape
    out_h = conv_output_size(H, kernel_h, stride, padding)
    out_w = conv_output_size(W, kernel_w, stride, padding)
    cols = xp.empty((N, C * kernel_h * kernel_w, out_h * out_w), dtype=x.dtype)
    _kernels(xp)["im2col"](xp.ascontiguousarray(x), C, H, W, kernel_h, kernel_w, stride,
                           padding, out_h, out_w, cols)
    return cols


def col2im(cols, x_shape, kernel_h, kernel_w, stride=1, padding=0):
    """cols: (N, C*kh*kw, out_h*out_w) -> (N, C, H, W); twin of functional/im2col.py:col2im."""
    xp = array_module(cols)
    N, C, H, W = x_shape
    out_h = conv_output_size(H, kernel_h, stride, padding)
    out_w = conv_output_size(W, kernel_w, stride, padding)
    image = xp.empty(x_shape, dtype=cols.dtype)
    _kernels(xp)["col2im"](xp.ascontiguousarray(cols), C, H, W, kernel_h, kernel_w, stride,
                           padding, out_h, out_w, image)
    return image


def conv2d_forward(x, weight, bias, stride=1, padding=0):
    """Twin of functional/conv.py:conv2d_forward: the same maths, with the CUDA im2col."""
    return conv.conv2d_forward(x, weight, bias, stride, padding, unfold=im2col)


def conv2d_parameter_gradients(dout, cache):
    """Twin of functional/conv.py:conv2d_parameter_gradients: dW = sum_n dout[n] @ cols[n].T, in one GEMM."""
    xp = array_module(dout)
    N, F = dout.shape[:2]
    dout_rows = dout.reshape(N, F, -1)
    weight_gradient = xp.tensordot(dout_rows, cache.cols, axes=((0, 2), (0, 2)))
    bias_gradient = dout_rows.sum(axis=(0, 2)) if cache.has_bias else None
    return weight_gradient.reshape(cache.weight.shape), bias_gradient


def conv2d_transpose(y, weight, x_shape, stride=1, padding=0):
    """Twin of functional/conv.py:conv2d_transpose: the same maths, with the CUDA col2im."""
    return conv.conv2d_transpose(y, weight, x_shape, stride, padding, fold=col2im)


def maxpool_forward(x, kernel_size=2, stride=None):
    """Twin of functional/pool.py:maxpool_forward -> (out, cache), cache.switches uint8."""
    xp = array_module(x)
    stride = kernel_size if stride is None else stride
    N, C, H, W = x.shape
    out_h, out_w = pool_output_size(H, kernel_size, stride), pool_output_size(W, kernel_size, stride)
    out = xp.empty((N, C, out_h, out_w), dtype=x.dtype)
    switches = xp.empty((N, C, out_h, out_w), dtype=xp.uint8)
    _kernels(xp)["maxpool"](xp.ascontiguousarray(x), H, W, kernel_size, stride, out_h, out_w,
                            out, switches)
    return out, MaxPoolCache(switches, tuple(x.shape), kernel_size, stride)


def unpool(y, switches, x_shape, kernel_size, stride):
    """Twin of functional/pool.py:unpool: route y to the switches -> (N, C, H, W)."""
    xp = array_module(y)
    _, _, H, W = x_shape
    out_h, out_w = y.shape[2:]
    dx = xp.empty(x_shape, dtype=y.dtype)
    _kernels(xp)["unpool"](xp.ascontiguousarray(y), xp.ascontiguousarray(switches), H, W,
                           kernel_size, stride, out_h, out_w, dx)
    return dx
