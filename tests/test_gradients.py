"""Numerical gradient checks of every layer over many configurations (float64, rel error < 1e-6)."""
import itertools

import numpy as np
import pytest

from minicnn import (BatchNorm2D, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool2D, MaxPool2D,
                     ReLU, Sequential, SoftmaxCrossEntropy)
from minicnn.gradcheck import check_layer, distinct_values

from .conftest import device, host, make_backend, on_backend, record_gradcheck

TOLERANCE = 1e-6

CONV_CONFIGS = [
    # (batch, channels_in, channels_out, height, width, kernel, stride, padding)
    (batch, 2, 3, height, width, kernel, stride, padding)
    for kernel, stride, padding in itertools.product((1, 3, 5), (1, 2), (0, 1, 2))
    for batch, height, width in [(1, 7, 6), (2, 6, 9)]
    if height + 2 * padding >= kernel and width + 2 * padding >= kernel
]


def assert_passes(report, expect_no_kinks=True):
    record_gradcheck(report)
    assert report.passed(TOLERANCE), str(report)
    if expect_no_kinks:
        assert sum(report.kinks.values()) == 0, str(report)
    assert all(count > 0 for count in report.checked.values()), str(report)


@pytest.mark.parametrize("config", CONV_CONFIGS, ids=lambda c: "N{}C{}F{}_{}x{}_k{}s{}p{}".format(*c))
def test_conv2d_gradients(config, rng, backend_name):
    batch, channels_in, channels_out, height, width, kernel, stride, padding = config
    layer = on_backend(Conv2D(channels_in, channels_out, kernel, stride, padding), backend_name)
    layer.params["b"][...] = device(layer, rng.standard_normal(channels_out))
    x = rng.standard_normal((batch, channels_in, height, width))
    assert_passes(check_layer(layer, x))


def test_conv2d_gradients_on_the_winograd_path(rng, backend_name):
    """16 channels in and out, 3x3, stride 1, padding 1: the numba backend's Winograd path."""
    layer = on_backend(Conv2D(16, 16, 3, padding=1), backend_name)
    layer.params["b"][...] = device(layer, rng.standard_normal(16))
    report = check_layer(layer, rng.standard_normal((2, 16, 6, 4)), max_coordinates=150)
    assert_passes(report)


@pytest.mark.parametrize("kernel, stride", [(2, 2), (3, 2), (3, 1), (2, 1), (3, 3)])
@pytest.mark.parametrize("shape", [(1, 2, 7, 6), (3, 2, 8, 9)])
def test_maxpool_gradients(kernel, stride, shape, rng, backend_name):
    layer = on_backend(MaxPool2D(kernel, stride), backend_name)
    assert_passes(check_layer(layer, distinct_values(rng, shape)))


def test_maxpool_overlapping_windows_accumulate(backend_name):
    """Kernel 3, stride 2: a pixel that wins two windows gets both gradients."""
    layer = on_backend(MaxPool2D(3, 2), backend_name)
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 2, 2] = 1.0  # the centre lies in all four 3x3 windows
    out = host(layer.forward(device(layer, x)))
    assert out.shape == (1, 1, 2, 2) and np.all(out == 1.0)
    dx = host(layer.backward(device(layer, [[[[1.0, 2.0], [3.0, 4.0]]]])))
    assert dx[0, 0, 2, 2] == 10.0
    assert np.count_nonzero(dx) == 1


def test_relu_gradients(rng, backend_name):
    layer = on_backend(ReLU(), backend_name)
    assert_passes(check_layer(layer, distinct_values(rng, (2, 3, 5, 4))))


@pytest.mark.parametrize("shape", [(1, 4), (5, 7)])
def test_dense_gradients(shape, rng, backend_name):
    layer = on_backend(Dense(shape[1], 3), backend_name)
    layer.params["b"][...] = device(layer, rng.standard_normal(3))
    assert_passes(check_layer(layer, rng.standard_normal(shape)))


def test_flatten_gradients(rng, backend_name):
    layer = on_backend(Flatten(), backend_name)
    assert_passes(check_layer(layer, rng.standard_normal((2, 3, 4, 5))))


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_gradients_with_fixed_mask(p, rng, backend_name):
    layer = on_backend(Dropout(p), backend_name)
    x = rng.standard_normal((4, 3, 5, 5))
    keep = rng.random(x.shape) >= p
    layer.fixed_mask = device(layer, keep)
    assert_passes(check_layer(layer, x))
    np.testing.assert_array_equal(host(layer.forward(device(layer, x))) != 0, keep)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 2, 3, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradients(shape, training, rng, backend_name):
    layer = on_backend(BatchNorm2D(shape[1]), backend_name)
    layer.params["gamma"][...] = device(layer, rng.uniform(0.5, 1.5, shape[1]))
    layer.params["beta"][...] = device(layer, rng.standard_normal(shape[1]))
    layer.buffers["running_mean"][...] = device(layer, rng.standard_normal(shape[1]))
    layer.buffers["running_var"][...] = device(layer, rng.uniform(0.5, 2.0, shape[1]))
    if not training:
        layer.eval()
    assert_passes(check_layer(layer, rng.standard_normal(shape) * 2 + 1))


