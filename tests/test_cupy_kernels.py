"""The CUDA kernels of minicnn/kernels/cupy_kernels.py equal their NumPy twins.

With a GPU they run on CuPy. Without one, the same wrappers run the same kernel source
on NumPy arrays through the host emulation of CuPy's ElementwiseKernel
(tests/cuda_host.py: g++ runs each kernel's body once per index i).
"""
import dataclasses

import numpy as np
import pytest

from minicnn.kernels import cupy_kernels
from minicnn.functional import (col2im, conv2d_forward, conv2d_parameter_gradients,
                                conv2d_transpose, im2col, maxpool_forward, unpool)

from . import cuda_host
from .conftest import CUPY_SKIP_REASON, host

CONV_CASES = [  # (N, C, H, W, F, kernel_h, kernel_w, stride, padding)
    (2, 3, 7, 6, 4, 3, 3, 1, 1), (1, 2, 8, 5, 3, 5, 5, 2, 2), (3, 1, 6, 6, 2, 1, 1, 2, 0),
    (2, 2, 9, 7, 3, 3, 3, 2, 0), (4, 32, 16, 16, 64, 3, 3, 1, 1),
    (2, 3, 7, 9, 2, 2, 4, 1, 1),    # a rectangular kernel on odd sizes
    (1, 2, 9, 9, 2, 2, 2, 3, 0),    # stride > kernel: pixels no window covers
    (1, 2, 3, 4, 2, 2, 2, 1, 2),    # padding >= kernel: windows wholly in the padding
    (1, 1, 1, 1, 1, 3, 3, 1, 1),    # a 1x1 image
]
POOL_CASES = [  # (kernel, stride, (N, C, H, W))
    (2, 2, (3, 4, 8, 8)), (3, 2, (2, 3, 9, 7)), (3, 1, (2, 2, 6, 5)), (2, 1, (1, 2, 5, 6)),
    (3, 3, (2, 2, 9, 9)),
    (2, 2, (2, 1, 7, 9)),           # odd sizes: the last row and column are in no window
    (2, 3, (1, 2, 8, 8)),           # stride > kernel: gaps between windows
    (16, 16, (1, 1, 16, 33)),       # the largest window: switches up to 255
]


@dataclasses.dataclass(frozen=True)
class Device:
    """Where the kernels run: CuPy on a GPU, or the host emulation on NumPy arrays."""
    kernels: dict | None   # the kernel table handed to the wrappers; None: their CuPy kernels
    to_device: object      # NumPy array -> array on that device


@pytest.fixture(scope="module")
def host_kernels():
    """The kernel table built with the host emulation of ElementwiseKernel."""
    if cuda_host.GXX_SKIP_REASON is not None:
        pytest.skip(cuda_host.GXX_SKIP_REASON)
    return cupy_kernels.build_kernels(cuda_host.ElementwiseKernel)


@pytest.fixture(scope="module")
def device(request):
    if CUPY_SKIP_REASON is None:
        import cupy
        return Device(kernels=None, to_device=cupy.asarray)
    if cuda_host.GXX_SKIP_REASON is not None:
        pytest.skip(f"{CUPY_SKIP_REASON}, and {cuda_host.GXX_SKIP_REASON}")
    return Device(kernels=request.getfixturevalue("host_kernels"), to_device=np.asarray)


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    return request.param


