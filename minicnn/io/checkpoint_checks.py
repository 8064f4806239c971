"""Checks on what a checkpoint holds, made before anything is built or replaced from it.

A checkpoint is data from disk: maybe hand-edited, maybe from a run that
diverged, maybe hostile. minicnn/io/checkpoint.py runs these checks before it
builds or changes a model, so a bad file gets one CheckpointError naming the file
and the entry at fault, never a traceback from deep inside a layer, and the
model is left as it was.

    JSON entries   architecture, meta, rng_state, optimizer: valid JSON of the
                   right kind (a list of layers, dicts)
    architecture   each layer a {"type": <a minicnn layer>, "config": {...}}
                   whose config its constructor accepts
    shapes         each layer's parameter and buffer shapes, computed from its
                   config *without allocating anything* (``declared_shapes``),
                   equal the stored arrays' shapes. A 2 MB file whose
                   architecture names Dense(10**6, 10**6) is refused here,
                   before the 4 TB weight matrix is allocated.
    arrays         floating-point numbers (not strings), all finite: a diverged
                   run's NaN weights are refused, not silently scored
    domains        each value where its maths needs it (ARRAY_DOMAINS, CONFIG_DOMAINS):
                   BatchNorm's running_var >= 0 (a variance; one negative value
                   made every prediction NaN), its eps > 0 and momentum in
                   [0, 1], Dropout's p in [0, 1) (a probability). A running_var
                   of exactly 0 is legitimate (a channel that is always 0) and
                   kept: eps keeps sqrt(var + eps) positive.
    optimizer      its type, step count and hyperparameters, and one finite
                   slot per parameter, shaped like it
"""
import inspect
import json
import math

import numpy as np


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or made for another architecture."""


def json_entry(arrays, key, path, kind):
    """The JSON value stored under ``key``, which must be a ``kind`` (list or dict)."""
    if key not in arrays:
        raise CheckpointError(f"checkpoint {path} has no {key} entry")
    stored = arrays[key]
    if stored.shape != () or stored.dtype.kind != "U":
        raise CheckpointError(f"checkpoint {path}: its {key} entry must be one JSON string, "
                              f"got a {stored.dtype} array of shape {stored.shape}")
    try:
        value = json.loads(str(stored))
    except json.JSONDecodeError as error:
        raise CheckpointError(f"checkpoint {path}: its {key} entry is not valid JSON "
                              f"({error})") from None
    if not isinstance(value, kind):
        raise CheckpointError(f"checkpoint {path}: its {key} entry must be a JSON "
                              f"{'list' if kind is list else 'object'}, got {type(value).__name__}")
    return value


# --- the architecture --------------------------------------------------------------

def check_architecture(architecture, path):
    """Every layer a {"type": str, "config": dict}; raises CheckpointError."""
    if not architecture:
        raise CheckpointError(f"checkpoint {path}: its architecture lists no layers")
    for index, spec in enumerate(architecture):
        check_description(spec, f"checkpoint {path}: layer {index}")


def check_description(spec, where):
    """One layer's description must be {"type": str, "config": dict}; raises CheckpointError."""
    if not (isinstance(spec, dict) and isinstance(spec.get("type"), str)
            and isinstance(spec.get("config"), dict)):
        raise CheckpointError(f'{where} must be {{"type": <layer name>, "config": {{...}}}}, '
                              f"got {spec!r}")


def check_buildable(architecture, arrays, path, layer_types):
    """Before ``Sequential.from_architecture`` builds anything: each layer type is one of
    ``layer_types`` ({name: class}), its constructor accepts the config, and the shapes the
    configs declare are the shapes of the stored arrays. Raises CheckpointError."""
    check_architecture(architecture, path)
    expected = {}
    for index, spec in enumerate(architecture):
        for owned, shape in declared_arrays(spec, f"checkpoint {path}: layer {index}",
                                            layer_types).items():
            store, name = owned.split(".", 1)       # "param.W" -> the file's "param.<index>.W"
            expected[f"{store}.{index}.{name}"] = shape
    for key, shape in expected.items():
        if key not in arrays:
            raise CheckpointError(f"checkpoint {path} has no {key}, which its architecture declares")
        if tuple(arrays[key].shape) != shape:
            raise CheckpointError(f"checkpoint {path}: its architecture declares {key} of shape "
                                  f"{shape}, the file holds shape {tuple(arrays[key].shape)}")
    undeclared = sorted(key for key in arrays if key.split(".")[0] in ("param", "buffer")
                        and key not in expected)
    if undeclared:
        raise CheckpointError(f"checkpoint {path} holds {', '.join(undeclared)}, which its "
                              "architecture does not declare")


