"""The Layer base class: the contract every layer keeps.

    forward(x)               -> out    keeps in self.cache what backward needs
    parameter_gradients(dout)          fills self.grads (layers with parameters)
    input_gradient(dout)     -> dx     the gradient with respect to the input
    backward(dout)           -> dx     parameter_gradients, then input_gradient
    params, grads                      dicts with the same keys: the layer's own arrays
    buffers                            non-trained state (BatchNorm's running statistics)
    train() / eval()                   mode switch (Dropout, BatchNorm)
    sublayers()                        the layers inside a container (container.py:
                                       Residual, Sequential); walk() visits them all,
                                       named(store) gathers their arrays by path

Neither half of backward changes ``dout``, and ``input_gradient`` changes
nothing at all (no grads, no cache): the visualization walk of
minicnn/visualize/deconv.py calls it to pass any signal down through a layer.

A layer does its maths through ``self.ops``, a table of the pure functions of
minicnn/functional: its backend's table inside a model (``backend.ops``), the
readable ``minicnn.functional`` itself for a layer used on its own. Either way
the layer code names no array library.
"""
import contextlib
import warnings

from .. import functional


class ShapeError(ValueError):
    """An input has the wrong number of dimensions or the wrong size."""


class Layer:
    """Base class. Subclasses implement forward, input_gradient and, with parameters, parameter_gradients."""

    # whether params, grads and buffers are this layer's own arrays; a container's are views
    # of the arrays of the layers inside it (container.py), so the walks below skip them
    holds_arrays = True

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.buffers = {}
        self.training = True
        self.backend = None     # set by the model that holds the layer (Sequential, to_backend)
        self.cache = None       # what the last forward kept for backward

    # --- layers inside layers -----------------------------------------------
    def sublayers(self):
        """{name: layer} of the layers inside this one (a Residual's branches); none by default."""
        return {}

    def walk(self, path=""):
        """(path, layer) for this layer and every layer inside it, depth first ("body.0", ...)."""
        yield path, self
        for name, layer in self.sublayers().items():
            yield from layer.walk(f"{path}.{name}" if path else name)

    def named(self, store):
        """{"path.key": array} of one store ("params", "grads" or "buffers") of every layer in walk()
        that holds arrays: for a plain layer, the store itself ("W", "b")."""
        return {f"{path}.{key}" if path else key: value
                for path, layer in self.walk() if layer.holds_arrays
                for key, value in getattr(layer, store).items()}

    def array_stores(self):
        """(layer, store) for the params, grads and buffers dicts of every layer in walk() that
        holds arrays: the dicts to rewrite when the arrays move or change dtype."""
        return [(layer, store) for _, layer in self.walk() if layer.holds_arrays
                for store in (layer.params, layer.grads, layer.buffers)]

    # --- where the maths runs -----------------------------------------------
    @property
    def ops(self):
        """The functions this layer computes with: its backend's table, or minicnn.functional on its own."""
        return functional if self.backend is None else self.backend.ops

    def to_backend(self, backend):
        """Move params, grads and buffers onto ``backend`` (a host round trip); caches are dropped."""
        for layer, store in self.array_stores():
            to_host = (lambda array: array) if layer.backend is None else layer.backend.to_host
            for key, value in store.items():
                if value is not None:
                    store[key] = backend.to_device(to_host(value))
        for _, layer in self.walk():
            layer.backend = backend
            layer.cache = None
        return self

    def place(self, host_arrays):
        """Freshly drawn host arrays {name: array} -> the layer's own: on its backend, in its dtype."""
        if self.backend is None:
            return dict(host_arrays)
        return {name: self.backend.to_device(array, self.backend.dtype)
                for name, array in host_arrays.items()}

    def astype(self, dtype):
        """Cast params, grads and buffers to ``dtype`` (float64 for gradient checks)."""
        for _, store in self.array_stores():
            for key, value in store.items():
                if value is not None:
                    store[key] = value.astype(dtype)
        return self

    # --- modes ------------------------------------------------------------
    def train(self):
        for _, layer in self.walk():
            layer.training = True
        return self

    def eval(self):
        for _, layer in self.walk():
            layer.training = False
        return self

    @contextlib.contextmanager
    def evaluating(self):
        """``with layer.evaluating():`` eval mode inside the block, each layer's own mode after
        it (a prediction or a visualization must not leave a training model in eval mode)."""
        modes = [(layer, layer.training) for _, layer in self.walk()]
        self.eval()
        try:
            yield self
        finally:
            for layer, training in modes:
                layer.training = training

    # --- the contract -----------------------------------------------------
    def forward(self, x):
        raise NotImplementedError

    def parameter_gradients(self, dout):
        """Fill self.grads from dout (the gradient of the loss with respect to the output).

        Nothing to do for a layer without parameters. It is all a training step
        asks of the first layer with parameters, where nobody needs the
        gradient with respect to the input images
        (``Sequential.backward(input_gradient=False)``).
        """

    def input_gradient(self, dout):
        """dout (the gradient with respect to the output) -> dx; changes nothing."""
        raise NotImplementedError(f"{type(self).__name__} must implement input_gradient(dout)")

    def backward(self, dout):
        """dout -> dx: fill self.grads, then return the gradient with respect to the input."""
        self.parameter_gradients(dout)
        return self.input_gradient(dout)

    def backward_rule(self, signal, rule="gradient"):
        """Pass a visualization signal down (minicnn/visualize/deconv.py): only a ReLU treats the
        three rules differently (and a container, through the ReLUs inside it)."""
        return self.input_gradient(signal)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def config(self):
        """Constructor arguments: with the class name, the architecture description."""
        return {}

    def describe(self):
        """The layer's entry in an architecture description (JSON-able)."""
        return {"type": type(self).__name__, "config": self.config()}

    @classmethod
    def from_config(cls, config, build):
        """The layer a description's config names. ``build(description) -> layer`` builds the
        layers inside a container; a plain layer's config is its constructor arguments."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"

    # --- input checks -----------------------------------------------------
    def check_input(self, x, expected, **sizes):
        """Reject a bad input with an error that names the expected shape.

        ``expected`` reads like "(N, C, H, W)"; ``sizes`` pins named axes,
        e.g. ``C=3``. An axis N must not be empty. Also makes the parameters follow the input's float dtype.
        """
        name = type(self).__name__
        axes = [axis.strip() for axis in expected.strip("()").split(",")]
        shape = getattr(x, "shape", None)
        if shape is None or not hasattr(x, "dtype"):
            raise TypeError(f"{name} expects an array of shape {expected}, "
                            f"got {type(x).__name__}")
        if len(shape) != len(axes):
            raise ShapeError(f"{name} expects input of shape {expected}"
                             f"{_pinned(sizes)}, got shape {tuple(shape)} "
                             f"({len(shape)} dims instead of {len(axes)})")
        if axes[0] == "N" and shape[0] == 0:
            raise ShapeError(f"{name} got an empty batch: shape {tuple(shape)} holds no samples")
        for axis_name, size in sizes.items():
            actual = shape[axes.index(axis_name)]
            if actual != size:
                raise ShapeError(f"{name} expects input of shape {expected} with "
                                 f"{axis_name}={size}, got shape {tuple(shape)} "
                                 f"({axis_name}={actual})")
        self.check_floating(x)
        self.follow_dtype(x.dtype)

    def check_floating(self, x):
        """Reject anything but a float32 / float64 array, naming what came instead
        (float16 too: the fast paths compute in float32 or float64 only)."""
        if not hasattr(x, "dtype") or x.dtype.name not in ("float32", "float64"):
            got = f"dtype {x.dtype}" if hasattr(x, "dtype") else type(x).__name__
            raise TypeError(f"{type(self).__name__} expects a floating-point input (float32 or "
                            f"float64), got {got}")

    def follow_dtype(self, dtype):
        """Cast the parameters to the input dtype (say so, never silently)."""
        mismatched = [key for key, value in self.params.items() if value.dtype != dtype]
        if mismatched:
            warnings.warn(f"{type(self).__name__}: casting parameters from "
                          f"{self.params[mismatched[0]].dtype} to {dtype} to follow "
                          f"the input dtype", stacklevel=3)
            self.astype(dtype)


def _pinned(sizes):
    return "".join(f" with {k}={v}" for k, v in sizes.items()) if sizes else ""
