"""The conv and ReLU fast paths of the numba backend equal their readable NumPy twins."""
import numpy as np
import pytest

from minicnn import kernels
from minicnn.kernels import conv_numba
from minicnn.layers import activations as reference_activations
from minicnn.layers import conv as reference_conv

CONVS = [  # (N, C, H, W, F, kernel, stride, padding)
    (5, 3, 9, 8, 4, 3, 1, 1), (3, 2, 8, 5, 3, 5, 2, 2), (4, 1, 6, 6, 2, 1, 2, 0),
    (3, 2, 9, 7, 3, 3, 2, 0), (2, 3, 5, 8, 2, 3, 1, 2), (7, 4, 4, 4, 6, 2, 2, 0),
]


def tolerance(dtype):
    return {"rtol": 2e-5, "atol": 2e-5} if dtype == "float32" else {"rtol": 1e-12, "atol": 1e-12}


@pytest.fixture(params=["one chunk", "ragged chunks"])
def chunking(request, monkeypatch):
    """Run each case as one chunk, and split into chunks of 2 samples (the last one shorter)."""
    if request.param == "ragged chunks":
        monkeypatch.setattr(conv_numba, "samples_per_chunk", lambda cols_bytes_per_sample: 2)
    return request.param


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("case", CONVS)
def test_conv_fast_path_matches_numpy(case, with_bias, dtype, chunking, rng):
    N, C, H, W, F, kernel, stride, padding = case
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    weight = rng.standard_normal((F, C, kernel, kernel)).astype(dtype)
    bias = rng.standard_normal(F).astype(dtype) if with_bias else None

    fast_out, fast_saved = kernels.conv2d_forward(x, weight, bias, stride, padding)
    slow_out, slow_saved = reference_conv.conv2d_forward(x, weight, bias, stride, padding)
    assert fast_out.dtype == slow_out.dtype == x.dtype
    assert fast_out.shape == slow_out.shape
    np.testing.assert_allclose(fast_out, slow_out, **tolerance(dtype))

    dout = rng.standard_normal(slow_out.shape).astype(dtype)
    fast_grads = kernels.conv2d_parameter_gradients(dout, fast_saved, weight.shape, stride,
                                                    padding, with_bias)
    slow_grads = reference_conv.conv2d_parameter_gradients(dout, slow_saved, weight.shape,
                                                           stride, padding, with_bias)
    for fast, slow in zip(fast_grads, slow_grads):
        if slow is None:
            assert fast is None
            continue
        assert fast.dtype == slow.dtype == x.dtype
        np.testing.assert_allclose(fast, slow, **tolerance(dtype))

    fast_dx = kernels.conv2d_transpose(dout, weight, x.shape, stride, padding)
    slow_dx = reference_conv.conv2d_transpose(dout, weight, x.shape, stride, padding)
    assert fast_dx.dtype == x.dtype
    np.testing.assert_allclose(fast_dx, slow_dx, **tolerance(dtype))


def test_conv_fast_path_leaves_its_inputs_alone(rng):
    x = rng.standard_normal((3, 2, 6, 6))
    weight = rng.standard_normal((4, 2, 3, 3))
    dout = rng.standard_normal((3, 4, 6, 6))
    saved_x, saved_weight, saved_dout = x.copy(), weight.copy(), dout.copy()
    _, saved = kernels.conv2d_forward(x, weight, None, 1, 1)
    kernels.conv2d_parameter_gradients(dout, saved, weight.shape, 1, 1, True)
    kernels.conv2d_transpose(dout, weight, x.shape, 1, 1)
    for before, after in ((saved_x, x), (saved_weight, weight), (saved_dout, dout)):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_fast_path_matches_numpy(dtype, rng):
    x = rng.standard_normal((3, 4, 5, 6)).astype(dtype)
    x.flat[:4] = [0.0, -0.0, np.nan, np.inf]  # the edge cases come out the same too
    fast_out, fast_mask = kernels.relu_forward(x)
    slow_out, slow_mask = reference_activations.relu_forward(x)
    assert fast_out.dtype == slow_out.dtype == x.dtype
    assert fast_mask.dtype == slow_mask.dtype == np.bool_
    np.testing.assert_array_equal(fast_mask, slow_mask)
    np.testing.assert_array_equal(fast_out, slow_out)
    assert np.array_equal(np.signbit(fast_out), np.signbit(slow_out))

    dout = rng.standard_normal(x.shape).astype(dtype)
    fast_dx = kernels.relu_backward(dout, slow_mask)
    slow_dx = reference_activations.relu_backward(dout, slow_mask)
    assert fast_dx.dtype == x.dtype
    np.testing.assert_array_equal(fast_dx, slow_dx)


