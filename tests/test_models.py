"""Sequential: running, modes, parameters, checkpoints, learning and determinism."""
import os

import numpy as np
import pytest

from minicnn import (BatchNorm2D, CheckpointError, Conv2D, Dense, Dropout, Flatten,
                     GlobalAvgPool2D, MaxPool2D, ReLU, Sequential, SoftmaxCrossEntropy)
from minicnn.optim import SGD, Adam


def bars_dataset(rng, count=64, size=8):
    """Class 0: a vertical bar, class 1: a horizontal bar, at random positions, plus noise."""
    images = rng.standard_normal((count, 1, size, size)).astype(np.float32) * 0.3
    labels = rng.integers(0, 2, count)
    positions = rng.integers(1, size - 1, count)
    for index, (label, position) in enumerate(zip(labels, positions)):
        if label == 0:
            images[index, 0, :, position] += 1.5
        else:
            images[index, 0, position, :] += 1.5
    return images, labels


def small_model(backend="numpy", seed=0, channels=4):
    return Sequential([Conv2D(1, channels, 3, padding=1), BatchNorm2D(channels), ReLU(),
                       MaxPool2D(2), Conv2D(channels, 8, 3, padding=1), ReLU(),
                       GlobalAvgPool2D(), Dropout(0.2), Dense(8, 2), SoftmaxCrossEntropy()],
                      backend=backend, seed=seed)


def train(model, optimizer, images, labels, steps, batch=16):
    losses = []
    model.train()
    for step in range(steps):
        start = (step * batch) % len(images)
        loss = model.forward(images[start:start + batch], labels[start:start + batch])
        model.backward()
        optimizer.step(model)
        losses.append(float(loss))
    return losses


@pytest.mark.parametrize("backend_name", ["numpy", "numba"])
def test_tiny_network_learns_the_bars(backend_name, rng):
    images, labels = bars_dataset(rng, count=128)
    model = small_model(backend_name)
    losses = train(model, SGD(0.1, momentum=0.9), images, labels, steps=60)
    assert np.mean(losses[-8:]) < 0.5 * np.mean(losses[:8])
    model.eval()
    predictions = model.forward(images).argmax(axis=1)
    assert np.mean(predictions == labels) >= 0.9


def test_same_seed_same_weights_other_seed_differs(rng):
    images, labels = bars_dataset(rng)
    weights = []
    for seed in (3, 3, 4):
        model = small_model(seed=seed)
        train(model, Adam(1e-2), images, labels, steps=10)
        weights.append(model.params)
    for key in weights[0]:
        np.testing.assert_array_equal(weights[0][key], weights[1][key])
    assert any(not np.array_equal(weights[0][k], weights[2][k]) for k in weights[0])


def test_train_and_eval_reach_every_layer():
    model = small_model()
    model.eval()
    assert all(not layer.training for layer in model)
    model.train()
    assert all(layer.training for layer in model)


def test_parameters_and_gradients_iterate_together(rng):
    model = small_model()
    images, labels = bars_dataset(rng, count=4)
    model.forward(images, labels)
    model.backward()
    triples = model.params_and_grads()
    assert [key for key, _, _ in triples] == list(model.params)
    for key, param, grad in triples:
        assert param.shape == grad.shape, key
    assert model.num_parameters() == sum(p.size for p in model.parameters())
    assert len(model.gradients()) == len(model.parameters())


def test_checkpoint_round_trip_with_optimizer(tmp_path, rng):
    images, labels = bars_dataset(rng)
    model = small_model(seed=1)
    optimizer = SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)
    train(model, optimizer, images, labels, steps=5)
    path = tmp_path / "model.npz"
    model.save(path, optimizer=optimizer, meta={"epoch": 5, "note": "é"})

    restored = small_model(seed=99)
    restored_optimizer = SGD(0.5)
    meta = restored.load(path, optimizer=restored_optimizer)
    assert meta == {"epoch": 5, "note": "é"}
    for key, value in model.params.items():
        np.testing.assert_array_equal(restored.params[key], value)
    for key, value in model.buffers.items():
        np.testing.assert_array_equal(restored.buffers[key], value)
    assert restored_optimizer.nesterov and restored_optimizer.lr == 0.05
    # continuing both gives identical weights: the optimizer state came back whole
    model.eval(), restored.eval()
    train(model, optimizer, images, labels, steps=3)
    train(restored, restored_optimizer, images, labels, steps=3)
    for key, value in model.params.items():
        np.testing.assert_allclose(restored.params[key], value, rtol=0, atol=0)


