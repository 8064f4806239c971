"""Fast paths for the cupy backend: im2col / col2im and max-pooling as CUDA kernels.

Twins of minicnn/functional/im2col.py, conv.py and pool.py; tests/test_cupy_kernels.py
holds each equal to its NumPy version (with CuPy on a GPU, and without one through
a host emulation of CuPy's ElementwiseKernel).

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

Flat indices and counts (the loop index i, positions, rows, offsets into x) are
``ptrdiff_t``: a tensor, a feature map or a kernel's taps can pass 2**31 elements.
A coordinate within one row, column or window stays ``int``, and so do the size
arguments, which CuPy passes as int32: ``conv_sizes`` and ``pool_sizes`` refuse
sizes beyond that (docs/gpu.md, "Index limits").

The kernels are plain data (``KERNEL_SOURCES``: CuPy's four ElementwiseKernel
arguments each). Like minicnn/functional, the wrappers take the array module
``xp`` from their arguments and launch the kernels ``xp.ElementwiseKernel``
builds (``kernels_of``), or the table given as ``kernels=``. So the exact
wrappers and kernel sources run without a GPU too: tests/test_cupy_kernels.py
gives them NumPy arrays and the host emulation of ElementwiseKernel in
tests/cuda_host.py, and the CuPy stand-in of the test suite gives them its
arrays and its ElementwiseKernel.
"""
import functools
from typing import NamedTuple

from ..functional import conv
from ..functional.arrays import array_module
from ..functional.im2col import conv_output_size
from ..functional.pool import MaxPoolCache, pool_output_size

_IM2COL = r"""
const ptrdiff_t positions = (ptrdiff_t)out_h * out_w;
const ptrdiff_t taps = (ptrdiff_t)kernel_h * kernel_w;
const ptrdiff_t rows = channels * taps;
const ptrdiff_t p = i % positions;
const ptrdiff_t row = (i / positions) % rows;
const ptrdiff_t n = i / (positions * rows);
const int c = row / taps;
const int tap_y = (row / kernel_w) % kernel_h;
const int tap_x = row % kernel_w;
const int y = (p / out_w) * stride + tap_y - padding;
const int x_pos = (p % out_w) * stride + tap_x - padding;
const bool inside = y >= 0 && y < height && x_pos >= 0 && x_pos < width;
cols = inside ? x[((n * channels + c) * height + y) * width + x_pos] : (T)0;
"""