# --- the Winograd path for 3x3, stride 1, padding 1 -------------------------------------------

WINOGRAD_CASES = [  # (N, C, H, W, F)
    (3, 16, 6, 8, 16), (2, 32, 4, 4, 16), (5, 16, 8, 2, 24), (1, 24, 10, 6, 32),
]


@pytest.fixture(params=["one chunk", "ragged chunks"])
def winograd_chunking(request, monkeypatch):
    """Run each case as one chunk, and in chunks of 2 samples (the last one shorter)."""
    from minicnn.kernels import winograd_numba
    if request.param == "ragged chunks":
        monkeypatch.setattr(winograd_numba, "_chunks", lambda batch, *sizes: [
            (start, min(start + 2, batch)) for start in range(0, batch, 2)])
    return request.param


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", WINOGRAD_CASES)
def test_winograd_matches_the_readable_convolution(case, dtype, winograd_chunking, rng):
    """forward, dW, db and dx through Winograd F(2x2, 3x3) equal the im2col versions."""
    from minicnn.kernels import winograd_numba
    N, C, H, W, F = case
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    weight = rng.standard_normal((F, C, 3, 3)).astype(dtype)
    bias = rng.standard_normal(F).astype(dtype)
    assert winograd_numba.applies(x.shape, weight.shape, 1, 1)
    close = {"rtol": 1e-5, "atol": 1e-5} if dtype == "float32" else {"rtol": 1e-12, "atol": 1e-12}

    out, saved = kernels.conv2d_forward(x, weight, bias, 1, 1)
    expected, cols = reference_conv.conv2d_forward(x, weight, bias, 1, 1)
    assert out.dtype == x.dtype
    np.testing.assert_allclose(out, expected, **close)
    dout = rng.standard_normal(out.shape).astype(dtype)
    for got, want in zip(kernels.conv2d_parameter_gradients(dout, saved, weight.shape, 1, 1, True),
                         reference_conv.conv2d_parameter_gradients(dout, cols, weight.shape, 1, 1,
                                                                   True)):
        assert got.dtype == x.dtype
        np.testing.assert_allclose(got, want, **close)
    np.testing.assert_allclose(kernels.conv2d_transpose(dout, weight, x.shape, 1, 1),
                               reference_conv.conv2d_transpose(dout, weight, x.shape, 1, 1), **close)


@pytest.mark.parametrize("x_shape, weight_shape, stride, padding", [
    ((2, 16, 7, 8), (16, 16, 3, 3), 1, 1),     # odd height
    ((2, 16, 8, 8), (16, 16, 3, 3), 2, 1),     # stride 2
    ((2, 16, 8, 8), (16, 16, 3, 3), 1, 0),     # no padding
    ((2, 16, 8, 8), (16, 16, 5, 5), 1, 2),     # 5x5
    ((2, 3, 8, 8), (32, 3, 3, 3), 1, 1),       # 3 input channels (conv1): im2col is faster
])
def test_winograd_leaves_other_shapes_to_im2col(x_shape, weight_shape, stride, padding):
    from minicnn.kernels import winograd_numba
    assert not winograd_numba.applies(x_shape, weight_shape, stride, padding)


def test_filter_transform_and_its_adjoint(rng):
    """<transform(g), u> == <g, untransform(u)>: the weight gradient uses the true adjoint."""
    from minicnn.kernels import winograd_numba
    weight = rng.standard_normal((5, 4, 3, 3))
    u = rng.standard_normal((16, 5, 4))
    G = winograd_numba.FILTER_TRANSFORM
    expected = np.einsum("ai,fcij,bj->abfc", G, weight, G).reshape(16, 5, 4)
    np.testing.assert_allclose(winograd_numba.transform_filters(weight), expected, atol=1e-14)
    assert np.isclose(np.sum(winograd_numba.transform_filters(weight) * u),
                      np.sum(weight * winograd_numba.untransform_filter_gradient(u)), rtol=1e-12)
