"""The device (CuPy) backends, proven on the strict CuPy stand-in of tests/fakecupy.py.

Two backends run on the stand-in (tests/conftest.py, STAND_IN_BACKENDS): fakecupy, a
DeviceBackend computing with the readable functions, and fakecuda, CupyBackend itself
with its CUDA kernels run on the host. On both, a training step must never wait for the
device and must stay float32, and layer code must never hand device arrays to NumPy.
Real CuPy runs the backend-parametrized suite when a GPU is there.
"""
import ast
import collections
import json
import sys
import types

import numpy as np
import pytest

from minicnn import (BackendUnavailable, BatchNorm2D, Conv2D, Dense, Dropout, Flatten,
                     GlobalAvgPool2D, MaxPool2D, ReLU, Sequential, SoftmaxCrossEntropy,
                     get_backend)
from minicnn.backend import CupyBackend
from minicnn.data import ImageDataset
from minicnn.backend import cupy_ops
from minicnn.kernels import cupy_kernels
from minicnn.layers import Layer
from minicnn.optim import SGD, AdamW
from minicnn.train import TrainConfig, Trainer, TrainingBatches

from . import fakecupy
from .conftest import NEEDS_GXX, REPO_ROOT, device, host, make_backend


def every_layer_network(backend, seed=0, dropout=True):
    """conv-BN-ReLU-pool, strided conv-ReLU-pool, GAP, flatten, dense-ReLU-dropout-dense, loss
    (no dropout with ``dropout=False``: its masks differ between host and device)."""
    return Sequential([Conv2D(3, 8, 3, padding=1, bias=False), BatchNorm2D(8), ReLU(),
                       MaxPool2D(2), Conv2D(8, 8, 3, stride=2, padding=1), ReLU(),
                       MaxPool2D(3, 2), GlobalAvgPool2D(), Flatten(), Dense(8, 16), ReLU(),
                       *([Dropout(0.5)] if dropout else []), Dense(16, 4), SoftmaxCrossEntropy()],
                      backend=backend).reset_parameters(seed)


def tiny_dataset(images, labels):
    count = len(images)
    return ImageDataset(images, np.asarray(labels, dtype=np.int64), ["a", "b", "c", "d"],
                        [f"{i}.png" for i in range(count)], [str(i) for i in range(count)], "test")


def batch(rng, size=6, side=16):
    return (rng.standard_normal((size, 3, side, side)).astype(np.float32),
            rng.integers(0, 4, size))


