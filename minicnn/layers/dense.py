"""Dense (fully connected) and Flatten: the layers around minicnn/functional/dense.py."""
from .init import constant, he_normal
from .base import Layer


class Dense(Layer):
    """x: (N, in_features) -> x @ W + b: (N, out_features). Params W: (in, out), b: (out,).

    ``rng`` draws the initial W (a numpy Generator, a seed, or None for fresh entropy).
    """

    def __init__(self, in_features, out_features, rng=None):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Dense {name} must be an integer >= 1, got {value!r}")
        self.in_features = in_features
        self.out_features = out_features
        self.cache = None       # functional.dense.DenseCache: x, W
        self.reset_parameters(rng)

    def config(self):
        return {"in_features": self.in_features, "out_features": self.out_features}

    def reset_parameters(self, rng=None):
        """Draw W from He-normal (fan-in = in_features) and set b = 0."""
        self.params = self.place({
            "W": he_normal(rng, (self.in_features, self.out_features), self.in_features),
            "b": constant(self.out_features, 0.0)})
        self.grads = {"W": None, "b": None}

    def forward(self, x):
        self.check_input(x, "(N, D)", D=self.in_features)
        out, self.cache = self.ops.dense_forward(x, self.params["W"], self.params["b"])
        return out

    def parameter_gradients(self, dout):
        """dW = x^T dout: (in, out) and db = sum_n dout: (out,)."""
        self.grads["W"], self.grads["b"] = self.ops.dense_parameter_gradients(dout, self.cache)

    def input_gradient(self, dout):
        """dout: (N, out) -> dx = dout W^T: (N, in)."""
        return self.ops.dense_input_gradient(dout, self.cache)


class Flatten(Layer):
    """x: (N, ...) -> (N, prod(...)); backward restores the shape."""

    def __init__(self):
        super().__init__()
        self.cache = None       # the input's shape

    def forward(self, x):
        if not hasattr(x, "shape") or len(x.shape) < 2:
            raise ValueError(f"Flatten expects input of shape (N, ...) with at least 2 dims, "
                             f"got shape {getattr(x, 'shape', type(x).__name__)}")
        out, self.cache = self.ops.flatten_forward(x)
        return out

    def input_gradient(self, dout):
        """dout: (N, D) -> dx: the input shape."""
        return self.ops.flatten_backward(dout, self.cache)