def declared_arrays(spec, where, layer_types):
    """{"param.W": shape, ...} of the layer one description names, checked as it goes: a
    layer type of ``layer_types`` whose constructor takes the config (a container's inner
    layers too)."""
    layer_type, config = spec["type"], spec["config"]
    known = (set(PARAMETER_SHAPES) | set(CONTAINER_SHAPES)) & set(layer_types)
    if layer_type not in known:
        raise CheckpointError(f"{where}: unknown layer type {layer_type!r} (known: "
                              f"{', '.join(sorted(known))})")
    try:
        inspect.signature(layer_types[layer_type]).bind(**config)
    except TypeError as error:
        raise CheckpointError(f"{where}: {layer_type} cannot take the arguments {config}: "
                              f"{error}") from None
    for name, (inside_domain, domain) in CONFIG_DOMAINS.get(layer_type, {}).items():
        value = config.get(name)
        if name in config and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                   and math.isfinite(value) and inside_domain(value)):
            raise CheckpointError(f"{where}: {layer_type} {name} must be {domain}, got {value!r}")
    if layer_type in CONTAINER_SHAPES:
        return CONTAINER_SHAPES[layer_type](config, where, layer_types)
    return PARAMETER_SHAPES[layer_type](config, where)


def size_field(config, name, where):
    """An integer field of a layer config, as used in a shape."""
    value = config.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise CheckpointError(f"{where}: {name} must be an integer, got {value!r}")
    return value


def conv2d_shapes(config, where):
    out_channels, in_channels, kernel_size = (size_field(config, name, where) for name in
                                              ("out_channels", "in_channels", "kernel_size"))
    shapes = {"param.W": (out_channels, in_channels, kernel_size, kernel_size)}
    if config.get("bias", True):
        shapes["param.b"] = (out_channels,)
    return shapes


def dense_shapes(config, where):
    in_features, out_features = (size_field(config, name, where)
                                 for name in ("in_features", "out_features"))
    return {"param.W": (in_features, out_features), "param.b": (out_features,)}


def batchnorm_shapes(config, where):
    channels = (size_field(config, "num_features", where),)
    return {"param.gamma": channels, "param.beta": channels,
            "buffer.running_mean": channels, "buffer.running_var": channels}


def no_arrays(config, where):
    return {}


def inner_shapes(specs, prefix, where, layer_types):
    """The arrays of a list of inner layer descriptions, by path: "<prefix><index>.<name>"."""
    shapes = {}
    for index, spec in enumerate(specs):
        inner = f"{where}, {prefix}layer {index}" if prefix else f"{where}, layer {index}"
        check_description(spec, inner)
        for owned, shape in declared_arrays(spec, inner, layer_types).items():
            store, name = owned.split(".", 1)
            shapes[f"{store}.{prefix}{index}.{name}"] = shape
    return shapes


def residual_shapes(config, where, layer_types):
    """The arrays of the layers inside, by path: "param.body.0.W", "buffer.shortcut.1.running_var"."""
    shapes = {}
    for branch in ("body", "shortcut"):
        specs = config.get(branch)
        if specs is None and branch == "shortcut":
            continue                                # the identity
        if not isinstance(specs, list) or not specs:
            raise CheckpointError(f"{where}: Residual {branch} must be a non-empty list of "
                                  f"layer descriptions, got {specs!r}")
        shapes.update(inner_shapes(specs, f"{branch}.", where, layer_types))
    return shapes


def sequential_shapes(config, where, layer_types):
    """A Sequential inside a model: its layers' arrays by path, "param.0.W", ..."""
    specs = config.get("layers")
    if not isinstance(specs, list):
        raise CheckpointError(f"{where}: Sequential layers must be a list of layer "
                              f"descriptions, got {specs!r}")
    return inner_shapes(specs, "", where, layer_types)


