"""The checkpoint file: one ``.npz`` holding a model, its optimizer's state and any metadata.

    format          the format version (1)
    architecture    JSON: [{"type": "Conv2D", "config": {...}}, ...]; a container's config
                    holds the descriptions of the layers inside it
    param.<key>     every parameter, keyed by its path in the model ("0.W", "5.body.0.W")
    buffer.<key>    every buffer (BatchNorm's running statistics)
    rng_state       JSON: the backend's random stream (Dropout's masks), for an exact resume
    optimizer       JSON: the optimizer's type, step count and hyperparameters
    optimizer.<slot>.<key>   its state arrays (momentum, Adam's moments), shaped like the parameter
    meta            JSON: whatever the caller adds (the Trainer: classes, normalization, config, ...)

Only plain arrays and JSON strings: a checkpoint is read with ``allow_pickle=False``
and never executes code. It is written atomically (minicnn/io/atomic.py), and
everything in it is checked (checkpoint_checks.py) before a model is built or
changed from it.

The model is any object with ``architecture()``, ``params``, ``buffers``,
``walk()`` and a ``backend`` (minicnn.models.Sequential); the optimizer any with
``state_dict()`` / ``load_state_dict()`` (minicnn.optim).
"""
import json
import os

import numpy as np

from .atomic import atomic_savez
from .paths import describe_unopenable
from .checkpoint_checks import (CheckpointError, check_architecture, check_array,
                                check_buildable, check_optimizer_state, json_entry)

CHECKPOINT_FORMAT = 1
NPZ_MAGIC = b"PK\x03\x04"   # every .npz is a zip archive, and every zip starts so


def save_checkpoint(model, path, optimizer=None, meta=None):
    """Write ``model``'s architecture, weights, buffers and RNG state, ``optimizer``'s state and
    ``meta`` (JSON-able) to ``path``, atomically."""
    to_host = model.backend.to_host
    arrays = {"format": np.array(CHECKPOINT_FORMAT),
              "architecture": np.array(json.dumps(model.architecture())),
              "meta": np.array(json.dumps(meta or {})),
              # dropout masks come from this stream: saving it makes resume exact
              "rng_state": np.array(json.dumps(model.backend.get_rng_state()))}
    for key, value in model.params.items():
        arrays[f"param.{key}"] = to_host(value)
    for key, value in model.buffers.items():
        arrays[f"buffer.{key}"] = to_host(value)
    if optimizer is not None:
        config, slots = optimizer.state_dict()
        arrays["optimizer"] = np.array(json.dumps(config))
        for slot_key, value in slots.items():
            arrays[f"optimizer.{slot_key}"] = to_host(value)
    atomic_savez(path, arrays)


def load_checkpoint(model, path, optimizer=None):
    """Load a checkpoint into ``model`` (and ``optimizer``), which must have its architecture;
    -> the checkpoint's meta. Everything is checked first: a bad file raises CheckpointError
    and leaves the model, the optimizer and the backend's RNG stream as they were."""
    arrays = read_checkpoint(path)
    saved = json_entry(arrays, "architecture", path, list)
    check_architecture(saved, path)
    mismatch = first_difference(saved, model.architecture())
    if mismatch:
        raise CheckpointError(f"checkpoint {path} was saved from a different architecture: "
                              f"{mismatch}")
    meta = json_entry(arrays, "meta", path, dict)
    loaded = {f"{prefix}.{key}": check_array(arrays, f"{prefix}.{key}", current.shape, path)
              for prefix, store in (("param", model.params), ("buffer", model.buffers))
              for key, current in store.items()}
    if optimizer is not None:
        if "optimizer" not in arrays:
            raise CheckpointError(f"checkpoint {path} holds no optimizer state")
        optimizer_config = json_entry(arrays, "optimizer", path, dict)
        check_optimizer_state(optimizer_config, arrays, optimizer, model.params, path)
    if "rng_state" in arrays:
        restore_rng_state(model.backend, json_entry(arrays, "rng_state", path, dict), path)
    device = model.backend.to_device
    for layer_path, layer in model.walk():
        if not layer.holds_arrays:
            continue
        for prefix, store in (("param", layer.params), ("buffer", layer.buffers)):
            for name, current in store.items():
                key = f"{prefix}.{layer_path}.{name}" if layer_path else f"{prefix}.{name}"
                store[name] = device(loaded[key].astype(current.dtype))
    if optimizer is not None:
        slots = {key[len("optimizer."):]: device(arrays[key])
                 for key in arrays if key.startswith("optimizer.")}
        optimizer.load_state_dict(optimizer_config, slots)
    return meta


