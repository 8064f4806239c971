"""The numerical side of a gradient check: central differences, kinks, round-off, relative error.

For a function y = f(x) and a fixed upstream gradient ``dout``, backprop claims

    dx = d/dx  sum(f(x) * dout)

and central differences estimate the same number for each coordinate i:

    dx_i ~= sum((f(x + h e_i) - f(x - h e_i)) * dout) / (2h)

with an error of O(h^2) from truncation and about eps * sum|f * dout| / h from
round-off, the sum over the outputs that x_i reaches (see ``central_differences``).

Kinks. ReLU at 0 and max-pool ties have no derivative, and a difference
quotient across a kink is meaningless. For every coordinate we also compare the
one-sided slopes (f(x+h) - f(x)) / h and (f(x) - f(x-h)) / h. On a smooth
function they differ by about f'' h, tiny; across a kink they jump by an amount
on the scale of the gradient itself. A coordinate whose jump exceeds 1e-3 of
the tensor's largest gradient is a kink: the checks skip it and count it.
"""
from collections import namedtuple

import numpy as np

# The numerical gradient's round-off, eps * sum|f(x) * dout| / h over the outputs a
# nudge changes, is estimated from the outputs' size; a forward's intermediate
# values can be larger. Differences up to this many times the estimate count as
# agreement (tests/test_gradcheck.py holds minicnn's own networks to a third of it).
ROUNDOFF_FACTOR = 10


def rel_error(a, b, floor=1e-8):
    """max_i |a_i - b_i| / max(|a_i| + |b_i|, floor), as a Python float (0.0 for empty arrays)."""
    a = np.asarray(_host(a), dtype=np.float64)
    b = np.asarray(_host(b), dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs equal shapes, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(floor, np.abs(a) + np.abs(b))))


def numerical_gradient(f, x, dout, h=1e-5):
    """Central-difference gradient of sum(f(x) * dout) with respect to x.

    f: a function of x returning an array; x is perturbed *in place* and restored.
    dout: the upstream gradient, shape of f(x). Returns an array shaped like x.
    """
    gradient, _ = numerical_gradient_with_kinks(f, x, dout, h)
    return gradient


def numerical_gradient_with_kinks(f, x, dout, h=1e-5, coordinates=None):
    """Like numerical_gradient, plus a boolean mask of coordinates where the step crossed a kink.

    ``coordinates`` (optional) limits the work to those flat indices; the others stay 0.
    """
    differences = central_differences(f, x, dout, h, coordinates)
    return differences.gradient, differences.kinks


CentralDifferences = namedtuple("CentralDifferences", "gradient kinks roundoff")


def central_differences(f, x, dout, h=1e-5, coordinates=None):
    """The numerical gradient of sum(f(x) * dout), and what a check needs to trust it.

    -> CentralDifferences(gradient, kinks, roundoff), each shaped like x:
    kinks: True where the step crossed a kink (see the module doc);
    roundoff: how far a correct analytic value may sit from the gradient by
        round-off alone: ROUNDOFF_FACTOR x eps x sum|f(x) * dout| / h over the
        outputs the nudge changed (the others come out bit-identical and
        cancel). It is float64's eps: a float32 check gets no leniency.
    x is perturbed *in place* and restored; ``coordinates`` (optional flat
    indices) limits the work to those, the others stay 0.
    """
    dout = np.asarray(_host(dout), dtype=np.float64)
    center = _output(f, x)
    weight = np.abs(center * dout) * (ROUNDOFF_FACTOR * np.finfo(np.float64).eps / h)
    gradient = np.zeros(x.shape, dtype=np.float64)
    slope_jump = np.zeros(x.shape, dtype=np.float64)
    roundoff = np.zeros(x.shape, dtype=np.float64)
    flat_indices = range(x.size) if coordinates is None else coordinates
    for flat in flat_indices:
        index = np.unravel_index(flat, x.shape)
        original = x[index].copy()
        x[index] = original + h
        plus = _output(f, x)
        x[index] = original - h
        minus = _output(f, x)
        x[index] = original
        gradient[index] = np.sum((plus - minus) * dout) / (2 * h)
        slope_up = np.sum((plus - center) * dout) / h
        slope_down = np.sum((center - minus) * dout) / h
        slope_jump[index] = abs(slope_up - slope_down)
        roundoff[index] = np.sum(weight[plus != minus])
    kinks = slope_jump > 1e-3 * np.abs(gradient).max(initial=0.0) + 1e-8
    return CentralDifferences(gradient, kinks, roundoff)


def _host(array):
    """A NumPy view of any array (CuPy arrays come back through .get())."""
    return array.get() if hasattr(array, "get") and not isinstance(array, np.ndarray) else array


def _output(f, x):
    # a copy: some layers return their input or a cached array
    return np.array(_host(f(x)), dtype=np.float64, copy=True)