def test_a_training_step_makes_no_host_sync(stand_in_name, rng):
    model = every_layer_network(make_backend(stand_in_name))
    optimizer = SGD(0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    images, labels = batch(rng)
    x, y = device(model, images), device(model, labels)
    with fakecupy.count_host_syncs() as syncs:
        for _ in range(2):
            loss = model.forward(x, y)
            model.backward()
            optimizer.step(model)
        assert syncs.count == 0
        assert np.isfinite(float(loss))
        assert syncs.count == 1   # the counter does see a host read


def test_a_float32_training_step_never_makes_a_float64(stand_in_name, rng):
    model = every_layer_network(make_backend(stand_in_name))
    images, labels = batch(rng)
    for optimizer in (SGD(0.1, momentum=0.9, weight_decay=1e-4), AdamW(1e-3, weight_decay=0.01)):
        with fakecupy.forbid_float64():
            loss = model.forward(device(model, images), device(model, labels))
            model.backward()
            optimizer.step(model)
            model.eval()
            logits = model.forward(device(model, images))
            model.train()
        assert loss.dtype == logits.dtype == np.float32


def test_forbid_float64_does_catch_a_float64(rng):
    """The check above could fail: a float64 scalar upcasts a float32 array under NumPy 2 rules."""
    x = device(make_backend("fakecupy"), rng.standard_normal(3).astype(np.float32))
    with fakecupy.forbid_float64(), pytest.raises(TypeError, match="float64"):
        x * np.float64(2.0)


@NEEDS_GXX
def test_the_cuda_backend_launches_its_kernels_on_the_stand_in(rng, monkeypatch):
    """fakecuda is CupyBackend with its own table, so a step launches its CUDA kernels
    (each through the stand-in's ElementwiseKernel): im2col and col2im once per
    convolution, maxpool and unpool once per pooling layer."""
    backend = make_backend("fakecuda")
    assert type(backend) is CupyBackend and backend.ops is cupy_ops
    table = cupy_kernels.kernels_of(fakecupy.xp)
    assert all(type(kernel) is fakecupy.ElementwiseKernel for kernel in table.values())
    launches = collections.Counter()

    def counted(name, kernel):
        def launch(*args):
            launches[name] += 1
            return kernel(*args)
        return launch
    for name, kernel in list(table.items()):
        monkeypatch.setitem(table, name, counted(name, kernel))
    model = every_layer_network(backend)
    images, labels = batch(rng)
    model.forward(device(model, images), device(model, labels))
    model.backward()
    convolutions = sum(isinstance(layer, Conv2D) for layer in model)
    poolings = sum(isinstance(layer, MaxPool2D) for layer in model)
    assert launches == {"im2col": convolutions, "col2im": convolutions,
                        "maxpool": poolings, "unpool": poolings}


@NEEDS_GXX
@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-4), ("float64", 1e-10)])
def test_training_steps_on_fakecuda_equal_the_numpy_backends(dtype, tolerance, rng):
    """CupyBackend, its kernels run on the host, trains as the numpy backend does: the
    same losses and weights after a few SGD steps, to float tolerance (its GEMMs and
    gathers add in another order)."""
    images, labels = batch(rng, size=8, side=20)    # the second pooling: overlapping windows
    runs = {}
    for name in ("numpy", "fakecuda"):
        model = every_layer_network(make_backend(name, dtype=dtype), dropout=False)
        optimizer = SGD(0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
        x, y = device(model, images.astype(dtype)), device(model, labels)
        losses = []
        for _ in range(4):
            losses.append(float(host(model.forward(x, y))))
            model.backward()
            optimizer.step(model)
        runs[name] = losses, {key: host(value) for key, value in model.params.items()}
    (numpy_losses, numpy_weights), (cuda_losses, cuda_weights) = runs["numpy"], runs["fakecuda"]
    assert numpy_losses[-1] < numpy_losses[0]     # the steps did train
    np.testing.assert_allclose(cuda_losses, numpy_losses, rtol=tolerance)
    for key, weight in numpy_weights.items():
        np.testing.assert_allclose(cuda_weights[key], weight, rtol=tolerance, atol=tolerance,
                                   err_msg=key)


def test_the_trainer_reads_the_device_once_per_window(stand_in_name, rng, tmp_path):
    model = every_layer_network(make_backend(stand_in_name))
    images = rng.integers(0, 256, (48, 3, 16, 16), dtype=np.uint8)
    data = tiny_dataset(images, rng.integers(0, 4, 48))
    trainer = Trainer(model, TrainConfig(epochs=1, batch_size=6), tmp_path, data.class_names,
                      mean=[128.0] * 3, std=[64.0] * 3, progress=False, sync_every=3)
    trainer.epoch = 1
    batches = TrainingBatches(data, trainer.config, trainer.mean, trainer.std, 4, model.backend,
                              trainer.data_rng)
    with fakecupy.count_host_syncs() as syncs:
        row = trainer.train_one_epoch(batches, lambda step: 0.01)
    assert syncs.count == 3            # 8 steps in windows of 3, 3 and 2
    assert 0 < row["train_loss"] < 10 and 0 <= row["train_accuracy"] <= 1


def test_a_whole_training_run_on_the_device_backend(stand_in_name, rng, tmp_path):
    """fit, validation, checkpoints and the resume all work with device arrays."""
    images = rng.integers(0, 256, (40, 3, 16, 16), dtype=np.uint8)
    data = tiny_dataset(images, np.arange(40) % 4)
    config = TrainConfig(epochs=2, batch_size=8, lr=0.01)

    def run(epochs, resume):
        model = every_layer_network(make_backend(stand_in_name))
        trainer = Trainer(model, TrainConfig(**{**vars(config), "epochs": epochs}), tmp_path,
                          data.class_names, mean=[128.0] * 3, std=[64.0] * 3, progress=False)
        return trainer.fit(data, data.subset(np.arange(12)), resume=resume), model

    run(1, resume=False)
    history, resumed = run(2, resume=True)
    assert [row["epoch"] for row in history] == [1, 2]
    checkpoint = Sequential.from_checkpoint(tmp_path / "last.npz", backend="numpy")
    for key, value in resumed.params.items():
        np.testing.assert_array_equal(checkpoint.params[key], host(value))


def test_the_device_rng_is_seeded_resumable_and_its_own_stream(stand_in_name):
    backend = make_backend(stand_in_name, seed=3)
    first = host(backend.random((4, 5), np.float32))
    state = json.loads(json.dumps(backend.get_rng_state()))    # survives a checkpoint
    second = host(backend.random((4, 5), np.float32))
    backend.set_rng_state(state)
    np.testing.assert_array_equal(host(backend.random((4, 5), np.float32)), second)
    again = make_backend(stand_in_name, seed=3).random((4, 5), np.float32)
    np.testing.assert_array_equal(host(again), first)
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, get_backend("numpy", seed=3).random((4, 5), np.float32))
    assert first.dtype == np.float32 and np.all((first >= 0) & (first < 1))


