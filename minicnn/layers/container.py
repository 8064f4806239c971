"""Containers: layers made of layers. A container of layers is itself a layer.

    Residual (residual.py)          y = body(x) + shortcut(x)
    Sequential (minicnn/models/)    y = layer_k(... layer_1(x))

A container owns no arrays. Its ``params``, ``grads`` and ``buffers`` are views
of the arrays of the layers inside it, keyed by their path ("body.0.W",
"5.body.0.W"), so an optimizer or a gradient check treats a container exactly
like a plain layer. Writing to a view changes nothing; the arrays stay with
the layers that hold them (``holds_arrays``).

Every backward walk through a chain of layers, whatever it passes down, is
``pass_down``: a training backward (``layer.backward``), the side-effect-free
input gradient (``layer.input_gradient``), and the visualization walk with its
ReLU rules (``layer.backward_rule``, minicnn/visualize/deconv.py).
"""
from .base import Layer


def pass_down(layers, signal, step):
    """Pass ``signal`` (shaped like the output of the last layer) down a chain of layers, from
    the top: ``step(layer, signal) -> the signal at the layer's input``. Returns the signal at
    the input of the first layer."""
    for layer in reversed(layers):
        signal = step(layer, signal)
    return signal


def backward_step(layer, dout):
    """A training step's walk: fill the layer's grads, hand dx to the layer below."""
    return layer.backward(dout)


def input_gradient_step(layer, dout):
    """The walk of ``input_gradient``: dx only, nothing changed."""
    return layer.input_gradient(dout)


class Container(Layer):
    """Base class of layers made of layers: subclasses define ``sublayers()``, ``forward`` and the
    way a signal goes down (``pass_down(signal, step)``); the rest follows from those."""

    holds_arrays = False

    def sublayers(self):
        raise NotImplementedError(f"{type(self).__name__} must implement sublayers()")

    # --- the arrays of the layers inside, by path ------------------------------------
    @property
    def params(self):
        """Every parameter inside, keyed "<path>.<name>": live arrays, not copies."""
        return self.named("params")

    @property
    def grads(self):
        """The gradients of the last backward, keyed like ``params`` (None before one)."""
        return {f"{path}.{name}" if path else name: layer.grads.get(name)
                for path, layer in self.walk() if layer.holds_arrays for name in layer.params}

    @property
    def buffers(self):
        """Every buffer inside (BatchNorm's running statistics), keyed like ``params``."""
        return self.named("buffers")

    @params.setter
    def params(self, value):
        _refuse_own_arrays(self, "params", value)

    @grads.setter
    def grads(self, value):
        _refuse_own_arrays(self, "grads", value)

    @buffers.setter
    def buffers(self, value):
        _refuse_own_arrays(self, "buffers", value)

    # --- backward, in terms of pass_down -----------------------------------------------
    def pass_down(self, signal, step):
        """signal at the output -> signal at the input, ``step(layer, signal)`` applied to each
        layer inside on the way."""
        raise NotImplementedError(f"{type(self).__name__} must implement pass_down(signal, step)")

    def backward(self, dout):
        """dout -> dx, filling every inner layer's grads: each inner layer's backward hands its
        dx to the layer below, so the walk is made once."""
        return self.pass_down(dout, backward_step)

    def parameter_gradients(self, dout):
        """The inner layers' grads need the signals inside: a full backward."""
        self.backward(dout)

    def input_gradient(self, dout):
        """dout -> dx, changing nothing."""
        return self.pass_down(dout, input_gradient_step)

    def backward_rule(self, signal, rule="gradient"):
        """A visualization signal goes down the same way; the ReLUs inside apply ``rule``."""
        return self.pass_down(signal, lambda layer, below: layer.backward_rule(below, rule))


def _refuse_own_arrays(container, store, value):
    """Layer.__init__ sets empty stores; anything else would be arrays a container cannot hold."""
    if value:
        raise AttributeError(f"{type(container).__name__}.{store} is a view of the layers "
                             "inside it; set the arrays on those layers")
