"""The Layer base class: the contract every layer keeps.

    forward(x)        -> out      caches what backward needs
    backward(dout)    -> dx       fills self.grads, never mutates dout
    parameter_gradients(dout)     fills self.grads only (the end of a training walk)
    params, grads                  dicts with the same keys
    buffers                        non-trained state (BatchNorm running stats)
    train() / eval()               mode switch (Dropout, BatchNorm)

A layer reaches its arrays through ``self.backend`` (``xp = self.backend.xp``).
Used on its own, a layer takes the default backend; inside a Sequential, the
model hands it its own.
"""
import warnings

from ..backend import default_backend


class ShapeError(ValueError):
    """An input has the wrong number of dimensions or the wrong size."""


class Layer:
    """Base class. Subclasses implement forward and backward."""

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.buffers = {}
        self.training = True
        self._backend = None

    # --- backend ----------------------------------------------------------
    @property
    def backend(self):
        return self._backend if self._backend is not None else default_backend()

    @backend.setter
    def backend(self, backend):
        self._backend = backend

    def to_backend(self, backend):
        """Move params, grads and buffers onto ``backend`` (host round trip)."""
        old = self.backend
        for store in (self.params, self.grads, self.buffers):
            for key, value in store.items():
                if value is not None:
                    store[key] = backend.to_device(old.to_host(value))
        self._backend = backend
        return self

    def astype(self, dtype):
        """Cast params, grads and buffers to ``dtype`` (float64 for gradient checks)."""
        for store in (self.params, self.grads, self.buffers):
            for key, value in store.items():
                if value is not None:
                    store[key] = value.astype(dtype)
        return self

    # --- modes ------------------------------------------------------------
    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    # --- the contract -----------------------------------------------------
    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def parameter_gradients(self, dout):
        """Fill self.grads from dout, without returning dx.

        What the first layer with parameters is asked for in a training step,
        where nobody needs the gradient of the loss with respect to the input
        (``Sequential.backward(input_gradient=False)``). By default this is
        backward with its dx dropped; layers whose dx is a separate product
        (Conv2D, Dense) override it to skip that product.
        """
        self.backward(dout)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def config(self):
        """Constructor arguments: with the class name, the architecture description."""
        return {}

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
