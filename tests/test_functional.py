"""The pure forward / backward pairs of minicnn.functional, checked against central differences
in float64, and the layers' split backward (parameter gradients, input gradient) against them."""
import numpy as np
import pytest

from minicnn import (BatchNorm2D, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool2D, MaxPool2D,
                     ReLU, SoftmaxCrossEntropy, functional)
from minicnn.gradcheck import distinct_values, numerical_gradient, rel_error

from .conftest import device, host, on_backend


def check_pair(forward, backward, inputs, rng, settings=None):
    """Every gradient backward returns equals the numerical one of sum(forward(...) * dout).

    inputs: the differentiable arrays, in the order backward returns their gradients.
    """
    settings = settings or {}
    out, cache = forward(*inputs, **settings)
    dout = rng.standard_normal(np.shape(out))
    gradients = backward(dout.copy(), cache)
    gradients = gradients if isinstance(gradients, tuple) else (gradients,)
    assert len(gradients) == len(inputs)
    for position, (array, gradient) in enumerate(zip(inputs, gradients)):
        def perturbed(_, position=position):
            return forward(*inputs, **settings)[0]
        expected = numerical_gradient(perturbed, array, dout)
        # entries far below the largest are measured against 1e-3 of it (round-off, as in gradcheck)
        floor = max(1e-8, 1e-3 * np.abs(expected).max())
        assert rel_error(gradient, expected, floor=floor) < 1e-6, (forward.__name__, position)


CONVS = [  # (N, C, H, W, F, kernel, stride, padding): strided, padded, non-square, N > 1
    (2, 2, 5, 6, 3, 3, 1, 1), (2, 3, 7, 5, 2, 3, 2, 0), (3, 2, 6, 6, 2, 2, 2, 1),
    (2, 1, 7, 7, 2, 5, 2, 2)]


@pytest.mark.parametrize("case", CONVS)
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv2d_pair(case, with_bias, rng):
    N, C, H, W, F, kernel, stride, padding = case
    x = rng.standard_normal((N, C, H, W))
    weight = rng.standard_normal((F, C, kernel, kernel))
    if not with_bias:
        def forward(x, weight, stride, padding):
            return functional.conv2d_forward(x, weight, None, stride, padding)

        def backward(dout, cache):
            dx, dweight, dbias = functional.conv2d_backward(dout, cache)
            assert dbias is None
            return dx, dweight
        check_pair(forward, backward, [x, weight], rng, {"stride": stride, "padding": padding})
        return
    bias = rng.standard_normal(F)
    check_pair(functional.conv2d_forward, functional.conv2d_backward, [x, weight, bias], rng,
               {"stride": stride, "padding": padding})
    out, _ = functional.conv2d_forward(x, weight, bias, stride, padding)
    np.testing.assert_allclose(out, functional.conv2d_naive(x, weight, bias, stride, padding),
                               atol=1e-12)


@pytest.mark.parametrize("kernel, stride, shape", [(2, 2, (2, 3, 6, 6)), (3, 2, (2, 2, 7, 6)),
                                                   (3, 1, (1, 2, 5, 6)), (2, 1, (2, 1, 5, 4))])
def test_maxpool_pair_with_overlapping_windows(kernel, stride, shape, rng):
    x = distinct_values(rng, shape)   # no ties: the max has a derivative everywhere
    check_pair(functional.maxpool_forward, functional.maxpool_backward, [x], rng,
               {"kernel_size": kernel, "stride": stride})


def test_relu_pair(rng):
    check_pair(functional.relu_forward, functional.relu_backward,
               [distinct_values(rng, (2, 3, 4, 5))], rng)


def test_relu_rules_on_a_known_signal():
    x = np.array([-1.0, 2.0, 3.0, -4.0])
    signal = np.array([5.0, -6.0, 7.0, 8.0])
    _, mask = functional.relu_forward(x)
    np.testing.assert_array_equal(functional.relu_backward(signal, mask), [0, -6, 7, 0])
    np.testing.assert_array_equal(functional.relu_deconvnet(signal), [5, 0, 7, 8])
    np.testing.assert_array_equal(functional.relu_guided(signal, mask), [0, 0, 7, 0])


def test_dense_and_flatten_pairs(rng):
    check_pair(functional.dense_forward, functional.dense_backward,
               [rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)],
               rng)
    check_pair(functional.flatten_forward, functional.flatten_backward,
               [rng.standard_normal((2, 3, 2, 2))], rng)


def test_dropout_pair_with_a_fixed_keep_mask(rng):
    keep = rng.random((3, 8)) >= 0.4
    check_pair(functional.dropout_forward, functional.dropout_backward,
               [rng.standard_normal((3, 8))], rng, {"p": 0.4, "keep": keep})


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_pair(training, rng):
    shape = (3, 4, 3, 2)
    statistics = {} if training else {"mean": rng.standard_normal(4),
                                      "var": rng.uniform(0.5, 2.0, 4)}
    check_pair(functional.batchnorm_forward, functional.batchnorm_backward,
               [rng.standard_normal(shape) * 2 + 1, rng.uniform(0.5, 1.5, 4),
                rng.standard_normal(4)], rng, {"eps": 1e-5, **statistics})


def test_global_average_pool_pair(rng):
    check_pair(functional.global_avg_pool_forward, functional.global_avg_pool_backward,
               [rng.standard_normal((2, 3, 4, 5))], rng)


