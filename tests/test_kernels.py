"""Each Numba fast path equals its readable NumPy twin, exactly."""
import numpy as np
import pytest

from minicnn import kernels
from minicnn.layers import im2col as reference_im2col
from minicnn.layers import pool as reference_pool

SHAPES = [(2, 3, 7, 6), (1, 1, 5, 5), (4, 2, 9, 11)]
CONVS = [(1, 1, 0), (3, 1, 1), (3, 2, 1), (5, 2, 2), (2, 2, 0), (3, 3, 2)]


def side_by_side(cols):
    """The readable layout (N, R, P) -> the fast path's (R, N*P)."""
    N, rows, positions = cols.shape
    return cols.transpose(1, 0, 2).reshape(rows, N * positions)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kernel, stride, padding", CONVS)
def test_im2col_and_col2im_match(shape, kernel, stride, padding, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    if shape[2] + 2 * padding < kernel:
        pytest.skip("kernel larger than the padded input")
    fast = kernels.im2col_side_by_side(x, kernel, kernel, stride, padding)
    slow = reference_im2col.im2col(x, kernel, kernel, stride, padding)
    assert fast.dtype == slow.dtype == x.dtype
    np.testing.assert_array_equal(fast, side_by_side(slow))

    cols = rng.standard_normal(slow.shape).astype(dtype)
    fast_back = kernels.col2im_side_by_side(side_by_side(cols), x.shape, kernel, kernel, stride,
                                            padding)
    slow_back = reference_im2col.col2im(cols, x.shape, kernel, kernel, stride, padding)
    assert fast_back.shape == slow_back.shape == x.shape
    # the two sum overlapping copies in different orders
    np.testing.assert_allclose(fast_back, slow_back, rtol=1e-5 if dtype == "float32" else 1e-12,
                               atol=1e-6 if dtype == "float32" else 1e-12)


def test_im2col_fills_a_reused_buffer_completely(rng):
    """A dirty buffer (from the previous chunk) must come out exactly like a fresh one."""
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    fresh = kernels.im2col_side_by_side(x, 3, 3, 2, 1)
    dirty = np.full_like(fresh, np.nan)
    kernels.im2col_side_by_side(x, 3, 3, 2, 1, out=dirty)
    np.testing.assert_array_equal(dirty, fresh)
    dx = np.full(x.shape, np.nan, dtype=np.float32)
    kernels.col2im_side_by_side(fresh, x.shape, 3, 3, 2, 1, out=dx)
    np.testing.assert_array_equal(dx, kernels.col2im_side_by_side(fresh, x.shape, 3, 3, 2, 1))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kernel, stride", [(2, 2), (3, 2), (3, 1), (2, 1)])
def test_maxpool_kernels_match(shape, kernel, stride, dtype, rng):
    # rounding makes ties common, so the tie rule (first in row-major order) is tested too
    x = np.round(rng.standard_normal(shape) * 2).astype(dtype)
    fast_out, fast_switches = kernels.maxpool_forward(x, kernel, stride)
    slow_out, slow_switches = reference_pool.maxpool_forward(x, kernel, stride)
    np.testing.assert_array_equal(fast_out, slow_out)
    np.testing.assert_array_equal(fast_switches, slow_switches)
    assert fast_switches.dtype == slow_switches.dtype == np.uint8

    dout = rng.standard_normal(slow_out.shape).astype(dtype)
    fast_dx = kernels.maxpool_backward(dout, slow_switches, x.shape, kernel, stride)
    slow_dx = reference_pool.maxpool_backward(dout, slow_switches, x.shape, kernel, stride)
    np.testing.assert_allclose(fast_dx, slow_dx, rtol=1e-6, atol=1e-6)


def test_numba_backend_model_equals_numpy_backend(rng):
    """The same seeded model on both backends: same logits, same gradients."""
    from minicnn import (Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential,
                         SoftmaxCrossEntropy)

    def build(name):
        return Sequential([Conv2D(3, 4, 3, padding=1), ReLU(), MaxPool2D(3, 2),
                           Conv2D(4, 6, 3, stride=2), ReLU(), Flatten(), Dense(6 * 1 * 1, 5),
                           SoftmaxCrossEntropy()], backend=name, seed=7)

    x = rng.standard_normal((4, 3, 9, 9)).astype(np.float32)
    labels = np.array([0, 1, 4, 2])
    results = {}
    for name in ("numpy", "numba"):
        model = build(name)
        loss = model.forward(x, labels)
        dx = model.backward()
        results[name] = (loss, dx, model.grads)
    np.testing.assert_allclose(results["numpy"][0], results["numba"][0], rtol=1e-6)
    np.testing.assert_allclose(results["numpy"][1], results["numba"][1], rtol=1e-4, atol=1e-6)
    for key, grad in results["numpy"][2].items():
        np.testing.assert_allclose(grad, results["numba"][2][key], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (8, 16, 9, 9), (1, 1, 1, 1)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_kernels_match(shape, dtype, training, rng):
    from minicnn.layers import batchnorm as reference
    tolerance = dict(rtol=2e-5, atol=2e-5) if dtype == "float32" else dict(rtol=1e-11, atol=1e-11)
    x = (rng.standard_normal(shape) * 3 + 5).astype(dtype)
    fast_stats = kernels.batchnorm_statistics(x)
    slow_stats = reference.batchnorm_statistics(x)
    for fast, slow in zip(fast_stats, slow_stats):
        assert fast.dtype == slow.dtype == x.dtype
        np.testing.assert_allclose(fast, slow, **tolerance)

    channels = shape[1]
    mean, var = slow_stats
    inv_std = (1 / np.sqrt(var + 1e-5)).astype(dtype)
    gamma = rng.uniform(0.5, 1.5, channels).astype(dtype)
    beta = rng.standard_normal(channels).astype(dtype)
    fast_out, fast_x_hat = kernels.batchnorm_normalize(x, mean, inv_std, gamma, beta)
    slow_out, slow_x_hat = reference.batchnorm_normalize(x, mean, inv_std, gamma, beta)
    np.testing.assert_allclose(fast_out, slow_out, **tolerance)
    np.testing.assert_allclose(fast_x_hat, slow_x_hat, **tolerance)
    assert fast_out.dtype == fast_x_hat.dtype == x.dtype

    dout = rng.standard_normal(shape).astype(dtype)
    fast = kernels.batchnorm_backward(dout, slow_x_hat, gamma, inv_std, training)
    slow = reference.batchnorm_backward(dout, slow_x_hat, gamma, inv_std, training)
    for fast_part, slow_part in zip(fast, slow):
        assert fast_part.dtype == x.dtype
        np.testing.assert_allclose(fast_part, slow_part, **tolerance)
