"""The CUDA kernels of minicnn/kernels/cupy_kernels.py equal their NumPy twins (needs a GPU)."""
import numpy as np
import pytest

from minicnn.functional import (col2im, conv2d_forward, conv2d_parameter_gradients,
                                conv2d_transpose, im2col, maxpool_forward, unpool)

from .conftest import CUPY_SKIP_REASON

pytestmark = pytest.mark.skipif(CUPY_SKIP_REASON is not None, reason=str(CUPY_SKIP_REASON))

CONV_CASES = [  # (N, C, H, W, F, kernel, stride, padding)
    (2, 3, 7, 6, 4, 3, 1, 1), (1, 2, 8, 5, 3, 5, 2, 2), (3, 1, 6, 6, 2, 1, 2, 0),
    (2, 2, 9, 7, 3, 3, 2, 0), (4, 32, 16, 16, 64, 3, 1, 1),
]
POOL_CASES = [(2, 2, (3, 4, 8, 8)), (3, 2, (2, 3, 9, 7)), (3, 1, (2, 2, 6, 5)),
              (2, 1, (1, 2, 5, 6)), (3, 3, (2, 2, 9, 9))]


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    return request.param


def on_gpu(array):
    import cupy
    return cupy.asarray(array)


@pytest.mark.parametrize("case", CONV_CASES)
def test_im2col_and_col2im(case, dtype, rng):
    from minicnn.kernels import cupy_kernels
    N, C, H, W, _, kernel, stride, padding = case
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    cols = im2col(x, kernel, kernel, stride, padding)
    np.testing.assert_array_equal(cupy_kernels.im2col(on_gpu(x), kernel, kernel, stride,
                                                      padding).get(), cols)
    dcols = rng.standard_normal(cols.shape).astype(dtype)
    expected = col2im(dcols, x.shape, kernel, kernel, stride, padding)
    tolerance = 1e-5 if dtype == "float32" else 1e-12   # sums in another order
    np.testing.assert_allclose(cupy_kernels.col2im(on_gpu(dcols), x.shape, kernel, kernel,
                                                   stride, padding).get(),
                               expected, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_products(case, dtype, rng):
    from minicnn.kernels import cupy_kernels
    N, C, H, W, F, kernel, stride, padding = case
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    weight = rng.standard_normal((F, C, kernel, kernel)).astype(dtype)
    bias = rng.standard_normal(F).astype(dtype)
    tolerance = dict(rtol=1e-4, atol=1e-4) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    out, cache = conv2d_forward(x, weight, bias, stride, padding)
    gpu_out, gpu_cache = cupy_kernels.conv2d_forward(on_gpu(x), on_gpu(weight), on_gpu(bias),
                                                     stride, padding)
    np.testing.assert_allclose(gpu_out.get(), out, **tolerance)
    dout = rng.standard_normal(out.shape).astype(dtype)
    for expected, got in zip(conv2d_parameter_gradients(dout, cache),
                             cupy_kernels.conv2d_parameter_gradients(on_gpu(dout), gpu_cache)):
        np.testing.assert_allclose(got.get(), expected, **tolerance)
    np.testing.assert_allclose(
        cupy_kernels.conv2d_transpose(on_gpu(dout), on_gpu(weight), x.shape, stride,
                                      padding).get(),
        conv2d_transpose(dout, weight, x.shape, stride, padding), **tolerance)


@pytest.mark.parametrize("kernel, stride, shape", POOL_CASES)
def test_maxpool_and_unpool(kernel, stride, shape, dtype, rng):
    from minicnn.kernels import cupy_kernels
    x = rng.standard_normal(shape).astype(dtype)
    x[0, 0, :kernel, :kernel] = 1.0       # a tie: the first offset must win, as in argmax
    out, cache = maxpool_forward(x, kernel, stride)
    gpu_out, gpu_cache = cupy_kernels.maxpool_forward(on_gpu(x), kernel, stride)
    np.testing.assert_array_equal(gpu_out.get(), out)
    np.testing.assert_array_equal(gpu_cache.switches.get(), cache.switches)
    dout = rng.standard_normal(out.shape).astype(dtype)
    np.testing.assert_allclose(
        cupy_kernels.unpool(on_gpu(dout), gpu_cache.switches, x.shape, kernel, stride).get(),
        unpool(dout, cache.switches, x.shape, kernel, stride), rtol=1e-6, atol=1e-6)
