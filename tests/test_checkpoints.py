"""Checkpoints as files on disk: their mode, and what a hand-edited or hostile one gets.

Every bad file must raise one CheckpointError naming the file and what is wrong,
before any layer is built or any weight replaced (minicnn/io/checkpoint_checks.py).
"""
import json
import os
import stat

import numpy as np
import pytest

from minicnn import layers
from minicnn.io.atomic import atomic_write_text
from minicnn.models import CheckpointError, Sequential
from minicnn.optim import SGD

from .test_models import small_model


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_checkpoints_and_text_files_get_the_umask_mode_not_0600(tmp_path, umask_022):
    """A TA's account must be able to read a student's run, as it can any file they write."""
    small_model().save(tmp_path / "best.npz")
    atomic_write_text(tmp_path / "history.json", "[]")
    for name in ("best.npz", "history.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name


# --- hand-edited and hostile checkpoints ----------------------------------------------------

def saved_arrays(tmp_path, optimizer=False):
    """The arrays of a good checkpoint of small_model (after one SGD step, with optimizer)."""
    model, sgd = small_model(), SGD(0.1, momentum=0.9)
    if optimizer:
        images = np.random.default_rng(0).standard_normal((4, 1, 8, 8)).astype(np.float32)
        model.forward(images, np.array([0, 1, 0, 1]))
        model.backward()
        sgd.step(model)
    model.save(tmp_path / "good.npz", optimizer=sgd if optimizer else None)
    with np.load(tmp_path / "good.npz") as data:
        return {key: data[key] for key in data.files}


def edited(tmp_path, arrays, **changes):
    """A copy of ``arrays`` with ``changes`` (None deletes an entry), saved as edited.npz."""
    arrays = dict(arrays)
    for key, value in changes.items():
        key = key.replace("__", ".")
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    np.savez(tmp_path / "edited.npz", **arrays)
    return tmp_path / "edited.npz"


def architecture_with(arrays, index, **config):
    architecture = json.loads(str(arrays["architecture"]))
    architecture[index]["config"].update(config)
    return np.array(json.dumps(architecture))


HOSTILE = {
    "bad JSON": (lambda a: {"architecture": np.array("[{not json")},
                 r"architecture entry is not valid JSON"),
    "architecture not a list": (lambda a: {"architecture": np.array('{"type": "Dense"}')},
                                r"architecture entry must be a JSON list, got dict"),
    "layer not a dict": (lambda a: {"architecture": np.array('["Dense"]')},
                         r"layer 0 must be .*got 'Dense'"),
    "architecture as an array": (lambda a: {"architecture": np.zeros(3)},
                                 r"must be one JSON string, got a float64 array"),
    "unknown argument": (lambda a: {"architecture": architecture_with(a, 0, dilation=2)},
                         r"layer 0: Conv2D cannot take the arguments .*dilation"),
    "string size": (lambda a: {"architecture": architecture_with(a, 0, kernel_size="3")},
                    r"layer 0: kernel_size must be an integer, got '3'"),
    "bad value": (lambda a: {"architecture": architecture_with(a, 7, p=5)},
                  r"layer 7: Dropout p must be a probability in \[0, 1\), got 5"),
    "unknown layer": (lambda a: {"architecture": np.array(json.dumps(
        [{"type": "Layer", "config": {}}]))}, r"unknown layer type 'Layer'"),
    "string weights": (lambda a: {"param__0__W": np.full(a["param.0.W"].shape, "x")},
                       r"param.0.W holds <U1 values, not floating-point numbers"),
    "wrong shape": (lambda a: {"param__8__b": np.zeros(3, np.float32)},
                    r"declares param.8.b of shape \(2,\), the file holds shape \(3,\)"),
    "missing weights": (lambda a: {"param__8__W": None}, r"has no param.8.W"),
    "undeclared array": (lambda a: {"param__5__W": np.zeros(2, np.float32)},
                         r"holds param.5.W, which its architecture does not declare"),
    "NaN weights": (lambda a: {"param__8__W": np.full((8, 2), np.nan, np.float32)},
                    r"param.8.W holds 16 non-finite values .*diverged"),
    "infinite BatchNorm statistic": (
        lambda a: {"buffer__1__running_var": np.array([1, np.inf, 1, 1], np.float32)},
        r"buffer.1.running_var holds 1 non-finite values"),
    "meta not an object": (lambda a: {"meta": np.array("[1, 2]")},
                           r"meta entry must be a JSON object, got list"),
    "rng_state of another generator": (
        lambda a: {"rng_state": np.array('{"bit_generator": "MT19937"}')},
        r"rng_state is not a state of this backend's random generator"),
    "rng_state garbage": (lambda a: {"rng_state": np.array('"seed me"')},
                          r"rng_state entry must be a JSON object, got str"),
    "rng_state out of range": (lambda a: {"rng_state": np.array(json.dumps(
        {"bit_generator": "PCG64", "state": {"state": -1, "inc": 1}, "has_uint32": 0,
         "uinteger": 0}))}, r"rng_state is not a state of this backend's random generator"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hand_edited_checkpoint_is_a_clear_error(case, tmp_path):
    change, message = HOSTILE[case]
    arrays = saved_arrays(tmp_path)
    path = edited(tmp_path, arrays, **change(arrays))
    with pytest.raises(CheckpointError, match=message) as caught:
        Sequential.from_checkpoint(path, backend="numpy")
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("case", ["string weights", "NaN weights", "infinite BatchNorm statistic",
                                  "bad JSON", "rng_state of another generator", "meta not an object"])
def test_loading_a_bad_checkpoint_leaves_the_model_as_it_was(case, tmp_path):
    change, message = HOSTILE[case]
    arrays = saved_arrays(tmp_path)
    path = edited(tmp_path, arrays, **change(arrays))
    model = small_model(seed=3)
    before = {key: value.copy() for key, value in {**model.params, **model.buffers}.items()}
    rng_before = json.dumps(model.backend.get_rng_state())
    with pytest.raises(CheckpointError, match=message):
        model.load(path)
    for key, value in {**model.params, **model.buffers}.items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)
    assert json.dumps(model.backend.get_rng_state()) == rng_before


def test_a_huge_declared_layer_is_refused_before_anything_is_allocated(tmp_path):
    """Issue 15: a 2 MB file naming Dense(10**6, 10**6) made the loader allocate 3.6 TiB."""
    import tracemalloc

    arrays = saved_arrays(tmp_path)
    path = edited(tmp_path, arrays,
                  architecture=architecture_with(arrays, 8, in_features=10**6, out_features=10**6))
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=r"declares param.8.W of shape "
                                                  r"\(1000000, 1000000\), the file holds shape \(8, 2\)"):
            Sequential.from_checkpoint(path, backend="numpy")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20


OPTIMIZER_CASES = {
    "another optimizer": ({"type": "Adam", "steps": 1, "lr": 0.1, "weight_decay": 0.0},
                          None, r"state of a 'Adam' optimizer, not of SGD"),
    "steps not a count": ({"type": "SGD", "steps": "1"}, None,
                          r"optimizer steps must be an integer >= 0, got '1'"),
    "foreign attribute": ({"type": "SGD", "steps": 1, "lr": 0.1, "weight_decay": 0.0,
                           "momentum": 0.9, "nesterov": False, "update": 3}, None,
                          r"SGD has the hyperparameters .* the file names .*'update'"),
    "NaN learning rate": ({"type": "SGD", "steps": 1, "lr": float("nan"), "weight_decay": 0.0,
                           "momentum": 0.9, "nesterov": False}, None, r"optimizer lr is nan"),
    "NaN momentum slot": (None, ("optimizer.velocity.8.W", np.full((8, 2), np.nan, np.float32)),
                          r"optimizer.velocity.8.W holds 16 non-finite values"),
    "slot of no parameter": (None, ("optimizer.velocity.99.W", np.zeros(2, np.float32)),
                             r"optimizer.velocity.99.W belongs to no parameter"),
}


@pytest.mark.parametrize("case", sorted(OPTIMIZER_CASES))
def test_a_hand_edited_optimizer_state_is_a_clear_error(case, tmp_path):
    config, slot, message = OPTIMIZER_CASES[case]
    arrays = saved_arrays(tmp_path, optimizer=True)
    changes = {}
    if config is not None:
        changes["optimizer"] = np.array(json.dumps(config))
    if slot is not None:
        changes[slot[0].replace(".", "__")] = slot[1]
    path = edited(tmp_path, arrays, **changes)
    optimizer = SGD(0.1, momentum=0.9)
    with pytest.raises(CheckpointError, match=message):
        small_model().load(path, optimizer=optimizer)
    assert optimizer.steps == 0 and optimizer.state == {}


def test_the_shape_table_matches_what_every_layer_builds():
    """The shape tables know every layer minicnn can build, and their arrays' shapes, containers
    (a Sequential inside a model too) by the paths of the layers inside them."""
    from minicnn.io.checkpoint_checks import CONTAINER_SHAPES, PARAMETER_SHAPES, declared_arrays
    from minicnn.models import layer_types

    examples = {"Conv2D": {"in_channels": 3, "out_channels": 5, "kernel_size": 3},
                "Dense": {"in_features": 7, "out_features": 4},
                "BatchNorm2D": {"num_features": 6},
                "Residual": {"body": [layers.Conv2D(3, 5, 3, padding=1), layers.BatchNorm2D(5)],
                             "shortcut": [layers.Conv2D(3, 5, 1, bias=False)]},
                "Sequential": {"layers": [layers.Conv2D(3, 5, 3), layers.ReLU(),
                                          layers.Residual([layers.BatchNorm2D(5)])]}}
    types = layer_types()
    assert set(types) == set(PARAMETER_SHAPES) | set(CONTAINER_SHAPES)
    for name, layer_class in types.items():
        config = examples.get(name, {})
        for variant in ([config, {**config, "bias": False}] if name == "Conv2D" else [config]):
            layer = layer_class(**variant)
            built = {**{f"param.{key}": value.shape for key, value in layer.params.items()},
                     **{f"buffer.{key}": value.shape for key, value in layer.buffers.items()}}
            assert declared_arrays(layer.describe(), "", types) == built, (name, variant)
