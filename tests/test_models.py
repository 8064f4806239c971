"""Sequential: running, modes, parameters, checkpoints, learning and determinism."""
import os

import numpy as np
import pytest

from minicnn import (BatchNorm2D, CheckpointError, Conv2D, Dense, Dropout, Flatten,
                     GlobalAvgPool2D, MaxPool2D, ReLU, Residual, Sequential, SoftmaxCrossEntropy)
from minicnn.layers import ShapeError
from minicnn.optim import SGD, Adam

from .conftest import (ALL_BACKENDS, NEEDS_GXX, REPO_ROOT, STAND_IN_BACKENDS, device, host,
                       make_backend)


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
    backend = make_backend(backend, seed=seed) if isinstance(backend, str) else backend
    return Sequential([Conv2D(1, channels, 3, padding=1), BatchNorm2D(channels), ReLU(),
                       MaxPool2D(2), Conv2D(channels, 8, 3, padding=1), ReLU(),
                       GlobalAvgPool2D(), Dropout(0.2), Dense(8, 2), SoftmaxCrossEntropy()],
                      backend=backend).reset_parameters(seed)


def train(model, optimizer, images, labels, steps, batch=16, training=True):
    """SGD steps over the images in order; ``training=False`` runs them in eval mode
    (no dropout draws, BatchNorm on its running statistics)."""
    losses = []
    model.train() if training else model.eval()
    for step in range(steps):
        start = (step * batch) % len(images)
        loss = model.forward(device(model, images[start:start + batch]),
                             device(model, labels[start:start + batch]))
        model.backward()
        optimizer.step(model)
        losses.append(float(host(loss)))
    return losses


def host_params(model):
    return {key: host(value) for key, value in model.params.items()}


def test_tiny_network_learns_the_bars(backend_name, rng):
    images, labels = bars_dataset(rng, count=128)
    model = small_model(backend_name)
    losses = train(model, SGD(0.1, momentum=0.9), images, labels, steps=60)
    assert np.mean(losses[-8:]) < 0.5 * np.mean(losses[:8])
    model.eval()
    predictions = host(model.forward(device(model, images)).argmax(axis=1))
    assert np.mean(predictions == labels) >= 0.9


def test_same_seed_same_weights_other_seed_differs(rng, backend_name):
    images, labels = bars_dataset(rng)
    weights = []
    for seed in (3, 3, 4):
        model = small_model(backend_name, seed=seed)
        train(model, Adam(1e-2), images, labels, steps=10)
        weights.append(host_params(model))
    for key in weights[0]:
        np.testing.assert_array_equal(weights[0][key], weights[1][key])
    assert any(not np.array_equal(weights[0][k], weights[2][k]) for k in weights[0])


def test_same_seed_same_initial_weights_on_every_backend():
    """Initial weights are drawn on the host, so a seed means the same start everywhere."""
    reference = host_params(small_model("numpy", seed=8))
    for name in ("numba", *STAND_IN_BACKENDS):
        for key, value in host_params(small_model(name, seed=8)).items():
            np.testing.assert_array_equal(value, reference[key], err_msg=f"{name} {key}")


def test_train_and_eval_reach_every_layer():
    model = small_model()
    model.eval()
    assert all(not layer.training for layer in model)
    model.train()
    assert all(layer.training for layer in model)


def test_parameters_and_gradients_iterate_together(rng, backend_name):
    model = small_model(backend_name)
    images, labels = bars_dataset(rng, count=4)
    model.forward(device(model, images), device(model, labels))
    model.backward()
    triples = model.params_and_grads()
    assert [key for key, _, _ in triples] == list(model.params)
    for key, param, grad in triples:
        assert param.shape == grad.shape, key
    assert model.num_parameters() == sum(p.size for p in model.params.values())
    assert list(model.grads) == list(model.params)


@pytest.mark.parametrize("saved_on, loaded_on", [("numpy", "numpy"), ("fakecupy", "numpy"),
                                                  ("numpy", "fakecupy"), ("numba", "fakecupy"),
                                                  pytest.param("fakecuda", "numpy", marks=NEEDS_GXX)])