def test_softmax_cross_entropy_pair(rng):
    labels = np.array([0, 3, 1, 3])
    check_pair(functional.softmax_cross_entropy_forward,
               functional.softmax_cross_entropy_backward, [rng.standard_normal((4, 5)) * 3], rng,
               {"labels": labels})
    loss, _ = functional.softmax_cross_entropy_forward(np.array([[1e4, 0.0]]), np.array([1]))
    assert np.isfinite(loss) and np.isclose(loss, 1e4)


def test_every_backward_pair_returns_its_halves(rng):
    """*_backward = (input gradient, *parameter gradients), as Layer.backward composes them."""
    x = rng.standard_normal((2, 3, 5, 5))
    weight, bias = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    out, cache = functional.conv2d_forward(x, weight, bias, 2, 1)
    dout = rng.standard_normal(out.shape)
    dx, dweight, dbias = functional.conv2d_backward(dout, cache)
    np.testing.assert_array_equal(dx, functional.conv2d_transpose(dout, weight, x.shape, 2, 1))
    for whole, half in zip((dweight, dbias), functional.conv2d_parameter_gradients(dout, cache)):
        np.testing.assert_array_equal(whole, half)
    out, cache = functional.batchnorm_forward(x, rng.standard_normal(3), rng.standard_normal(3))
    dout = rng.standard_normal(out.shape)
    dx, dgamma, dbeta = functional.batchnorm_backward(dout, cache)
    np.testing.assert_array_equal(dx, functional.batchnorm_input_gradient(dout, cache))
    np.testing.assert_array_equal(dgamma, functional.batchnorm_parameter_gradients(dout, cache)[0])


def test_the_functions_leave_their_inputs_alone(rng):
    x = rng.standard_normal((2, 3, 6, 6))
    weight = rng.standard_normal((4, 3, 3, 3))
    saved = x.copy(), weight.copy()
    out, cache = functional.conv2d_forward(x, weight, None, 1, 1)
    dout = rng.standard_normal(out.shape)
    dout_saved = dout.copy()
    functional.conv2d_backward(dout, cache)
    for before, after in zip(saved + (dout_saved,), (x, weight, dout)):
        np.testing.assert_array_equal(before, after)


LAYER_CASES = [  # a layer, its input shape
    (lambda: Conv2D(2, 3, 3, stride=2, padding=1), (2, 2, 6, 6)),
    (lambda: MaxPool2D(3, 2), (2, 2, 7, 7)), (lambda: ReLU(), (2, 3, 4)),
    (lambda: BatchNorm2D(2), (3, 2, 4, 4)), (lambda: Dense(4, 3), (2, 4)),
    (lambda: Flatten(), (2, 2, 3)), (lambda: Dropout(0.5, rng=0), (3, 6)),
    (lambda: GlobalAvgPool2D(), (2, 3, 4, 4))]


def arrays_in(cache):
    """Host copies of the arrays a cache holds (a NamedTuple of them, or one array)."""
    parts = cache if isinstance(cache, tuple) else (cache,)
    return [host(part).copy() for part in parts if hasattr(part, "shape") and part.ndim]


@pytest.mark.parametrize("make_layer, shape", LAYER_CASES)
def test_input_gradient_changes_nothing(make_layer, shape, rng, backend_name):
    """input_gradient leaves grads and the cache as they were: the deconv walk relies on it."""
    layer = on_backend(make_layer(), backend_name)
    out = layer.forward(device(layer, distinct_values(rng, shape)))
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(device(layer, dout))
    grads = {key: host(value).copy() for key, value in layer.grads.items()}
    cache, cached = layer.cache, arrays_in(layer.cache)
    np.testing.assert_array_equal(host(layer.input_gradient(device(layer, dout))), host(dx))
    assert layer.cache is cache
    for before, after in zip(cached, arrays_in(layer.cache)):
        np.testing.assert_array_equal(after, before)
    for key, value in grads.items():
        np.testing.assert_array_equal(host(layer.grads[key]), value)


def test_the_loss_layer_starts_the_walk_with_dout_one(rng):
    layer = SoftmaxCrossEntropy()
    logits, labels = rng.standard_normal((3, 4)), np.array([1, 0, 3])
    layer.forward(logits, labels)
    expected = functional.softmax_cross_entropy_backward(1.0, layer.cache)
    np.testing.assert_array_equal(layer.backward(), expected)
    np.testing.assert_array_equal(layer.backward(2.0), 2 * expected)


def test_softmax_cross_entropy_pair_with_soft_targets(rng):
    """Target probabilities (label smoothing, mixup): L = -mean sum q log p, dL/dz = (p - q) / N."""
    targets = rng.dirichlet(np.ones(5), size=4)
    check_pair(functional.softmax_cross_entropy_forward,
               functional.softmax_cross_entropy_backward, [rng.standard_normal((4, 5)) * 3], rng,
               {"labels": targets})
    logits, labels = rng.standard_normal((4, 5)), np.array([0, 3, 1, 3])
    hard, _ = functional.softmax_cross_entropy_forward(logits, labels)
    one_hot = np.eye(5)[labels]
    soft, cache = functional.softmax_cross_entropy_forward(logits, one_hot)
    assert np.isclose(hard, soft)
    np.testing.assert_allclose(functional.softmax_cross_entropy_backward(1.0, cache),
                               (functional.softmax(logits) - one_hot) / 4)