# The parameter and buffer shapes ("param.W", "buffer.running_var", ...) each minicnn layer
# type owns, from its config alone. A test holds this table equal to what the layers build.
PARAMETER_SHAPES = {
    "Conv2D": conv2d_shapes, "Dense": dense_shapes, "BatchNorm2D": batchnorm_shapes,
    "MaxPool2D": no_arrays, "GlobalAvgPool2D": no_arrays, "ReLU": no_arrays,
    "Flatten": no_arrays, "Dropout": no_arrays, "SoftmaxCrossEntropy": no_arrays,
}
# A container's: the arrays of the layers its config describes, by their paths inside it.
CONTAINER_SHAPES = {"Residual": residual_shapes, "Sequential": sequential_shapes}

# The numbers of a layer's config that its maths needs in a domain: {type: {name: (test, words)}}.
CONFIG_DOMAINS = {
    "BatchNorm2D": {"eps": (lambda value: value > 0, "a finite number > 0 (it keeps "
                                                     "sqrt(var + eps) away from 0)"),
                    "momentum": (lambda value: 0 <= value <= 1, "a finite number in [0, 1]")},
    "Dropout": {"p": (lambda value: 0 <= value < 1, "a probability in [0, 1)")},
}
# The arrays whose values have a domain, by their name in the layer: name -> (test, words).
ARRAY_DOMAINS = {"running_var": (lambda values: values >= 0,
                                 "negative values: a variance is never negative")}


# --- the arrays --------------------------------------------------------------------

def check_array(arrays, key, shape, path):
    """The stored array ``key``: present, of ``shape``, floating point and finite."""
    if key not in arrays:
        raise CheckpointError(f"checkpoint {path} has no {key}")
    value = arrays[key]
    if tuple(value.shape) != tuple(shape):
        raise CheckpointError(f"checkpoint {path}: {key} has shape {value.shape}, "
                              f"the model expects {tuple(shape)}")
    if value.dtype.kind != "f":
        raise CheckpointError(f"checkpoint {path}: {key} holds {value.dtype} values, "
                              "not floating-point numbers")
    bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
    if bad:
        raise CheckpointError(f"checkpoint {path}: {key} holds {bad} non-finite values "
                              "(NaN or infinity): the run that saved it diverged. Use a "
                              "checkpoint from before it did.")
    domain = ARRAY_DOMAINS.get(key.rsplit(".", 1)[-1]) if not key.startswith("optimizer.") else None
    if domain is not None:
        inside_domain, words = domain
        outside = np.flatnonzero(~inside_domain(value))
        if outside.size:
            raise CheckpointError(f"checkpoint {path}: {key} holds {outside.size} {words} "
                                  f"(first {value.flat[outside[0]]:g} at index {outside[0]}); "
                                  "the file was damaged or edited")
    return value


def check_optimizer_state(config, arrays, optimizer, params, path):
    """The optimizer entry ``config`` (type, steps, hyperparameters) and its slot arrays,
    stored as "optimizer.<slot>.<param key>" and shaped like the parameter."""
    name = type(optimizer).__name__
    if config.get("type") != name:
        raise CheckpointError(f"checkpoint {path} holds the state of a {config.get('type')!r} "
                              f"optimizer, not of {name}")
    steps = config.get("steps")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise CheckpointError(f"checkpoint {path}: optimizer steps must be an integer >= 0, "
                              f"got {steps!r}")
    hyperparameters = {key: value for key, value in config.items() if key not in ("type", "steps")}
    if set(hyperparameters) != set(optimizer.hyperparameters()):
        raise CheckpointError(f"checkpoint {path}: {name} has the hyperparameters "
                              f"{sorted(optimizer.hyperparameters())}, the file names "
                              f"{sorted(hyperparameters)}")
    for key, value in hyperparameters.items():
        expected_kind = type(optimizer.hyperparameters()[key])
        if expected_kind is bool:
            fine = isinstance(value, bool)
        else:
            fine = (isinstance(value, (int, float)) and not isinstance(value, bool)
                    and math.isfinite(value))
        if not fine:
            raise CheckpointError(f"checkpoint {path}: optimizer {key} is {value!r}")
    for key in arrays:
        if key.startswith("optimizer."):
            param_key = key.split(".", 2)[-1]
            if param_key not in params:
                raise CheckpointError(f"checkpoint {path}: {key} belongs to no parameter "
                                      "of the model")
            check_array(arrays, key, params[param_key].shape, path)