def test_checkpoint_round_trip_with_optimizer(saved_on, loaded_on, tmp_path, rng):
    """A checkpoint saved on one backend resumes on another with the same weights and moments."""
    images, labels = bars_dataset(rng)
    model = small_model(saved_on, seed=1)
    optimizer = SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)
    train(model, optimizer, images, labels, steps=5)
    path = tmp_path / "model.npz"
    model.save(path, optimizer=optimizer, meta={"epoch": 5, "note": "é"})

    restored = small_model(loaded_on, seed=99)
    restored_optimizer = SGD(0.5)
    meta = restored.load(path, optimizer=restored_optimizer)
    assert meta == {"epoch": 5, "note": "é"}
    for key, value in model.params.items():
        np.testing.assert_array_equal(host(restored.params[key]), host(value))
    for key, value in model.buffers.items():
        np.testing.assert_array_equal(host(restored.buffers[key]), host(value))
    for key, value in optimizer.state["velocity"].items():
        np.testing.assert_array_equal(host(restored_optimizer.state["velocity"][key]), host(value))
    assert restored_optimizer.nesterov and restored_optimizer.lr == 0.05
    # continuing both in eval mode (no dropout draws) gives the same weights: the
    # optimizer state came back whole (bit for bit when the backends match)
    train(model, optimizer, images, labels, steps=3, training=False)
    train(restored, restored_optimizer, images, labels, steps=3, training=False)
    exact = saved_on == loaded_on
    for key, value in model.params.items():
        np.testing.assert_allclose(host(restored.params[key]), host(value),
                                   rtol=0 if exact else 1e-5, atol=0 if exact else 1e-6)


def test_from_checkpoint_rebuilds_the_architecture(tmp_path, rng, backend_name):
    model = small_model(seed=2, channels=6)
    path = tmp_path / "m.npz"
    model.save(path)
    rebuilt = Sequential.from_checkpoint(path, backend=make_backend(backend_name))
    assert rebuilt.architecture() == model.architecture()
    images, _ = bars_dataset(rng, count=3)
    model.eval(), rebuilt.eval()
    np.testing.assert_allclose(host(rebuilt.forward(device(rebuilt, images))),
                               model.forward(images), rtol=1e-5, atol=1e-6)


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
    with pytest.raises(CheckpointError, match="is not a minicnn checkpoint: a checkpoint is a "
                                              r"\.npz \(zip\) archive"):
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


@pytest.mark.parametrize("target", ALL_BACKENDS[1:])
def test_model_moves_between_backends_with_everything_it_owns(target, rng):
    """Weights, BatchNorm statistics and Adam's moments all travel, and training goes on
    as it would have on the first backend."""
    images, labels = bars_dataset(rng, count=32)
    model, optimizer = small_model("numpy", seed=5), Adam(1e-2)
    twin, twin_optimizer = small_model("numpy", seed=5), Adam(1e-2)
    for network, adam in ((model, optimizer), (twin, twin_optimizer)):
        train(network, adam, images, labels, steps=3)   # BatchNorm statistics move
        network.eval()
    expected = model.forward(images)

    model.to(make_backend(target), optimizer=optimizer)
    assert all(layer.backend is model.backend for layer in model)
    arrays = (list(model.params.values()) + list(model.buffers.values())
              + [value for slots in optimizer.state.values() for value in slots.values()])
    assert all(not isinstance(array, np.ndarray) or target == "numba" for array in arrays)
    np.testing.assert_allclose(host(model.forward(device(model, images))), expected,
                               rtol=1e-5, atol=1e-6)
    # eval mode from here on: no dropout, whose streams differ between backends
    train(model, optimizer, images, labels, steps=3, training=False)
    train(twin, twin_optimizer, images, labels, steps=3, training=False)
    model.to("numpy", optimizer=optimizer)
    for key, value in twin.params.items():
        np.testing.assert_allclose(model.params[key], value, rtol=1e-4, atol=1e-5, err_msg=key)
    for key, value in twin.buffers.items():
        np.testing.assert_allclose(model.buffers[key], value, rtol=1e-5, atol=1e-6, err_msg=key)


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


@pytest.mark.parametrize("first", ["conv", "relu_then_conv", "dense"])
def test_backward_without_input_gradient_fills_the_same_grads(first, backend_name, rng):
    """input_gradient=False: the same grads as a full backward, no dx, and the
    skipped products are really skipped (no input gradient at or below the first
    layer with parameters, and nothing at all below it)."""
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
    model = Sequential(layers + [SoftmaxCrossEntropy()], backend=make_backend(backend_name)).reset_parameters(0)
    x, labels = device(model, x), device(model, labels)
    model.forward(x, labels)
    dx = model.backward()
    assert dx.shape == x.shape
    full = {key: host(value).copy() for key, value in model.grads.items()}

    def must_not_run(*args):
        raise AssertionError("a skipped product ran")

    first = next(i for i, layer in enumerate(model.layers) if layer.params)
    for layer in model.layers[:first]:
        layer.parameter_gradients = layer.input_gradient = must_not_run
    model.layers[first].input_gradient = must_not_run
    model.forward(x, labels)
    assert model.backward(input_gradient=False) is None
    for key, value in model.grads.items():
        np.testing.assert_array_equal(host(value), full[key], err_msg=key)


