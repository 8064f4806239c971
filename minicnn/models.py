"""Sequential: a stack of layers, with train/eval modes and atomic checkpoints.

    rng = np.random.default_rng(0)           # one seeded generator: a reproducible model
    model = Sequential([Conv2D(3, 8, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),
                        Flatten(), Dense(8 * 16 * 16, 10, rng=rng)], backend="numba")
    logits = model.forward(x)
    dx = model.backward(dlogits)

Wrapping layers in a Sequential keeps their weights: it moves them onto the
model's backend and into its dtype, nothing else. To draw all weights afresh
from one seed, ask for it: ``model.reset_parameters(seed)``.

A checkpoint is one ``.npz`` file: the architecture (JSON), the weights and
buffers, the optimizer state and any metadata. It is written to a temporary
file and renamed over the target, so a crash never leaves a half-written file.
"""
import json
import os

import numpy as np

from . import layers as layer_module
from .atomic import atomic_savez
from .backend import get_backend
from .checkpoint_checks import (CheckpointError, check_architecture, check_array, check_buildable,
                                check_optimizer_state, json_entry)
from .init import generator
from .layers.base import Layer

CHECKPOINT_FORMAT = 1


class Sequential:
    """Layers applied in order, on one backend (a Backend or a name; None reads $MINICNN_BACKEND).

    The layers keep the weights they have; Dropout's masks come from the
    backend's random stream (``get_backend(name, seed=...)`` seeds it).
    """

    def __init__(self, layers, backend=None):
        self.layers = list(layers)
        for index, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential layer {index} must be a minicnn Layer, "
                                f"got {type(layer).__name__}")
        for index, layer in enumerate(self.layers[:-1]):
            if isinstance(layer, layer_module.SoftmaxCrossEntropy):
                raise ValueError(f"SoftmaxCrossEntropy may only be the last layer, found it at {index}")
        self.backend = get_backend(backend)
        for layer in self.layers:
            layer.to_backend(self.backend)
            layer.astype(self.backend.dtype)
        self.training = True

    def reset_parameters(self, seed=None):
        """Draw every layer's weights afresh, in layer order, from one generator: ``seed`` (an
        int, a numpy Generator, or None for fresh entropy). The same seed gives the same model
        on every backend."""
        rng = generator(seed)
        for _, layer in self.named_layers():
            if hasattr(layer, "reset_parameters"):
                layer.reset_parameters(rng)
        return self

    # --- running it -------------------------------------------------------
    @property
    def loss_layer(self):
        """The final SoftmaxCrossEntropy, if the model ends with one."""
        last = self.layers[-1] if self.layers else None
        return last if isinstance(last, layer_module.SoftmaxCrossEntropy) else None

    def forward(self, x, labels=None):
        """x -> logits; if the model ends with its loss and labels are given, -> loss."""
        body = self.layers[:-1] if self.loss_layer is not None else self.layers
        for layer in body:
            x = layer.forward(x)
        if self.loss_layer is not None and labels is not None:
            return self.loss_layer.forward(x, labels)
        return x

    def backward(self, dout=None, input_gradient=True):
        """dout (dlogits, or None to start from the model's own loss) -> dx; fills every layer's grads.

        Each layer's backward, from the top: its parameter gradients, then its
        input gradient, the dout of the layer below. ``input_gradient=False`` is for
        training steps, which need the parameters' gradients but not dx, the
        gradient with respect to the input images: the walk then starts no
        lower than the first layer with parameters, skips that layer's input
        gradient, and returns None. For the reference network that saves
        conv1's transposed convolution, 2 to 3% of a step. The default keeps
        dx: saliency maps and class visualizations (minicnn/visualize) are
        gradients with respect to the input.
        """
        layers = self.layers
        if self.loss_layer is not None:
            layers = layers[:-1]
            if dout is None:
                dout = self.loss_layer.backward()
        elif dout is None:
            raise ValueError("Sequential.backward needs dout unless the model ends with its loss")
        lowest = 0
        if not input_gradient:
            lowest = next((index for index, layer in enumerate(layers)
                           if any(inner.params for _, inner in layer.walk())), len(layers))
        for index in range(len(layers) - 1, lowest - 1, -1):
            if input_gradient or index > lowest:
                dout = layers[index].backward(dout)
            else:
                layers[index].parameter_gradients(dout)
        return dout if input_gradient else None

    __call__ = forward

    def train(self):
        self.training = True
        for layer in self.layers:
            layer.train()
        return self

    def eval(self):
        self.training = False
        for layer in self.layers:
            layer.eval()
        return self

    # --- parameters ---------------------------------------------------------
    def named_layers(self):
        """(path, layer) for every layer, those inside containers too: "3", "5.body.0", ..."""
        for index, layer in enumerate(self.layers):
            yield from layer.walk(str(index))

    @property
    def params(self):
        """All parameters, keyed "<layer path>.<name>" ("0.W", "5.body.0.W"): live arrays, not copies."""
        return {f"{path}.{name}": value for path, layer in self.named_layers()
                for name, value in layer.params.items()}

    @property
    def grads(self):
        """All gradients of the last backward, keyed like ``params``."""
        return {f"{path}.{name}": layer.grads.get(name) for path, layer in self.named_layers()
                for name in layer.params}

    @property
    def buffers(self):
        return {f"{path}.{name}": value for path, layer in self.named_layers()
                for name, value in layer.buffers.items()}

    def parameters(self):
        return list(self.params.values())

    def gradients(self):
        return list(self.grads.values())

    def params_and_grads(self):
        """[(key, param, grad)] in layer order; what an optimizer walks."""
        grads = self.grads
        return [(key, param, grads[key]) for key, param in self.params.items()]

    def num_parameters(self):
        return int(sum(int(np.prod(p.shape)) for p in self.params.values()))

    def astype(self, dtype):
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def to(self, backend, optimizer=None):
        """Move the model onto another backend: weights, gradients, BatchNorm's running
        statistics and, given its ``optimizer``, the optimizer's moments too."""
        backend = get_backend(backend)
        if optimizer is not None:
            old = self.backend
            optimizer.map_state(lambda array: backend.to_device(old.to_host(array)))
        for layer in self.layers:
            layer.to_backend(backend)
        self.backend = backend
        return self

    # --- description ----------------------------------------------------------
    def architecture(self):
        """The architecture description: [{"type": "Conv2D", "config": {...}}, ...]; a
        container's config holds the descriptions of the layers inside it."""
        return [layer.describe() for layer in self.layers]

    @classmethod
    def from_architecture(cls, architecture, backend=None):
        """Build the layers an architecture description names (with fresh weights)."""
        return cls([build_layer(spec, f"layer {index}") for index, spec in enumerate(architecture)],
                   backend=backend)

    def summary(self, input_shape):
        """A table of layers, output shapes and parameter counts for one input shape."""
        backend = self.backend
        x = backend.xp.zeros(input_shape, dtype=backend.dtype)
        was_training = self.training
        self.eval()
        rows = []
        body = self.layers[:-1] if self.loss_layer is not None else self.layers
        for index, layer in enumerate(body):
            x = layer.forward(x)
            count = sum(int(np.prod(p.shape)) for p in layer.named("params").values())
            rows.append((f"{index:>2} {layer!r}", str(tuple(x.shape)), f"{count:,}"))
        width = max(len(row[0]) for row in rows) + 2
        lines = [f"{'layer':<{width}}{'output shape':<20}{'params':>10}"]
        lines += [f"{name:<{width}}{shape:<20}{count:>10}" for name, shape, count in rows]
        lines.append(f"{'total':<{width + 20}}{self.num_parameters():>10,}")
        if was_training:
            self.train()
        return "\n".join(lines)

    def __repr__(self):
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential([\n  {inner}\n], backend={self.backend.name!r})"

    def __iter__(self):
        return iter(self.layers)

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, index):
        return self.layers[index]

    # --- checkpoints ------------------------------------------------------------
    def save(self, path, optimizer=None, meta=None):
        """Write architecture, weights, buffers, RNG state, optimizer state and ``meta`` (JSON-able) atomically."""
        to_host = self.backend.to_host
        arrays = {"format": np.array(CHECKPOINT_FORMAT),
                  "architecture": np.array(json.dumps(self.architecture())),
                  "meta": np.array(json.dumps(meta or {})),
                  # dropout masks come from this stream: saving it makes resume exact
                  "rng_state": np.array(json.dumps(self.backend.get_rng_state()))}
        for key, value in self.params.items():
            arrays[f"param.{key}"] = to_host(value)
        for key, value in self.buffers.items():
            arrays[f"buffer.{key}"] = to_host(value)
        if optimizer is not None:
            config, slots = optimizer.state_dict()
            arrays["optimizer"] = np.array(json.dumps(config))
            for slot_key, value in slots.items():
                arrays[f"optimizer.{slot_key}"] = to_host(value)
        atomic_savez(path, arrays)

    def load(self, path, optimizer=None):
        """Load a checkpoint written by ``save`` into this model (and optimizer); returns its meta.

        Also restores the backend's RNG stream, so training resumes exactly.
        Everything is checked first (minicnn/checkpoint_checks.py): a bad
        file raises CheckpointError and leaves the model as it was.
        """
        arrays = read_checkpoint(path)
        saved = json_entry(arrays, "architecture", path, list)
        check_architecture(saved, path)
        mismatch = _first_difference(saved, self.architecture())
        if mismatch:
            raise CheckpointError(f"checkpoint {path} was saved from a different architecture: "
                                  f"{mismatch}")
        meta = json_entry(arrays, "meta", path, dict)
        loaded = {f"{prefix}.{key}": check_array(arrays, f"{prefix}.{key}", current.shape, path)
                  for prefix, store in (("param", self.params), ("buffer", self.buffers))
                  for key, current in store.items()}
        if optimizer is not None:
            if "optimizer" not in arrays:
                raise CheckpointError(f"checkpoint {path} holds no optimizer state")
            optimizer_config = json_entry(arrays, "optimizer", path, dict)
            check_optimizer_state(optimizer_config, arrays, optimizer, self.params, path)
        if "rng_state" in arrays:
            self._restore_rng_state(json_entry(arrays, "rng_state", path, dict), path)
        device = self.backend.to_device
        for prefix, store_name in (("param", "params"), ("buffer", "buffers")):
            for layer_path, layer in self.named_layers():
                store = getattr(layer, store_name)
                for name, current in store.items():
                    key = f"{prefix}.{layer_path}.{name}"
                    store[name] = device(loaded[key].astype(current.dtype))
        if optimizer is not None:
            slots = {key[len("optimizer."):]: device(arrays[key])
                     for key in arrays if key.startswith("optimizer.")}
            optimizer.load_state_dict(optimizer_config, slots)
        return meta

    def _restore_rng_state(self, state, path):
        """Set the backend's RNG stream from a checkpoint, or raise with the stream unchanged."""
        previous = self.backend.get_rng_state()
        try:
            self.backend.set_rng_state(state)
        except (TypeError, ValueError, KeyError, OverflowError, AttributeError) as error:
            self.backend.set_rng_state(previous)
            raise CheckpointError(f"checkpoint {path}: its rng_state is not a state of this "
                                  f"backend's random generator ({type(error).__name__}: "
                                  f"{error})") from None

    @classmethod
    def from_checkpoint(cls, path, backend=None):
        """Build the model a checkpoint describes and load its weights.

        The architecture is checked against the stored arrays before any
        layer is built, so nothing is allocated that the file does not hold.
        """
        arrays = read_checkpoint(path)
        architecture = json_entry(arrays, "architecture", path, list)
        check_buildable(architecture, arrays, path)
        try:
            model = cls.from_architecture(architecture, backend=backend)
        except (TypeError, ValueError) as error:   # a layer's constructor refused its config
            raise CheckpointError(f"checkpoint {path}: its architecture cannot be built: "
                                  f"{error}") from None
        model.load(path)
        return model


def build_layer(spec, where="layer"):
    """One layer from its architecture description {"type": ..., "config": {...}} (recursively)."""
    layer_class = getattr(layer_module, spec["type"], None)
    if not (isinstance(layer_class, type) and issubclass(layer_class, Layer)):
        raise CheckpointError(f"{where}: unknown layer type {spec['type']!r}")
    return layer_class.from_config(
        spec["config"], lambda inner: build_layer(inner, f"{where} ({spec['type']})"))


def read_checkpoint(path):
    """All arrays of a checkpoint, with clear errors for a missing or corrupt file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint not found: {path}")
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


def _first_difference(saved, current):
    if len(saved) != len(current):
        return f"it has {len(saved)} layers, this model has {len(current)}"
    for index, (a, b) in enumerate(zip(saved, current)):
        if a != b:
            return (f"layer {index} is {a['type']}({a['config']}) in the checkpoint "
                    f"but {b['type']}({b['config']}) in this model")
    return None
