"""Each Numba fast path (minicnn/kernels/, the numba backend's table) equals its readable
twin in minicnn/functional: exactly where the arithmetic is the same, to rounding where
the sums run in another order."""
import numpy as np
import pytest

from minicnn import functional
from minicnn.backend import numba_ops
from minicnn.kernels import (batchnorm_numba, conv_numba, direct_conv_numba, im2col_numba,
                             pool_numba, relu_numba, winograd_numba)

from .conftest import make_backend


def close(dtype):
    return {"rtol": 2e-5, "atol": 2e-5} if dtype == "float32" else {"rtol": 1e-12, "atol": 1e-12}


# --- im2col / col2im, in the side-by-side layout ------------------------------------------------

SHAPES = [(2, 3, 7, 6), (1, 1, 5, 5), (4, 2, 9, 11)]
WINDOWS = [(1, 1, 0), (3, 1, 1), (3, 2, 1), (5, 2, 2), (2, 2, 0), (3, 3, 2)]


def side_by_side(cols):
    """The readable layout (N, R, P) -> the fast path's (R, N*P)."""
    N, rows, positions = cols.shape
    return cols.transpose(1, 0, 2).reshape(rows, N * positions)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kernel, stride, padding", WINDOWS)
def test_im2col_and_col2im_match(shape, kernel, stride, padding, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    if shape[2] + 2 * padding < kernel:
        pytest.skip("kernel larger than the padded input")
    fast = im2col_numba.im2col_side_by_side(x, kernel, kernel, stride, padding)
    slow = functional.im2col(x, kernel, kernel, stride, padding)
    assert fast.dtype == slow.dtype == x.dtype
    np.testing.assert_array_equal(fast, side_by_side(slow))

    cols = rng.standard_normal(slow.shape).astype(dtype)
    fast_back = im2col_numba.col2im_side_by_side(side_by_side(cols), x.shape, kernel, kernel,
                                                 stride, padding)
    slow_back = functional.col2im(cols, x.shape, kernel, kernel, stride, padding)
    assert fast_back.shape == slow_back.shape == x.shape
    # the two sum overlapping copies in different orders
    np.testing.assert_allclose(fast_back, slow_back, rtol=1e-5 if dtype == "float32" else 1e-12,
                               atol=1e-6 if dtype == "float32" else 1e-12)


def test_im2col_fills_a_reused_buffer_completely(rng):
    """A dirty buffer (from the previous chunk) must come out exactly like a fresh one."""
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    fresh = im2col_numba.im2col_side_by_side(x, 3, 3, 2, 1)
    dirty = np.full_like(fresh, np.nan)
    im2col_numba.im2col_side_by_side(x, 3, 3, 2, 1, out=dirty)
    np.testing.assert_array_equal(dirty, fresh)
    dx = np.full(x.shape, np.nan, dtype=np.float32)
    im2col_numba.col2im_side_by_side(fresh, x.shape, 3, 3, 2, 1, out=dx)
    np.testing.assert_array_equal(dx, im2col_numba.col2im_side_by_side(fresh, x.shape, 3, 3, 2, 1))


# --- convolution: the chunked im2col path -------------------------------------------------------

CONVS = [  # (N, C, H, W, F, kernel, stride, padding)
    (5, 3, 9, 8, 4, 3, 1, 1), (3, 2, 8, 5, 3, 5, 2, 2), (4, 1, 6, 6, 2, 1, 2, 0),
    (3, 2, 9, 7, 3, 3, 2, 0), (2, 3, 5, 8, 2, 3, 1, 2), (7, 4, 4, 4, 6, 2, 2, 0),
]


@pytest.fixture(params=["one chunk", "ragged chunks"])
def chunking(request, monkeypatch):
    """Run each case as one chunk, and split into chunks of 2 samples (the last one shorter)."""
    if request.param == "ragged chunks":
        monkeypatch.setattr(conv_numba, "samples_per_chunk", lambda cols_bytes_per_sample: 2)
    return request.param


def assert_conv_products_match(x, weight, bias, stride, padding, dtype, rng):
    """forward, dW, db and dx of the numba table equal functional's."""
    fast_out, fast_cache = conv_numba.conv2d_forward(x, weight, bias, stride, padding)
    slow_out, slow_cache = functional.conv2d_forward(x, weight, bias, stride, padding)
    assert fast_out.dtype == slow_out.dtype == x.dtype
    assert fast_out.shape == slow_out.shape
    np.testing.assert_allclose(fast_out, slow_out, **close(dtype))

    dout = rng.standard_normal(slow_out.shape).astype(dtype)
    fast_grads = conv_numba.conv2d_parameter_gradients(dout, fast_cache)
    slow_grads = functional.conv2d_parameter_gradients(dout, slow_cache)
    for fast, slow in zip(fast_grads, slow_grads):
        if slow is None:
            assert fast is None
            continue
        assert fast.dtype == slow.dtype == x.dtype
        np.testing.assert_allclose(fast, slow, **close(dtype))

    fast_dx = conv_numba.conv2d_transpose(dout, weight, x.shape, stride, padding)
    slow_dx = functional.conv2d_transpose(dout, weight, x.shape, stride, padding)
    assert fast_dx.dtype == x.dtype
    np.testing.assert_allclose(fast_dx, slow_dx, **close(dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("case", CONVS)
def test_conv_fast_path_matches_functional(case, with_bias, dtype, chunking, rng):
    N, C, H, W, F, kernel, stride, padding = case
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    weight = rng.standard_normal((F, C, kernel, kernel)).astype(dtype)
    bias = rng.standard_normal(F).astype(dtype) if with_bias else None
    assert_conv_products_match(x, weight, bias, stride, padding, dtype, rng)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", [case for case in CONVS if case[6] == 1])
def test_conv_im2col_path_matches_functional_where_the_direct_path_would_apply(case, dtype, chunking,
                                                                               monkeypatch, rng):
    monkeypatch.setattr(direct_conv_numba, "applies", lambda *shapes: False)
    N, C, H, W, F, kernel, stride, padding = case
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    weight = rng.standard_normal((F, C, kernel, kernel)).astype(dtype)
    assert_conv_products_match(x, weight, rng.standard_normal(F).astype(dtype), stride, padding,
                               dtype, rng)


# --- convolution: the direct path for few input channels (the stem) ------------------------------

DIRECT_CASES = [  # (N, C, H, W, F, kernel, padding)
    (5, 3, 9, 8, 4, 3, 1), (3, 1, 7, 11, 5, 3, 0), (2, 4, 6, 5, 3, 3, 2), (7, 2, 5, 5, 2, 3, 0),
    (4, 3, 13, 10, 16, 3, 1), (1, 3, 3, 3, 1, 3, 2),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("case", DIRECT_CASES)
def test_direct_conv_matches_the_readable_convolution(case, with_bias, dtype, rng):
    """forward, dW and db through the direct loops equal the im2col versions (odd sizes too)."""
    N, C, H, W, F, kernel, padding = case
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    weight = rng.standard_normal((F, C, kernel, kernel)).astype(dtype)
    bias = rng.standard_normal(F).astype(dtype) if with_bias else None
    assert direct_conv_numba.applies(x.shape, weight.shape, 1)
    assert_conv_products_match(x, weight, bias, 1, padding, dtype, rng)


def test_direct_conv_in_float32_is_as_close_to_the_exact_answer_as_im2col(rng):
    """The stem's shape (64 px, odd width): dW sums 12,000 products per weight, so compare
    float32 against float64 in norm; element by element, weights near 0 differ more."""
    x = rng.standard_normal((3, 3, 64, 63))
    weight = rng.standard_normal((16, 3, 3, 3))
    dout = rng.standard_normal((3, 16, 64, 63))
    exact_out, exact_cache = functional.conv2d_forward(x, weight, None, 1, 1)
    exact_dW = functional.conv2d_parameter_gradients(dout, exact_cache)[0]
    single = [array.astype(np.float32) for array in (x, weight, dout)]
    fast_out, fast_cache = conv_numba.conv2d_forward(single[0], single[1], None, 1, 1)
    fast_dW = conv_numba.conv2d_parameter_gradients(single[2], fast_cache)[0]
    assert fast_cache.x is not None and direct_conv_numba.applies(x.shape, weight.shape, 1)
    for fast, exact in ((fast_out, exact_out), (fast_dW, exact_dW)):
        assert fast.dtype == np.float32
        assert np.linalg.norm(fast - exact) / np.linalg.norm(exact) < 1e-6


@pytest.mark.parametrize("x_shape, weight_shape, stride", [
    ((2, 5, 8, 8), (16, 5, 3, 3), 1),          # five input channels: im2col's GEMMs are wide enough
    ((2, 3, 8, 8), (16, 3, 3, 3), 2),          # stride 2
    ((2, 3, 8, 8), (16, 3, 5, 5), 1),          # 5x5: the loops are written for 3x3
])
def test_direct_conv_leaves_other_shapes_to_im2col(x_shape, weight_shape, stride):
    assert not direct_conv_numba.applies(x_shape, weight_shape, stride)


def test_conv_fast_path_leaves_its_inputs_alone(rng):
    x = rng.standard_normal((3, 2, 6, 6))
    weight = rng.standard_normal((4, 2, 3, 3))
    dout = rng.standard_normal((3, 4, 6, 6))
    saved_x, saved_weight, saved_dout = x.copy(), weight.copy(), dout.copy()
    _, cache = conv_numba.conv2d_forward(x, weight, None, 1, 1)
    conv_numba.conv2d_parameter_gradients(dout, cache)
    conv_numba.conv2d_transpose(dout, weight, x.shape, 1, 1)
    for before, after in ((saved_x, x), (saved_weight, weight), (saved_dout, dout)):
        np.testing.assert_array_equal(before, after)


# --- convolution: the Winograd path for 3x3, stride 1, padding 1 --------------------------------

WINOGRAD_CASES = [  # (N, C, H, W, F)
    (3, 16, 6, 8, 16), (2, 32, 4, 4, 16), (5, 16, 8, 2, 24), (1, 24, 10, 6, 32),
]


@pytest.fixture(params=["one chunk", "ragged chunks"])
def winograd_chunking(request, monkeypatch):
    """Run each case as one chunk, and in chunks of 2 samples (the last one shorter)."""
    if request.param == "ragged chunks":
        monkeypatch.setattr(winograd_numba, "_chunks", lambda batch, *sizes: [
            (start, min(start + 2, batch)) for start in range(0, batch, 2)])
    return request.param


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", WINOGRAD_CASES)
def test_winograd_matches_the_readable_convolution(case, dtype, winograd_chunking, rng):
    """forward, dW, db and dx through Winograd F(2x2, 3x3) equal the im2col versions."""
    N, C, H, W, F = case
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    weight = rng.standard_normal((F, C, 3, 3)).astype(dtype)
    bias = rng.standard_normal(F).astype(dtype)
    assert winograd_numba.applies(x.shape, weight.shape, 1, 1)
    assert conv_numba.conv2d_forward(x, weight, bias, 1, 1)[1].tiles is not None
    assert_conv_products_match(x, weight, bias, 1, 1, dtype, rng)


@pytest.mark.parametrize("x_shape, weight_shape, stride, padding", [
    ((2, 16, 7, 8), (16, 16, 3, 3), 1, 1),     # odd height
    ((2, 16, 8, 8), (16, 16, 3, 3), 2, 1),     # stride 2
    ((2, 16, 8, 8), (16, 16, 3, 3), 1, 0),     # no padding
    ((2, 16, 8, 8), (16, 16, 5, 5), 1, 2),     # 5x5
    ((2, 3, 8, 8), (32, 3, 3, 3), 1, 1),       # 3 input channels (conv1): im2col is faster
])
def test_winograd_leaves_other_shapes_to_im2col(x_shape, weight_shape, stride, padding):
    assert not winograd_numba.applies(x_shape, weight_shape, stride, padding)


def test_filter_transform_and_its_adjoint(rng):
    """<transform(g), u> == <g, untransform(u)>: the weight gradient uses the true adjoint."""
    weight = rng.standard_normal((5, 4, 3, 3))
    u = rng.standard_normal((16, 5, 4))
    G = winograd_numba.FILTER_TRANSFORM
    expected = np.einsum("ai,fcij,bj->abfc", G, weight, G).reshape(16, 5, 4)
    np.testing.assert_allclose(winograd_numba.transform_filters(weight), expected, atol=1e-14)
    assert np.isclose(np.sum(winograd_numba.transform_filters(weight) * u),
                      np.sum(weight * winograd_numba.untransform_filter_gradient(u)), rtol=1e-12)


# --- ReLU ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_fast_path_matches_functional(dtype, rng):
    x = rng.standard_normal((3, 4, 5, 6)).astype(dtype)
    x.flat[:4] = [0.0, -0.0, np.nan, np.inf]  # the edge cases come out the same too
    fast_out, fast_mask = relu_numba.relu_forward(x)
    slow_out, slow_mask = functional.relu_forward(x)
    assert fast_out.dtype == slow_out.dtype == x.dtype
    assert fast_mask.dtype == slow_mask.dtype == np.bool_
    np.testing.assert_array_equal(fast_mask, slow_mask)
    np.testing.assert_array_equal(fast_out, slow_out)
    assert np.array_equal(np.signbit(fast_out), np.signbit(slow_out))

    dout = rng.standard_normal(x.shape).astype(dtype)
    fast_dx = relu_numba.relu_backward(dout, slow_mask)
    assert fast_dx.dtype == x.dtype
    np.testing.assert_array_equal(fast_dx, functional.relu_backward(dout, slow_mask))


# --- max-pooling --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kernel, stride", [(2, 2), (3, 2), (3, 1), (2, 1)])
def test_maxpool_fast_path_matches_functional(shape, kernel, stride, dtype, rng):
    # rounding makes ties common, so the tie rule (first in row-major order) is tested too
    x = np.round(rng.standard_normal(shape) * 2).astype(dtype)
    fast_out, fast_cache = pool_numba.maxpool_forward(x, kernel, stride)
    slow_out, slow_cache = functional.maxpool_forward(x, kernel, stride)
    np.testing.assert_array_equal(fast_out, slow_out)
    np.testing.assert_array_equal(fast_cache.switches, slow_cache.switches)
    assert fast_cache.switches.dtype == slow_cache.switches.dtype == np.uint8
    assert fast_cache._replace(switches=None) == slow_cache._replace(switches=None)

    dout = rng.standard_normal(slow_out.shape).astype(dtype)
    switches = slow_cache.switches
    np.testing.assert_allclose(pool_numba.unpool(dout, switches, x.shape, kernel, stride),
                               functional.unpool(dout, switches, x.shape, kernel, stride),
                               rtol=1e-6, atol=1e-6)


# --- BatchNorm ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (8, 16, 9, 9), (1, 1, 1, 1), (3, 5, 7, 11)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_fast_path_matches_functional(shape, dtype, training, rng):
    tolerance = dict(rtol=2e-5, atol=2e-5) if dtype == "float32" else dict(rtol=1e-11, atol=1e-11)
    x = (rng.standard_normal(shape) * 3 + 5).astype(dtype)
    channels = shape[1]
    gamma = rng.uniform(0.5, 1.5, channels).astype(dtype)
    beta = rng.standard_normal(channels).astype(dtype)
    statistics = {} if training else {"mean": rng.standard_normal(channels).astype(dtype),
                                      "var": rng.uniform(0.5, 2, channels).astype(dtype)}
    fast_out, fast_cache = batchnorm_numba.batchnorm_forward(x, gamma, beta, 1e-5, **statistics)
    slow_out, slow_cache = functional.batchnorm_forward(x, gamma, beta, 1e-5, **statistics)
    np.testing.assert_allclose(fast_out, slow_out, **tolerance)
    assert fast_out.dtype == x.dtype
    assert fast_cache.training == slow_cache.training == training
    for name in ("x_hat", "inv_std", "mean", "var"):
        fast, slow = getattr(fast_cache, name), getattr(slow_cache, name)
        assert fast.dtype == slow.dtype == x.dtype, name
        np.testing.assert_allclose(fast, slow, **tolerance, err_msg=name)

    dout = rng.standard_normal(shape).astype(dtype)
    # as the layer calls them: parameter gradients first, whose sums input_gradient reuses
    dgamma, dbeta = batchnorm_numba.batchnorm_parameter_gradients(dout, fast_cache)
    fast = (batchnorm_numba.batchnorm_input_gradient(dout, fast_cache), dgamma, dbeta)
    slow = functional.batchnorm_backward(dout, slow_cache)
    for fast_part, slow_part in zip(fast, slow):
        assert fast_part.dtype == x.dtype
        np.testing.assert_allclose(fast_part, slow_part, **tolerance)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_batchnorm_fast_input_gradient_never_reuses_the_sums_of_another_dout(dtype, rng):
    """input_gradient alone (a saliency map), or after parameter_gradients of another dout."""
    tolerance = dict(rtol=2e-5, atol=2e-5) if dtype == "float32" else dict(rtol=1e-11, atol=1e-11)
    shape = (3, 4, 6, 5)
    x = (rng.standard_normal(shape) * 2 - 40).astype(dtype)   # mean far from 0: no cancellation
    gamma = rng.uniform(0.5, 1.5, 4).astype(dtype)
    beta = rng.standard_normal(4).astype(dtype)
    _, fast_cache = batchnorm_numba.batchnorm_forward(x, gamma, beta)
    _, slow_cache = functional.batchnorm_forward(x, gamma, beta)
    first, second = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    np.testing.assert_allclose(batchnorm_numba.batchnorm_input_gradient(first, fast_cache),
                               functional.batchnorm_input_gradient(first, slow_cache), **tolerance)
    batchnorm_numba.batchnorm_parameter_gradients(first, fast_cache)
    np.testing.assert_allclose(batchnorm_numba.batchnorm_input_gradient(second, fast_cache),
                               functional.batchnorm_input_gradient(second, slow_cache), **tolerance)


# --- the whole table ----------------------------------------------------------------------------

def test_numba_backend_model_equals_numpy_backend(rng):
    """The same seeded model on both backends: same logits, same gradients."""
    from minicnn import (BatchNorm2D, Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential,
                         SoftmaxCrossEntropy)

    def build(name):
        return Sequential([Conv2D(3, 4, 3, padding=1), BatchNorm2D(4), ReLU(), MaxPool2D(3, 2),
                           Conv2D(4, 6, 3, stride=2), ReLU(), Flatten(), Dense(6 * 1 * 1, 5),
                           SoftmaxCrossEntropy()], backend=name).reset_parameters(7)

    x = rng.standard_normal((4, 3, 9, 9)).astype(np.float32)
    labels = np.array([0, 1, 4, 2])
    results = {}
    for name in ("numpy", "numba"):
        model = build(name)
        assert model.backend.ops is (numba_ops if name == "numba" else functional)
        loss = model.forward(x, labels)
        dx = model.backward()
        results[name] = (loss, dx, model.grads)
    np.testing.assert_allclose(results["numpy"][0], results["numba"][0], rtol=1e-6)
    np.testing.assert_allclose(results["numpy"][1], results["numba"][1], rtol=1e-4, atol=1e-6)
    for key, grad in results["numpy"][2].items():
        np.testing.assert_allclose(grad, results["numba"][2][key], rtol=1e-4, atol=1e-6)


def test_the_numba_backend_computes_with_its_table():
    assert make_backend("numba").ops is numba_ops