_COL2IM = r"""
const ptrdiff_t positions = (ptrdiff_t)out_h * out_w;
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
        const T value = window[(ptrdiff_t)tap_y * width + tap_x];
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


class ConvSizes(NamedTuple):
    """The size arguments of the im2col and col2im kernels, in their order (each an int32)."""
    channels: int
    height: int
    width: int
    kernel_h: int
    kernel_w: int
    stride: int
    padding: int
    out_h: int
    out_w: int

    def cols_shape(self, batch):
        """(N, C*kh*kw, out_h*out_w)."""
        return (batch, self.channels * self.kernel_h * self.kernel_w, self.out_h * self.out_w)


class PoolSizes(NamedTuple):
    """The size arguments of the maxpool and unpool kernels, in their order (each an int32)."""
    height: int
    width: int
    kernel_size: int
    stride: int
    out_h: int
    out_w: int


INT32_MAX = 2**31 - 1


def _check_int32(**sizes):
    """The kernels take their sizes as int32 and compute a row or column coordinate
    (up to the padded size) in int: refuse what would wrap."""
    for name, value in sizes.items():
        if value > INT32_MAX:
            raise ValueError(f"{name} = {value} is too large for the CUDA kernels, whose "
                             f"sizes and coordinates are int32 (at most {INT32_MAX})")


def conv_sizes(x_shape, kernel_h, kernel_w, stride, padding):
    """The launch arguments of im2col / col2im for an input of shape (N, C, H, W)."""
    _, C, H, W = x_shape
    sizes = ConvSizes(C, H, W, kernel_h, kernel_w, stride, padding,
                      conv_output_size(H, kernel_h, stride, padding),
                      conv_output_size(W, kernel_w, stride, padding))
    _check_int32(**sizes._asdict(), padded_height=H + 2 * padding, padded_width=W + 2 * padding)
    return sizes


def pool_sizes(x_shape, kernel_size, stride):
    """The launch arguments of maxpool / unpool for an input of shape (N, C, H, W)."""
    _, _, H, W = x_shape
    sizes = PoolSizes(H, W, kernel_size, stride, pool_output_size(H, kernel_size, stride),
                      pool_output_size(W, kernel_size, stride))
    _check_int32(**sizes._asdict())
    return sizes


class KernelSource(NamedTuple):
    """The four arguments of ``cupy.ElementwiseKernel``, in its order."""
    in_params: str
    out_params: str
    operation: str
    name: str


def _int32_params(sizes):
    """"int32 channels, int32 height, ...": a sizes tuple as kernel parameters."""
    return ", ".join(f"int32 {name}" for name in sizes._fields)


KERNEL_SOURCES = {
    "im2col": KernelSource(f"raw T x, {_int32_params(ConvSizes)}", "T cols", _IM2COL,
                           "minicnn_im2col"),
    "col2im": KernelSource(f"raw T cols, {_int32_params(ConvSizes)}", "T image", _COL2IM,
                           "minicnn_col2im"),
    "maxpool": KernelSource(f"raw T x, {_int32_params(PoolSizes)}", "T out, uint8 switches",
                            _MAXPOOL, "minicnn_maxpool"),
    "unpool": KernelSource(f"raw T dout, raw uint8 switches, {_int32_params(PoolSizes)}",
                           "T dx", _UNPOOL, "minicnn_unpool"),
}


def build_kernels(elementwise_kernel):
    """The kernel table {name: kernel}, each made by ``elementwise_kernel(*KERNEL_SOURCES[name])``:
    cupy.ElementwiseKernel, or the host emulation in tests/cuda_host.py."""
    return {name: elementwise_kernel(*source) for name, source in KERNEL_SOURCES.items()}


@functools.lru_cache(maxsize=None)
def kernels_of(xp):
    """The kernel table of the array module ``xp`` (cupy, or a stand-in with an
    ElementwiseKernel), built once; CuPy compiles each kernel on its first launch."""
    return build_kernels(xp.ElementwiseKernel)


def _launch(xp, kernels, name, *args):
    """Run kernel ``name`` of ``kernels`` (None: xp's table) on inputs then outputs."""
    (kernels_of(xp) if kernels is None else kernels)[name](*args)


def im2col(x, kernel_h, kernel_w, stride=1, padding=0, *, kernels=None):
    """x: (N, C, H, W) -> cols: (N, C*kh*kw, out_h*out_w); twin of functional/im2col.py:im2col.

    ``kernels``: the kernel table to launch (default: that of x's array module);
    the same for every wrapper below.
    """
    xp = array_module(x)
    sizes = conv_sizes(x.shape, kernel_h, kernel_w, stride, padding)
    cols = xp.empty(sizes.cols_shape(x.shape[0]), dtype=x.dtype)
    _launch(xp, kernels, "im2col", xp.ascontiguousarray(x), *sizes, cols)
    return cols


def col2im(cols, x_shape, kernel_h, kernel_w, stride=1, padding=0, *, kernels=None):
    """cols: (N, C*kh*kw, out_h*out_w) -> (N, C, H, W); twin of functional/im2col.py:col2im."""
    xp = array_module(cols)
    sizes = conv_sizes(x_shape, kernel_h, kernel_w, stride, padding)
    image = xp.empty(x_shape, dtype=cols.dtype)
    _launch(xp, kernels, "col2im", xp.ascontiguousarray(cols), *sizes, image)
    return image


def conv2d_forward(x, weight, bias, stride=1, padding=0, *, kernels=None):
    """Twin of functional/conv.py:conv2d_forward: the same maths, with the CUDA im2col."""
    return conv.conv2d_forward(x, weight, bias, stride, padding,
                               unfold=functools.partial(im2col, kernels=kernels))


def conv2d_parameter_gradients(dout, cache):
    """Twin of functional/conv.py:conv2d_parameter_gradients: dW = sum_n dout[n] @ cols[n].T, in one GEMM."""
    xp = array_module(dout)
    N, F = dout.shape[:2]
    dout_rows = dout.reshape(N, F, -1)
    weight_gradient = xp.tensordot(dout_rows, cache.cols, axes=((0, 2), (0, 2)))
    bias_gradient = dout_rows.sum(axis=(0, 2)) if cache.has_bias else None
    return weight_gradient.reshape(cache.weight.shape), bias_gradient


def conv2d_transpose(y, weight, x_shape, stride=1, padding=0, *, kernels=None):
    """Twin of functional/conv.py:conv2d_transpose: the same maths, with the CUDA col2im."""
    return conv.conv2d_transpose(y, weight, x_shape, stride, padding,
                                 fold=functools.partial(col2im, kernels=kernels))


def maxpool_forward(x, kernel_size=2, stride=None, *, kernels=None):
    """Twin of functional/pool.py:maxpool_forward -> (out, cache), cache.switches uint8."""
    xp = array_module(x)
    stride = kernel_size if stride is None else stride
    sizes = pool_sizes(x.shape, kernel_size, stride)
    out = xp.empty((*x.shape[:2], sizes.out_h, sizes.out_w), dtype=x.dtype)
    switches = xp.empty(out.shape, dtype=xp.uint8)
    _launch(xp, kernels, "maxpool", xp.ascontiguousarray(x), *sizes, out, switches)
    return out, MaxPoolCache(switches, tuple(x.shape), kernel_size, stride)


def unpool(y, switches, x_shape, kernel_size, stride, *, kernels=None):
    """Twin of functional/pool.py:unpool: route y to the switches -> (N, C, H, W)."""
    xp = array_module(y)
    sizes = pool_sizes(x_shape, kernel_size, stride)
    if tuple(y.shape) != (*x_shape[:2], sizes.out_h, sizes.out_w):
        # the kernel would read past y on the GPU, silently
        raise ValueError(f"unpool: y has shape {tuple(y.shape)}, but pooling {tuple(x_shape)} "
                         f"with kernel {kernel_size}, stride {stride} gives "
                         f"{(*x_shape[:2], sizes.out_h, sizes.out_w)}")
    dx = xp.empty(x_shape, dtype=y.dtype)
    _launch(xp, kernels, "unpool", xp.ascontiguousarray(y), xp.ascontiguousarray(switches),
            *sizes, dx)
    return dx
