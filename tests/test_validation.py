"""Every layer rejects wrong shapes and dtypes with an error naming the expected shape."""
import numpy as np
import pytest

from minicnn import (BatchNorm2D, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool2D, MaxPool2D,
                     ReLU, SoftmaxCrossEntropy)
from minicnn.layers import ShapeError

from .conftest import device, float64_forbidden, on_backend

WRONG_SHAPES = [
    (lambda: Conv2D(3, 4, 3), (2, 3, 8), r"\(N, C, H, W\)"),
    (lambda: Conv2D(3, 4, 3), (2, 5, 8, 8), r"C=3.*C=5"),
    (lambda: Conv2D(3, 4, 5), (1, 3, 3, 3), r"smaller than the 5x5 kernel"),
    (lambda: MaxPool2D(2), (2, 3, 8), r"\(N, C, H, W\)"),
    (lambda: MaxPool2D(3), (1, 1, 2, 5), r"smaller than its 3x3 window"),
    (lambda: Dense(10, 3), (2, 9), r"D=10.*D=9"),
    (lambda: Dense(10, 3), (2, 2, 5), r"\(N, D\)"),
    (lambda: BatchNorm2D(4), (2, 3, 5, 5), r"C=4.*C=3"),
    (lambda: GlobalAvgPool2D(), (2, 3), r"\(N, C, H, W\)"),
    (lambda: Flatten(), (5,), r"\(N, \.\.\.\)"),
]


@pytest.mark.parametrize("make_layer, shape, message", WRONG_SHAPES)
def test_wrong_shapes_name_the_expected_shape(make_layer, shape, message):
    with pytest.raises(ValueError, match=message) as caught:
        make_layer().forward(np.zeros(shape, dtype=np.float32))
    assert str(tuple(shape)) in str(caught.value) or "smaller" in str(caught.value)


@pytest.mark.parametrize("make_layer, shape", [
    (lambda: Conv2D(3, 4, 3), (1, 3, 5, 5)), (lambda: MaxPool2D(2), (1, 1, 4, 4)),
    (lambda: Dense(4, 2), (2, 4)), (lambda: ReLU(), (2, 4)), (lambda: Dropout(0.5), (2, 4)),
    (lambda: BatchNorm2D(3), (2, 3, 2, 2)), (lambda: GlobalAvgPool2D(), (1, 2, 3, 3)),
])
@pytest.mark.parametrize("dtype", ["int64", "uint8", "bool"])
def test_integer_inputs_are_rejected(make_layer, shape, dtype):
    with pytest.raises(TypeError, match=f"floating-point.*{dtype}"):
        make_layer().forward(np.zeros(shape, dtype=dtype))


def test_non_arrays_are_rejected():
    with pytest.raises(TypeError, match=r"Conv2D expects an array of shape \(N, C, H, W\), got list"):
        Conv2D(1, 1, 1).forward([[[[1.0]]]])


def test_loss_rejects_bad_labels():
    layer = SoftmaxCrossEntropy()
    logits = np.zeros((3, 4))
    with pytest.raises(TypeError, match="integer array of shape"):
        layer.forward(logits, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ShapeError, match=r"\(N,\) = \(3,\)"):
        layer.forward(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"\[0, 4\).*from 0 to 4"):
        layer.forward(logits, np.array([0, 1, 4]))


@pytest.mark.parametrize("make_layer, message", [
    (lambda: Conv2D(3, 0, 3), "out_channels must be an integer >= 1, got 0"),
    (lambda: Conv2D(3, 4, 3, stride=0), "stride must be an integer >= 1, got 0"),
    (lambda: Conv2D(3, 4, 3, padding=-1), "padding must be an integer >= 0, got -1"),
    (lambda: MaxPool2D(0), "kernel_size must be an integer >= 1, got 0"),
    (lambda: Dense(4, 2.5), "out_features must be an integer >= 1, got 2.5"),
    (lambda: Dropout(1.0), r"must be a finite number >= 0 and < 1, got 1.0"),
    (lambda: BatchNorm2D(0), "num_features must be an integer >= 1, got 0"),
])
def test_bad_constructor_arguments(make_layer, message):
    with pytest.raises(ValueError, match=message):
        make_layer()


def test_dtype_follows_the_input_without_silent_upcasts(rng):
    layer = Conv2D(2, 3, 3)
    out32 = layer.forward(rng.standard_normal((1, 2, 5, 5)).astype(np.float32))
    assert out32.dtype == np.float32
    with pytest.warns(UserWarning, match="casting parameters from float32 to float64"):
        out64 = layer.forward(rng.standard_normal((1, 2, 5, 5)))
    assert out64.dtype == np.float64 and layer.params["W"].dtype == np.float64
    dx = layer.backward(np.ones_like(out64))
    assert dx.dtype == np.float64 and layer.grads["W"].dtype == np.float64


@pytest.mark.parametrize("make_layer, shape", [
    (lambda: Conv2D(2, 3, 3, padding=1), (2, 2, 6, 6)), (lambda: MaxPool2D(2), (2, 2, 6, 6)),
    (lambda: ReLU(), (2, 5)), (lambda: Dense(5, 3), (2, 5)), (lambda: Dropout(0.5), (4, 5)),
    (lambda: BatchNorm2D(2), (2, 2, 3, 3)), (lambda: GlobalAvgPool2D(), (2, 2, 3, 3)),
    (lambda: Flatten(), (2, 2, 3, 3)),
])
def test_float32_stays_float32(make_layer, shape, backend_name, rng):
    """On the CuPy stand-in any float64 array, even a temporary one, is an error."""
    layer = on_backend(make_layer(), backend_name, dtype="float32")
    with float64_forbidden(backend_name):
        out = layer.forward(device(layer, rng.standard_normal(shape).astype(np.float32)))
        dx = layer.backward(device(layer, np.ones(out.shape, dtype=np.float32)))
    assert out.dtype == np.float32 and dx.dtype == np.float32
    for name, grad in layer.grads.items():
        assert grad.dtype == np.float32, name


@pytest.mark.parametrize("backend_name", ["numpy", "numba"])
@pytest.mark.parametrize("make_layer, shape", [
    (lambda: Conv2D(3, 4, 3), (0, 3, 5, 5)), (lambda: MaxPool2D(2), (0, 1, 4, 4)),
    (lambda: Dense(4, 2), (0, 4)), (lambda: BatchNorm2D(3), (0, 3, 2, 2)),
    (lambda: GlobalAvgPool2D(), (0, 2, 3, 3)),
])
def test_an_empty_batch_is_a_clear_error_on_every_cpu_backend(make_layer, shape, backend_name):
    """The numba fast paths used to fail deep inside with "range() arg 3 must not be zero"."""
    layer = on_backend(make_layer(), backend_name, dtype="float32")
    with pytest.raises(ShapeError, match=rf"empty batch: shape \({shape[0]}, .*holds no samples"):
        layer.forward(np.zeros(shape, dtype=np.float32))


@pytest.mark.parametrize("backend_name", ["numpy", "numba"])
def test_float16_input_is_a_clear_error_on_every_cpu_backend(backend_name):
    """The numba kernels have no float16 version (NotImplementedError deep inside)."""
    layer = on_backend(Conv2D(3, 4, 3), backend_name, dtype="float32")
    with pytest.raises(TypeError, match=r"float32 or float64\), got dtype float16"):
        layer.forward(np.zeros((2, 3, 5, 5), dtype=np.float16))