@pytest.mark.parametrize("case", CONV_CASES)
def test_im2col_and_col2im(case, dtype, rng, device):
    N, C, H, W, _, kernel_h, kernel_w, stride, padding = case
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    cols = im2col(x, kernel_h, kernel_w, stride, padding)
    np.testing.assert_array_equal(host(cupy_kernels.im2col(
        device.to_device(x), kernel_h, kernel_w, stride, padding, kernels=device.kernels)), cols)
    dcols = rng.standard_normal(cols.shape).astype(dtype)
    expected = col2im(dcols, x.shape, kernel_h, kernel_w, stride, padding)
    tolerance = 1e-5 if dtype == "float32" else 1e-12   # sums in another order
    np.testing.assert_allclose(host(cupy_kernels.col2im(
        device.to_device(dcols), x.shape, kernel_h, kernel_w, stride, padding,
        kernels=device.kernels)), expected, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_products(case, dtype, rng, device):
    N, C, H, W, F, kernel_h, kernel_w, stride, padding = case
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    weight = rng.standard_normal((F, C, kernel_h, kernel_w)).astype(dtype)
    bias = rng.standard_normal(F).astype(dtype)
    tolerance = dict(rtol=1e-4, atol=1e-4) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    out, cache = conv2d_forward(x, weight, bias, stride, padding)
    device_out, device_cache = cupy_kernels.conv2d_forward(
        device.to_device(x), device.to_device(weight), device.to_device(bias), stride, padding,
        kernels=device.kernels)
    np.testing.assert_allclose(host(device_out), out, **tolerance)
    dout = rng.standard_normal(out.shape).astype(dtype)
    for expected, got in zip(
            conv2d_parameter_gradients(dout, cache),
            cupy_kernels.conv2d_parameter_gradients(device.to_device(dout), device_cache)):
        np.testing.assert_allclose(host(got), expected, **tolerance)
    np.testing.assert_allclose(
        host(cupy_kernels.conv2d_transpose(device.to_device(dout), device.to_device(weight),
                                           x.shape, stride, padding, kernels=device.kernels)),
        conv2d_transpose(dout, weight, x.shape, stride, padding), **tolerance)


def pool_input(rng, kernel, stride, shape, dtype):
    """Random values, with ties and a pixel that wins several overlapping windows:

    * the last plane constant: every window a tie, so the first offset must win, as in argmax;
    * the first window of plane [0, 0] a tie as well;
    * a peak at the bottom-right corner of the last window of plane [0, 0]: switch k*k-1
      (255 for the largest window), and with stride < kernel the winner of every window
      that holds it, so unpool must add up their gradients.
    """
    x = rng.standard_normal(shape).astype(dtype)
    x[-1, -1] = 0.5
    x[0, 0, :kernel, :kernel] = 1.0
    out_h, out_w = (shape[2] - kernel) // stride + 1, (shape[3] - kernel) // stride + 1
    x[0, 0, (out_h - 1) * stride + kernel - 1, (out_w - 1) * stride + kernel - 1] = 10.0
    return x


@pytest.mark.parametrize("kernel, stride, shape", POOL_CASES)
def test_maxpool_and_unpool(kernel, stride, shape, dtype, rng, device):
    x = pool_input(rng, kernel, stride, shape, dtype)
    out, cache = maxpool_forward(x, kernel, stride)
    switches = cache.switches
    device_out, device_cache = cupy_kernels.maxpool_forward(
        device.to_device(x), kernel, stride, kernels=device.kernels)
    np.testing.assert_array_equal(host(device_out), out)
    np.testing.assert_array_equal(host(device_cache.switches), switches)
    assert switches[0, 0, -1, -1] == kernel * kernel - 1
    dout = rng.standard_normal(out.shape).astype(dtype)
    np.testing.assert_allclose(
        host(cupy_kernels.unpool(device.to_device(dout), device_cache.switches, x.shape,
                                 kernel, stride, kernels=device.kernels)),
        unpool(dout, switches, x.shape, kernel, stride), rtol=1e-6, atol=1e-6)


def test_unpool_refuses_a_dout_of_another_shape(device):
    x = np.zeros((1, 2, 6, 6))
    with pytest.raises(ValueError, match=r"y has shape \(1, 2, 2, 2\), but pooling"):
        cupy_kernels.unpool(device.to_device(np.zeros((1, 2, 2, 2))),
                            device.to_device(np.zeros((1, 2, 2, 2), np.uint8)),
                            x.shape, 2, 2, kernels=device.kernels)


# --- Index arithmetic above 2**31 elements ---
# On the host emulation only, which can run the last few i of a launch far too big to
# allocate: the arrays are lazy_zeros, which take memory only where they are touched.

RUN = 1000              # how many of the last indices each launch runs
SIDE = 46_341           # SIDE**2 = 2_147_488_281 > 2**31 - 1
WIDE = 143_165_578      # 15 * WIDE > 2**31 - 1


def check_copy_at_the_top(kernel, source, sizes, target):
    """Run ``kernel(source, *sizes, target)``, a launch that copies source to target
    (both flattened), for its last RUN indices, and check those entries."""
    flat_source, flat_target = source.reshape(-1), target.reshape(-1)
    top = flat_target.size - RUN
    flat_source[top:] = np.arange(1, RUN + 1)
    kernel(source, *sizes, target, loop_range=(top, flat_target.size))
    np.testing.assert_array_equal(flat_target[top:], flat_source[top:])


@pytest.mark.parametrize("kernel", [1, SIDE], ids=["positions", "taps"])
def test_im2col_indexes_above_2_to_the_31(kernel, host_kernels):
    """A SIDE x SIDE image: with a 1x1 kernel it has SIDE**2 output positions, with a
    kernel the size of the image SIDE**2 kernel taps. Either way cols is the image."""
    x_shape = (1, 1, SIDE, SIDE)
    sizes = cupy_kernels.conv_sizes(x_shape, kernel, kernel, 1, 0)
    x = cuda_host.lazy_zeros(x_shape, np.float32)
    check_copy_at_the_top(host_kernels["im2col"], x, sizes,
                          cuda_host.lazy_zeros(sizes.cols_shape(1), np.float32))


def test_col2im_indexes_above_2_to_the_31(host_kernels):
    """Two channels of SIDE x SIDE, 1x1 kernel: channel 1 reads cols from row 1, which
    starts SIDE**2 entries in. The image is cols."""
    x_shape = (1, 2, SIDE, SIDE)
    sizes = cupy_kernels.conv_sizes(x_shape, 1, 1, 1, 0)
    cols = cuda_host.lazy_zeros(sizes.cols_shape(1), np.float32)
    check_copy_at_the_top(host_kernels["col2im"], cols, sizes,
                          cuda_host.lazy_zeros(x_shape, np.float32))


def test_maxpool_and_unpool_index_above_2_to_the_31(host_kernels):
    """16 rows of WIDE pixels in 16x16 windows, stride 16: the bottom row of a window is
    15 * WIDE elements past its top. The last RUN windows each have their maximum in
    the bottom row, at a column of their own; unpool must route dout back to it."""
    x_shape = (1, 1, 16, WIDE)
    sizes = cupy_kernels.pool_sizes(x_shape, 16, 16)
    windows = np.arange(sizes.out_w - RUN, sizes.out_w)
    columns = windows % 16
    x = cuda_host.lazy_zeros(x_shape, np.float32)
    x[0, 0, 15, windows * 16 + columns] = np.arange(1, RUN + 1)
    out = cuda_host.lazy_zeros((1, 1, 1, sizes.out_w), np.float32)
    switches = cuda_host.lazy_zeros(out.shape, np.uint8)
    host_kernels["maxpool"](x, *sizes, out, switches, loop_range=(windows[0], sizes.out_w))
    np.testing.assert_array_equal(out[0, 0, 0, windows], np.arange(1, RUN + 1))
    np.testing.assert_array_equal(switches[0, 0, 0, windows], 15 * 16 + columns)

    dout = cuda_host.lazy_zeros(out.shape, np.float32)
    dout[0, 0, 0, windows] = np.arange(1, RUN + 1) / 4
    dx = cuda_host.lazy_zeros(x_shape, np.float32)
    bottom_row = dx[0, 0, 15, windows[0] * 16:]   # the pixels under the last windows' bottom row
    first = 15 * WIDE + windows[0] * 16
    host_kernels["unpool"](dout, switches, *sizes, dx, loop_range=(first, first + bottom_row.size))
    expected = np.zeros(bottom_row.size, np.float32)
    expected[(windows - windows[0]) * 16 + columns] = np.arange(1, RUN + 1) / 4
    np.testing.assert_array_equal(bottom_row, expected)


@pytest.mark.parametrize("launch_sizes, args, message", [
    (cupy_kernels.conv_sizes, ((1, 2**31, 4, 4), 3, 3, 1, 1), "channels = 2147483648"),
    (cupy_kernels.conv_sizes, ((1, 1, 2**31 - 2, 4), 3, 3, 1, 1), "padded_height = 2147483648"),
    (cupy_kernels.pool_sizes, ((1, 1, 4, 2**31), 2, 2), "width = 2147483648"),
])
def test_sizes_beyond_int32_are_refused(launch_sizes, args, message):
    with pytest.raises(ValueError, match=f"{message} is too large for the CUDA kernels"):
        launch_sizes(*args)
