"""A container of layers is itself a layer: Sequential and Residual nest in each other, and
a nested model trains, checks and round-trips through a checkpoint like a flat one."""
import numpy as np
import pytest

from minicnn import (BatchNorm2D, Conv2D, Dense, GlobalAvgPool2D, ReLU, Residual, Sequential,
                     SoftmaxCrossEntropy)
from minicnn.backend import get_backend
from minicnn.gradcheck import check_layer
from minicnn.layers import Container, Layer
from minicnn.optim import SGD


def float64():
    return get_backend("numpy", dtype="float64")


def nested_model(seed=0):
    """conv, [conv-BN-ReLU as a Sequential], a Residual whose body is a Sequential, GAP, dense."""
    stage = Sequential([Conv2D(3, 4, 3, padding=1, bias=False), BatchNorm2D(4), ReLU()])
    block = Residual([Sequential([Conv2D(4, 4, 3, padding=1), ReLU()])])
    return Sequential([Conv2D(2, 3, 3, padding=1), stage, block, GlobalAvgPool2D(), Dense(4, 3),
                       SoftmaxCrossEntropy()], backend=float64()).reset_parameters(seed)


def flat_copy(model):
    """The same network with every inner Sequential spliced into the outer one."""
    conv, stage, block, pool, dense, loss = model.layers
    return Sequential([conv, *stage.layers, block, pool, dense, loss], backend=float64())


def test_sequential_is_a_container_layer():
    model = nested_model()
    assert isinstance(model, Container) and isinstance(model, Layer)
    assert not model.holds_arrays
    assert {"0.W", "1.0.W", "1.1.gamma", "2.body.0.0.W", "4.W"} <= set(model.params)
    assert "1.1.running_mean" in model.buffers
    with pytest.raises(AttributeError, match="is a view of the layers inside it"):
        model.params = {"0.W": np.zeros(3)}


def test_a_nested_sequential_computes_what_the_flat_one_does(rng=np.random.default_rng(0)):
    model = nested_model()
    flat = flat_copy(model)
    x, labels = rng.standard_normal((3, 2, 6, 6)), np.array([0, 2, 1])
    loss = model.forward(x, labels)
    dx = model.backward()
    nested_grads = {key: grad.copy() for key, grad in model.grads.items()}
    assert flat.forward(x, labels) == loss
    np.testing.assert_array_equal(flat.backward(), dx)
    # same arrays, other paths: "1.0.W" in the nested model is "1.W" in the flat one
    assert sorted(map(id, flat.params.values())) == sorted(map(id, model.params.values()))
    np.testing.assert_array_equal(nested_grads["1.0.W"], flat.grads["1.W"])


def test_a_nested_model_passes_the_gradient_check():
    model = nested_model(seed=3).train()
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 5))
    report = check_layer(model, x, labels=np.array([1, 2]))
    assert report.passed(), str(report)
    assert {"dx", "1.0.W", "1.1.gamma", "2.body.0.0.W", "2.body.0.0.b", "4.b"} <= set(report.errors)


def test_a_sequential_inside_a_residual_inside_a_sequential_checks_as_a_layer():
    block = Residual([Sequential([Dense(4, 4), ReLU(), Dense(4, 4)])])
    block.astype(np.float64)
    report = check_layer(block, np.random.default_rng(2).standard_normal((3, 4)))
    assert report.passed(), str(report)
    assert set(report.errors) == {"dx", "body.0.0.W", "body.0.0.b", "body.0.2.W", "body.0.2.b"}


def test_a_nested_model_round_trips_through_a_checkpoint(tmp_path):
    model = nested_model(seed=5)
    optimizer = SGD(0.1, momentum=0.9)
    x, labels = np.random.default_rng(3).standard_normal((4, 2, 6, 6)), np.array([0, 1, 2, 0])
    for _ in range(2):
        model.forward(x, labels)
        model.backward()
        optimizer.step(model)
    model.save(tmp_path / "nested.npz", optimizer=optimizer)
    restored = Sequential.from_checkpoint(tmp_path / "nested.npz", backend=float64())
    assert [type(layer).__name__ for layer in restored.layers] == \
        ["Conv2D", "Sequential", "Residual", "GlobalAvgPool2D", "Dense", "SoftmaxCrossEntropy"]
    assert restored.architecture() == model.architecture()
    for store in ("params", "buffers"):
        for key, value in getattr(model, store).items():
            np.testing.assert_array_equal(getattr(restored, store)[key], value)
    np.testing.assert_array_equal(restored.eval().forward(x), model.eval().forward(x))
