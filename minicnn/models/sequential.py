"""Sequential: layers applied one after the other, a model and itself a layer.

    rng = np.random.default_rng(0)           # one seeded generator: a reproducible model
    model = Sequential([Conv2D(3, 8, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2),
                        Flatten(), Dense(8 * 16 * 16, 10, rng=rng)], backend="numba")
    logits = model.forward(x)
    dx = model.backward(dlogits)

A Sequential is a container (minicnn/layers/container.py): its ``params``,
``grads`` and ``buffers`` are the arrays of its layers, keyed by path ("0.W",
"5.body.0.W"), and it can sit inside another container like any layer. As a
model it also owns the backend its layers compute on, and it reads and writes
checkpoints (the file format: minicnn/io/checkpoint.py).

Wrapping layers in a Sequential keeps their weights: it moves them onto the
model's backend and into its dtype, nothing else. To draw all weights afresh
from one seed, ask for it: ``model.reset_parameters(seed)``.
"""
import numpy as np

from .. import layers as layer_module
from ..backend import get_backend
from ..io.checkpoint import build_layer, checked_architecture, load_checkpoint, save_checkpoint
from ..io.checkpoint_checks import CheckpointError
from ..layers.base import Layer
from ..layers.container import Container, backward_step, pass_down
from ..layers.init import generator


