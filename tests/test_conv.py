"""The im2col convolution equals the loop definition, and conv_transpose is its adjoint."""
import numpy as np
import pytest

from minicnn import Conv2D
from minicnn.functional import conv2d_naive
from minicnn.functional import col2im, im2col

from .conftest import device, host, on_backend

CASES = [  # (N, C, H, W, F, kernel, stride, padding)
    (2, 3, 7, 6, 4, 3, 1, 1), (1, 2, 8, 5, 3, 5, 2, 2), (3, 1, 6, 6, 2, 1, 2, 0),
    (2, 2, 9, 7, 3, 3, 2, 0), (1, 3, 5, 8, 2, 3, 1, 2),
]


@pytest.mark.parametrize("case", CASES)
def test_im2col_conv_equals_naive_loops(case, rng, backend_name):
    N, C, H, W, F, kernel, stride, padding = case
    layer = on_backend(Conv2D(C, F, kernel, stride, padding), backend_name)
    layer.params["b"][...] = device(layer, rng.standard_normal(F))
    x = rng.standard_normal((N, C, H, W))
    expected = conv2d_naive(x, host(layer.params["W"]), host(layer.params["b"]), stride, padding)
    np.testing.assert_allclose(host(layer.forward(device(layer, x))), expected,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_conv_transpose_is_the_adjoint(case, rng, backend_name):
    """<conv(x), y> == <x, conv_transpose(y)> for the bias-free convolution."""
    N, C, H, W, F, kernel, stride, padding = case
    layer = on_backend(Conv2D(C, F, kernel, stride, padding, bias=False), backend_name)
    x = rng.standard_normal((N, C, H, W))
    y = rng.standard_normal(layer.output_shape(x.shape))
    left = np.sum(host(layer.forward(device(layer, x))) * y)
    right = np.sum(x * host(layer.conv_transpose(device(layer, y), x.shape)))
    assert abs(left - right) <= 1e-10 * max(1.0, abs(left))


def test_conv_transpose_leaves_grads_and_cache_alone(rng, backend_name):
    layer = on_backend(Conv2D(2, 3, 3, stride=2, padding=1), backend_name)
    out = layer.forward(device(layer, rng.standard_normal((2, 2, 6, 6))))
    layer.backward(device(layer, np.ones(out.shape)))
    grads_before = {k: host(v).copy() for k, v in layer.grads.items()}
    cache_before = layer.cache
    layer.conv_transpose(device(layer, rng.standard_normal(out.shape)))
    assert layer.cache is cache_before
    for key, value in grads_before.items():
        np.testing.assert_array_equal(host(layer.grads[key]), value)


def test_col2im_is_the_adjoint_of_im2col(rng):
    """<im2col(x), c> == <x, col2im(c)>: col2im must sum every overlapping copy."""
    x = rng.standard_normal((2, 3, 7, 8))
    cols = im2col(x, 3, 3, stride=1, padding=1)
    c = rng.standard_normal(cols.shape)
    assert np.isclose(np.sum(cols * c), np.sum(x * col2im(c, x.shape, 3, 3, 1, 1)), rtol=1e-12)


def test_backward_does_not_mutate_dout(rng, backend_name):
    from minicnn import (BatchNorm2D, Dense, Dropout, Flatten, GlobalAvgPool2D, MaxPool2D,
                         ReLU)
    cases = [(Conv2D(2, 3, 3, padding=1), (2, 2, 5, 5)), (MaxPool2D(2), (2, 2, 6, 6)),
             (ReLU(), (2, 2, 4, 4)), (BatchNorm2D(2), (2, 2, 4, 4)), (Dense(4, 3), (2, 4)),
             (Flatten(), (2, 2, 3, 3)), (Dropout(0.5), (2, 6)), (GlobalAvgPool2D(), (2, 3, 4, 4))]
    for layer, shape in cases:
        layer = on_backend(layer, backend_name)
        out = layer.forward(device(layer, rng.standard_normal(shape)))
        saved = rng.standard_normal(out.shape)
        dout = device(layer, saved.copy())
        layer.backward(dout)
        np.testing.assert_array_equal(host(dout), saved, err_msg=type(layer).__name__)