def test_global_avg_pool_gradients(rng, backend_name):
    layer = on_backend(GlobalAvgPool2D(), backend_name)
    assert_passes(check_layer(layer, rng.standard_normal((3, 4, 5, 6))))


@pytest.mark.parametrize("batch, classes", [(1, 3), (6, 10)])
def test_softmax_cross_entropy_gradients(batch, classes, rng, backend_name):
    labels = rng.integers(0, classes, batch)
    # unit-scale logits: probabilities near 1e-6 would put their gradient entries at round-off
    report = check_layer(on_backend(SoftmaxCrossEntropy(), backend_name),
                         rng.standard_normal((batch, classes)), labels=labels)
    assert_passes(report)


def small_network(backend_name, with_batchnorm):
    """Conv, (BatchNorm), ReLU, pool, strided conv, dense, dropout and the loss, in float64."""
    layers = [Conv2D(3, 4, 3, padding=1, bias=not with_batchnorm)]
    layers += [BatchNorm2D(4)] if with_batchnorm else []
    layers += [ReLU(), MaxPool2D(2), Conv2D(4, 5, 3, stride=2, padding=1), ReLU(),
               MaxPool2D(3, 2), Flatten(), Dense(5 * 1 * 1, 6), ReLU(), Dropout(0.3),
               Dense(6, 4), SoftmaxCrossEntropy()]
    return Sequential(layers, backend=make_backend(backend_name, dtype="float64")).reset_parameters(3)


@pytest.mark.parametrize("with_batchnorm", [False, True])
def test_whole_network_with_loss(with_batchnorm, rng, backend_name):
    model = small_network(backend_name, with_batchnorm)
    x = rng.standard_normal((3, 3, 10, 13))
    dropout = next(layer for layer in model if isinstance(layer, Dropout))
    dropout.fixed_mask = device(model, rng.random((3, 6)) >= dropout.p)
    labels = np.array([0, 3, 1])
    report = check_layer(model, x, labels=labels)
    record_gradcheck(report)
    assert report.passed(TOLERANCE), str(report)
    assert set(report.errors) == {"dx"} | set(model.params), str(report)
    # random inputs may land a ReLU within h of 0; that must stay rare
    assert sum(report.kinks.values()) <= 3, str(report)


def residual_block(channels_in, channels_out, stride):
    """conv-BN-ReLU-conv-BN, with the identity or a 1x1 strided conv + BN as shortcut."""
    from minicnn import Residual
    body = [Conv2D(channels_in, channels_out, 3, stride=stride, padding=1, bias=False),
            BatchNorm2D(channels_out), ReLU(),
            Conv2D(channels_out, channels_out, 3, padding=1, bias=False), BatchNorm2D(channels_out)]
    if channels_in == channels_out and stride == 1:
        return Residual(body)
    return Residual(body, [Conv2D(channels_in, channels_out, 1, stride=stride, bias=False),
                           BatchNorm2D(channels_out)])


@pytest.mark.parametrize("channels_in, channels_out, stride", [(3, 3, 1), (2, 4, 2), (3, 5, 1)])
def test_residual_gradients(channels_in, channels_out, stride, rng, backend_name):
    """The fork rule, checked on both shortcuts (identity; 1x1 strided conv + BN), BN in training."""
    layer = on_backend(residual_block(channels_in, channels_out, stride), backend_name)
    for path, inner in layer.walk():
        if isinstance(inner, BatchNorm2D):   # gamma != 1 and beta != 0, where bugs hide
            inner.params["gamma"] = device(layer, rng.uniform(0.5, 1.5, inner.num_features))
            inner.params["beta"] = device(layer, rng.standard_normal(inner.num_features))
    report = check_layer(layer, rng.standard_normal((2, channels_in, 6, 5)), max_coordinates=40)
    assert set(report.errors) == {"dx"} | set(layer.named("params")), str(report)
    assert_passes(report, expect_no_kinks=False)
    assert sum(report.kinks.values()) <= 3, str(report)


def test_residual_network_with_loss(rng, backend_name):
    """A stem, two residual blocks (identity and projection), GAP, dense and the loss."""
    layers = [Conv2D(3, 4, 3, padding=1, bias=False), BatchNorm2D(4), ReLU(),
              residual_block(4, 4, 1), ReLU(), residual_block(4, 6, 2), ReLU(),
              GlobalAvgPool2D(), Dense(6, 3), SoftmaxCrossEntropy()]
    model = Sequential(layers, backend=make_backend(backend_name, dtype="float64"))
    model.reset_parameters(5)
    report = check_layer(model, rng.standard_normal((3, 3, 6, 6)), labels=np.array([0, 2, 1]),
                         max_coordinates=12)
    record_gradcheck(report)
    assert report.passed(TOLERANCE), str(report)
    assert "5.shortcut.0.W" in report.errors and "3.body.3.W" in report.errors
    assert sum(report.kinks.values()) <= 3, str(report)


def test_softmax_cross_entropy_gradients_with_soft_targets(rng, backend_name):
    targets = rng.dirichlet(np.ones(6), size=5)
    report = check_layer(on_backend(SoftmaxCrossEntropy(), backend_name),
                         rng.standard_normal((5, 6)), labels=targets)
    assert_passes(report)