class Sequential(Container):
    """Layers applied in order, on one backend (a Backend or a name; None reads $MINICNN_BACKEND).

    The layers keep the weights they have; Dropout's masks come from the
    backend's random stream (``get_backend(name, seed=...)`` seeds it). A
    SoftmaxCrossEntropy may end it: then ``forward(x, labels)`` is the loss and
    ``backward()`` starts from it.
    """

    def __init__(self, layers, backend=None):
        super().__init__()
        self.layers = list(layers)
        for index, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential layer {index} must be a minicnn Layer, "
                                f"got {type(layer).__name__}")
        for index, layer in enumerate(self.layers[:-1]):
            if isinstance(layer, layer_module.SoftmaxCrossEntropy):
                raise ValueError(f"SoftmaxCrossEntropy may only be the last layer, found it at {index}")
        backend = get_backend(backend)
        self.to_backend(backend)
        self.astype(backend.dtype)

    def sublayers(self):
        return {str(index): layer for index, layer in enumerate(self.layers)}

    def reset_parameters(self, seed=None):
        """Draw every layer's weights afresh, in layer order, from one generator: ``seed`` (an
        int, a numpy Generator, or None for fresh entropy). The same seed gives the same model
        on every backend."""
        rng = generator(seed)
        for _, layer in self.walk():
            if layer.holds_arrays and hasattr(layer, "reset_parameters"):
                layer.reset_parameters(rng)
        return self

    # --- running it -------------------------------------------------------
    @property
    def loss_layer(self):
        """The final SoftmaxCrossEntropy, if the model ends with one."""
        last = self.layers[-1] if self.layers else None
        return last if isinstance(last, layer_module.SoftmaxCrossEntropy) else None

    @property
    def body(self):
        """The layers from the input to the logits: all of them but the loss."""
        return self.layers[:-1] if self.loss_layer is not None else self.layers

    def forward(self, x, labels=None):
        """x -> logits; if the model ends with its loss and labels are given, -> loss."""
        for layer in self.body:
            x = layer.forward(x)
        if self.loss_layer is not None and labels is not None:
            return self.loss_layer.forward(x, labels)
        return x

    def pass_down(self, signal, step):
        """A signal at the logits -> the signal at the input, through every layer of the body."""
        return pass_down(self.body, signal, step)

    def backward(self, dout=None, input_gradient=True):
        """dout (dlogits, or None to start from the model's own loss) -> dx; fills every layer's grads.

        Each layer's backward, from the top: its parameter gradients, then its
        input gradient, the dout of the layer below. ``input_gradient=False`` is for
        training steps, which need the parameters' gradients but not dx, the
        gradient with respect to the input images: the walk then stops at the
        first layer with parameters, takes only its parameter gradients, and
        returns None. For the reference network that saves conv1's transposed
        convolution, 2 to 3% of a step. The default keeps dx: saliency maps and
        class visualizations (minicnn/visualize) are gradients with respect to
        the input.
        """
        if dout is None:
            if self.loss_layer is None:
                raise ValueError("Sequential.backward needs dout unless the model ends with its loss")
            dout = self.loss_layer.backward()
        if input_gradient:
            return self.pass_down(dout, backward_step)
        body = self.body
        lowest = next((index for index, layer in enumerate(body) if layer.params), len(body))
        dout = pass_down(body[lowest + 1:], dout, backward_step)
        if lowest < len(body):
            body[lowest].parameter_gradients(dout)
        return None

    # --- what an optimizer walks ----------------------------------------------
    def params_and_grads(self):
        """[(key, param, grad)] in layer order; what an optimizer walks."""
        grads = self.grads
        return [(key, param, grads[key]) for key, param in self.params.items()]

    def num_parameters(self):
        return int(sum(int(np.prod(p.shape)) for p in self.params.values()))

    def to(self, backend, optimizer=None):
        """Move the model onto another backend: weights, gradients, BatchNorm's running
        statistics and, given its ``optimizer``, the optimizer's moments too."""
        backend = get_backend(backend)
        if optimizer is not None:
            old = self.backend
            optimizer.map_state(lambda array: backend.to_device(old.to_host(array)))
        return self.to_backend(backend)

    # --- description ----------------------------------------------------------
    def config(self):
        return {"layers": [layer.describe() for layer in self.layers]}

    @classmethod
    def from_config(cls, config, build):
        return cls([build(spec) for spec in config["layers"]])

    def architecture(self):
        """The architecture description: [{"type": "Conv2D", "config": {...}}, ...]; a
        container's config holds the descriptions of the layers inside it."""
        return self.config()["layers"]

    @classmethod
    def from_architecture(cls, architecture, backend=None):
        """Build the layers an architecture description names (with fresh weights)."""
        types = layer_types()
        return cls([build_layer(spec, types, f"layer {index}")
                    for index, spec in enumerate(architecture)], backend=backend)

    def summary(self, input_shape):
        """A table of layers, output shapes and parameter counts for one input shape."""
        backend = self.backend
        x = backend.xp.zeros(input_shape, dtype=backend.dtype)
        rows = []
        with self.evaluating():    # running statistics untouched, dropout off
            for index, layer in enumerate(self.body):
                x = layer.forward(x)
                count = sum(int(np.prod(p.shape)) for p in layer.params.values())
                rows.append((f"{index:>2} {layer!r}", str(tuple(x.shape)), f"{count:,}"))
        width = max(len(row[0]) for row in rows) + 2
        lines = [f"{'layer':<{width}}{'output shape':<20}{'params':>10}"]
        lines += [f"{name:<{width}}{shape:<20}{count:>10}" for name, shape, count in rows]
        lines.append(f"{'total':<{width + 20}}{self.num_parameters():>10,}")
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

    # --- checkpoints (the file format: minicnn/io/checkpoint.py) -----------------
    def save(self, path, optimizer=None, meta=None):
        """Write architecture, weights, buffers, RNG state, optimizer state and ``meta``
        (JSON-able) atomically."""
        save_checkpoint(self, path, optimizer, meta)

    def load(self, path, optimizer=None):
        """Load a checkpoint written by ``save`` into this model (and optimizer); returns its meta.

        Also restores the backend's RNG stream, so training resumes exactly.
        Everything is checked first: a bad file raises CheckpointError and
        leaves the model as it was.
        """
        return load_checkpoint(self, path, optimizer)

    @classmethod
    def from_checkpoint(cls, path, backend=None):
        """Build the model a checkpoint describes and load its weights.

        The architecture is checked against the stored arrays before any
        layer is built, so nothing is allocated that the file does not hold.
        """
        architecture = checked_architecture(path, layer_types())
        try:
            model = cls.from_architecture(architecture, backend=backend)
        except (TypeError, ValueError) as error:   # a layer's constructor refused its config
            raise CheckpointError(f"checkpoint {path}: its architecture cannot be built: "
                                  f"{error}") from None
        model.load(path)
        return model


def layer_types():
    """{type name: class} of every layer an architecture description may name: the layers of
    minicnn.layers, and Sequential."""
    return {layer_class.__name__: layer_class
            for layer_class in (*layer_module.LAYER_TYPES, Sequential)}
