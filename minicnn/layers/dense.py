"""Dense (fully connected) and Flatten."""
from ..init import he_normal
from .base import Layer


class Dense(Layer):
    """x: (N, in_features) -> x @ W + b: (N, out_features). Params W: (in, out), b: (out,)."""

    def __init__(self, in_features, out_features):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Dense {name} must be an integer >= 1, got {value!r}")
        self.in_features = in_features
        self.out_features = out_features
        self.reset_parameters()

    def config(self):
        return {"in_features": self.in_features, "out_features": self.out_features}

    def reset_parameters(self):
        backend = self.backend
        shape = (self.in_features, self.out_features)
        self.params["W"] = backend.to_device(
            he_normal(backend.rng, shape, self.in_features, backend.dtype))
        self.params["b"] = backend.xp.zeros(self.out_features, dtype=backend.dtype)
        self.grads = {"W": None, "b": None}

    def forward(self, x):
        self.check_input(x, "(N, D)", D=self.in_features)
        self.x = x  # dW needs the input
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        """dout: (N, out) -> dx: (N, in).   dW = x^T dout,  db = sum_n dout,  dx = dout W^T."""
        self.parameter_gradients(dout)
        return dout @ self.params["W"].T

    def parameter_gradients(self, dout):
        """dW = x^T dout and db = sum_n dout, without dx (see Layer.parameter_gradients)."""
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)


class Flatten(Layer):
    """x: (N, ...) -> (N, prod(...)); backward restores the shape."""

    def forward(self, x):
        if not hasattr(x, "shape") or len(x.shape) < 2:
            raise ValueError(f"Flatten expects input of shape (N, ...) with at least 2 dims, "
                             f"got shape {getattr(x, 'shape', type(x).__name__)}")
        self.x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        """dout: (N, D) -> dx: the input shape."""
        return dout.reshape(self.x_shape)