def restore_rng_state(backend, state, path):
    """Set the backend's RNG stream from a checkpoint, or raise with the stream unchanged."""
    previous = backend.get_rng_state()
    try:
        backend.set_rng_state(state)
    except (TypeError, ValueError, KeyError, OverflowError, AttributeError) as error:
        backend.set_rng_state(previous)
        raise CheckpointError(f"checkpoint {path}: its rng_state is not a state of this "
                              f"backend's random generator ({type(error).__name__}: "
                              f"{error})") from None


def checked_architecture(path, layer_types):
    """The architecture of a checkpoint, checked against its stored arrays before anything is
    built: only layer types of ``layer_types`` ({name: class}), each constructor taking its
    config, each declared shape the stored one. Raises CheckpointError."""
    arrays = read_checkpoint(path)
    architecture = json_entry(arrays, "architecture", path, list)
    check_buildable(architecture, arrays, path, layer_types)
    return architecture


def build_layer(spec, layer_types, where="layer"):
    """One layer from its description {"type": ..., "config": {...}}, containers recursively;
    ``layer_types`` ({name: class}) says which types exist."""
    layer_class = layer_types.get(spec["type"])
    if layer_class is None:
        raise CheckpointError(f"{where}: unknown layer type {spec['type']!r}")
    return layer_class.from_config(
        spec["config"], lambda inner: build_layer(inner, layer_types, f"{where} ({spec['type']})"))


def read_checkpoint(path):
    """All arrays of a checkpoint, with clear errors for a missing or corrupt file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        why = describe_unopenable(path) or "does not exist"
        raise CheckpointError(f"checkpoint not found: {path} {why}")
    if os.path.isdir(path):
        raise CheckpointError(f"{path} is a folder, not a checkpoint file (a .npz)")
    with open(path, "rb") as file:
        start = file.read(len(NPZ_MAGIC))
    if not start:
        raise CheckpointError(f"{path} is not a minicnn checkpoint: the file is empty")
    if start != NPZ_MAGIC:
        # np.load would read anything else as a pickle, and advise allow_pickle=True: never
        raise CheckpointError(f"{path} is not a minicnn checkpoint: a checkpoint is a .npz "
                              f"(zip) archive, this file starts with {start!r}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except Exception as error:  # zipfile, OSError, ValueError: all mean "not readable"
        raise CheckpointError(f"{path} is not a readable minicnn checkpoint "
                              f"({type(error).__name__}: {error})") from None
    if "architecture" not in arrays:
        raise CheckpointError(f"{path} is not a minicnn checkpoint (no architecture inside)")
    return arrays


def read_checkpoint_meta(path):
    """The metadata dict of a checkpoint, without building its model."""
    return json_entry(read_checkpoint(path), "meta", path, dict)


def first_difference(saved, current):
    """Where two architecture descriptions differ, in words; None when they are equal."""
    if len(saved) != len(current):
        return f"it has {len(saved)} layers, this model has {len(current)}"
    for index, (a, b) in enumerate(zip(saved, current)):
        if a != b:
            return (f"layer {index} is {a['type']}({a['config']}) in the checkpoint "
                    f"but {b['type']}({b['config']}) in this model")
    return None
