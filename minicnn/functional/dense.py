"""Dense (fully connected) and Flatten.

    forward    out = x @ W + b                    x: (N, D), W: (D, M), b: (M,) -> (N, M)
    backward   dW = x^T @ dout                    (D, N) @ (N, M) = (D, M)
               db = sum_n dout[n]                 (M,)
               dx = dout @ W^T                    (N, M) @ (M, D) = (N, D)

docs/layers.md, section 5, derives them. No backend has a fast path here:
each product is already one BLAS call.
"""
from typing import NamedTuple


class DenseCache(NamedTuple):
    """What ``dense_forward`` keeps for backward."""
    x: object           # (N, D), needed by dW
    weight: object      # (D, M), needed by dx


def dense_forward(x, weight, bias):
    """x: (N, D), weight: (D, M), bias: (M,) -> (out (N, M), cache)."""
    return x @ weight + bias, DenseCache(x, weight)


def dense_backward(dout, cache):
    """dout: (N, M) -> (dx (N, D), dW (D, M), db (M,))."""
    weight_gradient, bias_gradient = dense_parameter_gradients(dout, cache)
    return dense_input_gradient(dout, cache), weight_gradient, bias_gradient


def dense_parameter_gradients(dout, cache):
    """dout: (N, M) -> (dW = x^T @ dout: (D, M), db = sum_n dout: (M,))."""
    return cache.x.T @ dout, dout.sum(axis=0)


def dense_input_gradient(dout, cache):
    """dout: (N, M) -> dx = dout @ W^T: (N, D)."""
    return dout @ cache.weight.T


def flatten_forward(x):
    """x: (N, ...) -> (out (N, prod(...)), cache): the cache is x's shape."""
    return x.reshape(x.shape[0], -1), tuple(x.shape)


def flatten_backward(dout, cache):
    """dout: (N, D) -> dx: the input's shape again (a reshape has the identity as Jacobian)."""
    return dout.reshape(cache)