def test_from_checkpoint_rebuilds_the_architecture(tmp_path, rng):
    model = small_model(seed=2, channels=6)
    path = tmp_path / "m.npz"
    model.save(path)
    rebuilt = Sequential.from_checkpoint(path, backend="numba")
    assert rebuilt.architecture() == model.architecture()
    images, _ = bars_dataset(rng, count=3)
    model.eval(), rebuilt.eval()
    np.testing.assert_allclose(rebuilt.forward(images), model.forward(images), rtol=1e-5, atol=1e-6)


def test_loading_into_another_architecture_is_a_clear_error(tmp_path):
    path = tmp_path / "m.npz"
    small_model(channels=4).save(path)
    with pytest.raises(CheckpointError, match=r"different architecture: layer 0 is Conv2D.*"
                                              r"out_channels': 4.*out_channels': 6"):
        small_model(channels=6).load(path)
    with pytest.raises(CheckpointError, match="it has 10 layers, this model has 2"):
        Sequential([Flatten(), Dense(4, 2)]).load(path)


def test_missing_and_corrupt_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        small_model().load(tmp_path / "nope.npz")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"this is not a zip file")
    with pytest.raises(CheckpointError, match="not a readable minicnn checkpoint"):
        small_model().load(corrupt)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.zeros(3))
    with pytest.raises(CheckpointError, match="no architecture"):
        small_model().load(foreign)


def test_save_is_atomic(tmp_path, monkeypatch):
    """A crash while writing leaves the previous checkpoint intact and no temp file behind."""
    path = tmp_path / "best.npz"
    model = small_model(seed=1)
    model.save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("simulated crash mid-write")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        small_model(seed=2).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["best.npz"]


def test_model_moves_between_backends(rng):
    model = small_model(backend="numpy", seed=5)
    images, _ = bars_dataset(rng, count=4)
    model.eval()
    expected = model.forward(images)
    model.to("numba")
    assert model.backend.name == "numba" and all(layer.backend is model.backend for layer in model)
    np.testing.assert_allclose(model.forward(images), expected, rtol=1e-5, atol=1e-6)


def test_summary_lists_output_shapes():
    text = small_model().summary((1, 1, 8, 8))
    assert "(1, 8, 4, 4)" in text and "(1, 2)" in text
    assert f"{small_model().num_parameters():,}" in text


def test_sequential_rejects_non_layers_and_misplaced_loss():
    with pytest.raises(TypeError, match="layer 1 must be a minicnn Layer, got function"):
        Sequential([ReLU(), lambda x: x])
    with pytest.raises(ValueError, match="may only be the last layer"):
        Sequential([SoftmaxCrossEntropy(), ReLU()])


def test_backward_without_loss_needs_dout():
    model = Sequential([Flatten(), Dense(4, 2)])
    model.forward(np.zeros((1, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="needs dout"):
        model.backward()


@pytest.mark.parametrize("backend_name", ["numpy", "numba"])
@pytest.mark.parametrize("first", ["conv", "relu_then_conv", "dense"])
def test_backward_without_input_gradient_fills_the_same_grads(first, backend_name, rng):
    """input_gradient=False: the same grads as a full backward, no dx, and the
    skipped products are really skipped (the first layer's backward is never called)."""
    if first == "dense":
        layers = [Flatten(), Dense(16, 6), ReLU(), Dense(6, 2)]
        x = rng.standard_normal((5, 1, 4, 4)).astype(np.float32)
    else:
        layers = [Conv2D(1, 3, 3, padding=1), BatchNorm2D(3), ReLU(), MaxPool2D(2), Flatten(),
                  Dense(12, 2)]
        if first == "relu_then_conv":
            layers.insert(0, ReLU())
        x = rng.standard_normal((5, 1, 4, 4)).astype(np.float32)
    labels = rng.integers(0, 2, 5)
    model = Sequential(layers + [SoftmaxCrossEntropy()], backend=backend_name, seed=0)
    model.forward(x, labels)
    dx = model.backward()
    assert dx.shape == x.shape
    full = {key: value.copy() for key, value in model.grads.items()}

    def no_backward(*args):
        raise AssertionError("the first layers' backward must not run")

    for layer in model.layers[:next(i for i, layer in enumerate(model.layers) if layer.params) + 1]:
        layer.backward = no_backward
    model.forward(x, labels)
    assert model.backward(input_gradient=False) is None
    for key, value in model.grads.items():
        np.testing.assert_array_equal(value, full[key], err_msg=key)


def test_backward_without_input_gradient_with_no_parameters():
    model = Sequential([Flatten()])
    model.forward(np.ones((2, 2, 2), dtype=np.float32))
    assert model.backward(np.ones((2, 4), dtype=np.float32), input_gradient=False) is None