def test_backward_without_input_gradient_with_no_parameters():
    model = Sequential([Flatten()])
    model.forward(np.ones((2, 2, 2), dtype=np.float32))
    assert model.backward(np.ones((2, 4), dtype=np.float32), input_gradient=False) is None


def test_a_checkpoint_of_the_previous_release_still_loads(backend_name):
    """tests/fixtures/checkpoint_release_a51f818.npz was written by minicnn at commit a51f818
    (before minicnn/functional existed): same architecture, same weights, same logits."""
    path = REPO_ROOT / "tests" / "fixtures" / "checkpoint_release_a51f818.npz"
    model = Sequential.from_checkpoint(path, backend=make_backend(backend_name)).eval()
    meta = model.load(path, optimizer=SGD(0.1, momentum=0.9))
    x = np.random.default_rng(meta["input_seed"]).standard_normal((4, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(host(model.forward(device(model, x))), meta["expected_logits"],
                               rtol=1e-5, atol=1e-6)
    assert [type(layer).__name__ for layer in model][:2] == ["Conv2D", "BatchNorm2D"]
    assert not model[0].has_bias and model[4].has_bias


def residual_model(backend):
    body = [Conv2D(3, 4, 3, stride=2, padding=1, bias=False), BatchNorm2D(4), ReLU(),
            Conv2D(4, 4, 3, padding=1, bias=False), BatchNorm2D(4)]
    return Sequential([Residual(body, [Conv2D(3, 4, 1, stride=2, bias=False), BatchNorm2D(4)]),
                       ReLU(), Residual([Conv2D(4, 4, 3, padding=1), ReLU()]), GlobalAvgPool2D(),
                       Dense(4, 2), SoftmaxCrossEntropy()], backend=backend)


def test_a_checkpoint_describes_nested_layers(tmp_path, rng, backend_name):
    """Residual blocks in the architecture JSON, their weights by path, all restored."""
    model = residual_model(make_backend(backend_name)).reset_parameters(4)
    images, labels = rng.standard_normal((4, 3, 8, 8)).astype(np.float32), np.array([0, 1, 1, 0])
    optimizer = SGD(0.1, momentum=0.9)
    for _ in range(2):   # BatchNorm statistics and momentum away from their start
        model.forward(device(model, images), device(model, labels))
        model.backward()
        optimizer.step(model)
    assert {"0.body.0.W", "0.shortcut.1.gamma", "2.body.0.b"} <= set(model.params)
    assert "0.body.1.running_var" in model.buffers
    path = tmp_path / "residual.npz"
    model.save(path, optimizer=optimizer)
    description = model.architecture()[0]
    assert description["type"] == "Residual"
    assert [inner["type"] for inner in description["config"]["shortcut"]] == ["Conv2D",
                                                                              "BatchNorm2D"]
    restored = Sequential.from_checkpoint(path, backend=make_backend(backend_name))
    assert restored.architecture() == model.architecture()
    for store in ("params", "buffers"):
        for key, value in getattr(model, store).items():
            np.testing.assert_array_equal(host(getattr(restored, store)[key]), host(value))
    x = device(model, images)
    np.testing.assert_array_equal(host(restored.eval().forward(x)), host(model.eval().forward(x)))
    other = residual_model("numpy")
    other.layers[0].shortcut = None    # same layer count, another block
    with pytest.raises(CheckpointError, match="layer 0 is Residual"):
        other.load(path)


def test_a_residual_whose_branches_disagree_says_how_to_fix_it():
    block = Residual([Conv2D(3, 4, 3, padding=1)])
    with pytest.raises(ShapeError, match=r"body gives shape \(1, 4, 5, 5\).*identity shortcut "
                                         r"gives \(1, 3, 5, 5\).*1x1 strided Conv2D"):
        block.forward(np.ones((1, 3, 5, 5), dtype=np.float32))
    with pytest.raises(TypeError, match=r"Residual body\[1\] must be a minicnn Layer"):
        Residual([Conv2D(3, 4, 3), "relu"])