def test_a_host_checkpoint_seeds_a_device_backend_and_back(stand_in_name):
    numpy_backend = get_backend("numpy", seed=4)
    device_backend = make_backend(stand_in_name, seed=9)
    device_backend.set_rng_state(numpy_backend.get_rng_state())
    assert device_backend.rng.random() == numpy_backend.rng.random()
    numpy_backend.set_rng_state(device_backend.get_rng_state())
    assert device_backend.rng.random() == numpy_backend.rng.random()


def test_memory_pool_statistics(stand_in_name):
    backend = make_backend(stand_in_name)
    stats = backend.memory_stats()
    assert set(stats) == {"used_bytes", "total_bytes"}
    assert all(isinstance(value, int) and value >= 0 for value in stats.values())
    assert get_backend("numpy").memory_stats() == {}


def test_without_cupy_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)     # makes `import cupy` fail
    with pytest.raises(BackendUnavailable, match=r'pip install -e "\.\[gpu\]"'):
        get_backend("cupy")


def test_with_cupy_but_no_gpu_the_error_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", types.SimpleNamespace(is_available=lambda: False))
    with pytest.raises(BackendUnavailable, match="CuPy is installed but finds no usable GPU"):
        get_backend("cupy")


class ExpLayer(Layer):
    """A layer written wrongly: it calls NumPy on its input."""

    def forward(self, x):
        return np.exp(x)


def test_layer_code_that_calls_numpy_on_activations_fails(rng):
    layer = ExpLayer()
    layer.to_backend(make_backend("fakecupy"))
    with pytest.raises(TypeError, match="np.exp|numpy"):
        layer.forward(device(layer, rng.standard_normal(3)))


def numpy_uses(path):
    """Line numbers where a module imports numpy or calls a function of it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {alias.asname or alias.name for node in ast.walk(tree)
             if isinstance(node, (ast.Import, ast.ImportFrom))
             for alias in node.names if alias.name == "numpy"}
    from_numpy = [node.lineno for node in ast.walk(tree)
                  if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("numpy")]
    return sorted(from_numpy + [node.lineno for node in ast.walk(tree)
                                if isinstance(node, ast.Attribute)
                                and isinstance(node.value, ast.Name) and node.value.id in names
                                and node.attr not in ("ndarray", "generic")])


def test_layer_functional_and_optimizer_code_never_names_numpy():
    """Layers, the functional maths and optimizers reach arrays through ``xp`` only.
    functional/arrays.py (array_module) is the one place that returns the numpy module
    itself, for NumPy arrays; init.py draws the initial weights on the host, by design."""
    package = REPO_ROOT / "minicnn"
    sources = [path for path in sorted((package / "layers").glob("*.py")) if path.name != "init.py"] + [
        path for path in sorted((package / "functional").glob("*.py")) if path.name != "arrays.py"
    ] + list((package / "optim").glob("*.py"))
    offenders = {path.name: numpy_uses(path) for path in sources}
    assert {name: lines for name, lines in offenders.items() if lines} == {}


def test_the_scan_above_can_fail(tmp_path):
    bad = tmp_path / "bad_layer.py"
    bad.write_text("import numpy as np\n\ndef forward(x):\n    return np.exp(x)\n")
    assert numpy_uses(bad) == [4]


def test_the_allowlist_comes_from_real_cupy_14():
    allowlist = json.loads((REPO_ROOT / "tests" / "cupy_allowlist.json").read_text())
    assert int(allowlist["cupy_version"].split(".")[0]) >= 14
    used = {"asarray", "asnumpy", "matmul", "tensordot", "pad", "zeros", "empty", "where",
            "take_along_axis", "broadcast_to", "stack", "get_default_memory_pool"}
    assert used <= set(allowlist["cupy"])
    assert {"Generator", "Philox4x3210"} <= set(allowlist["cupy.random"])
