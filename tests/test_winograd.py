"""Winograd F(2x2, 3x3): the readable NumPy version (minicnn/functional/winograd.py) equals the
definition of convolution (im2col, minicnn/functional/conv.py), and the Numba fast path
(minicnn/kernels/winograd_numba.py) equals the readable version, in all three products."""
import numpy as np
import pytest

from minicnn.functional import conv, winograd
from minicnn.kernels import winograd_numba

# (N, C, H, W), F: odd batch, one channel, non-square images, few and many filters
READABLE_CASES = [((1, 1, 2, 2), 1), ((3, 2, 6, 4), 5), ((2, 4, 8, 10), 3), ((1, 3, 4, 6), 16)]
# the fast path's conditions: at least 16 channels in and out
FAST_CASES = [((2, 16, 8, 8), 16), ((3, 16, 6, 10), 24), ((1, 20, 4, 4), 16)]


def close(dtype):
    return {"rtol": 1e-4, "atol": 1e-4} if dtype == "float32" else {"rtol": 1e-11, "atol": 1e-11}


def case_arrays(x_shape, filters, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    weight = rng.standard_normal((filters, x_shape[1], 3, 3)).astype(dtype)
    bias = rng.standard_normal(filters).astype(dtype)
    dout = rng.standard_normal((x_shape[0], filters) + x_shape[2:]).astype(dtype)
    return x, weight, bias, dout


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("x_shape, filters", READABLE_CASES)
def test_the_readable_winograd_equals_the_convolution(x_shape, filters, dtype):
    x, weight, bias, dout = case_arrays(x_shape, filters, dtype)
    expected, cache = conv.conv2d_forward(x, weight, bias, stride=1, padding=1)
    np.testing.assert_allclose(winograd.winograd_conv3x3_forward(x, weight, bias), expected,
                               **close(dtype))
    expected_dw, _ = conv.conv2d_parameter_gradients(dout, cache)
    np.testing.assert_allclose(winograd.winograd_conv3x3_weight_gradient(dout, x), expected_dw,
                               **close(dtype))
    np.testing.assert_allclose(winograd.winograd_conv3x3_transpose(dout, weight),
                               conv.conv2d_transpose(dout, weight, x.shape, 1, 1), **close(dtype))
    assert winograd.winograd_conv3x3_forward(x, weight, None).dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("x_shape, filters", FAST_CASES)
def test_the_numba_fast_path_equals_the_readable_winograd(x_shape, filters, dtype):
    x, weight, bias, dout = case_arrays(x_shape, filters, dtype, seed=1)
    assert winograd_numba.applies(x.shape, weight.shape, 1, 1)
    out, tiles = winograd_numba.forward(x, weight, bias, keep_tiles=True)
    np.testing.assert_allclose(out, winograd.winograd_conv3x3_forward(x, weight, bias),
                               **close(dtype))
    dw, db = winograd_numba.weight_gradient(dout, tiles, has_bias=True)
    np.testing.assert_allclose(dw, winograd.winograd_conv3x3_weight_gradient(dout, x),
                               **close(dtype))
    np.testing.assert_allclose(db, dout.sum(axis=(0, 2, 3)), **close(dtype))
    np.testing.assert_allclose(winograd_numba.transpose(dout, weight),
                               winograd.winograd_conv3x3_transpose(dout, weight), **close(dtype))


def test_the_transforms_are_those_of_the_kernel():
    """The fast path writes G's products out by hand; its FILTER_TRANSFORM is the readable G."""
    np.testing.assert_array_equal(winograd_numba.FILTER_TRANSFORM, np.array(winograd.G))
    weight = np.random.default_rng(2).standard_normal((16, 16, 3, 3))
    np.testing.assert_allclose(winograd_numba.transform_filters(weight),
                               winograd.filter_tiles(weight), atol=1e-14)


@pytest.mark.parametrize("x_shape, weight_shape, stride, padding, applies", [
    ((1, 3, 8, 8), (4, 3, 3, 3), 1, 1, True),
    ((1, 3, 7, 8), (4, 3, 3, 3), 1, 1, False),     # odd height: no whole 2x2 tiles
    ((1, 3, 8, 8), (4, 3, 3, 3), 2, 1, False),
    ((1, 3, 8, 8), (4, 3, 3, 3), 1, 0, False),
    ((1, 3, 8, 8), (4, 3, 5, 5), 1, 1, False)])
def test_winograd_applies_only_where_it_computes_the_convolution(x_shape, weight_shape, stride,
                                                                padding, applies):
    assert winograd.winograd_applies(x_shape, weight_shape, stride, padding) is applies
