"""The numerical side of a gradient check: central differences, kinks, round-off, relative error.

For a function y = f(x) and a fixed upstream gradient ``dout``, backprop claims

    dx = d/dx  sum(f(x) * dout)

and central differences estimate the same number for each coordinate i:

    dx_i ~= sum((f(x + h e_i) - f(x - h e_i)) * dout) / (2h)

with an error of O(h^2) from truncation and about eps * sum|f * dout| / h from
round-off (see ``roundoff``).

Kinks. ReLU at 0 and max-pool ties have no derivative, and a difference
quotient across a kink is meaningless. For every coordinate we also compare the
one-sided slopes (f(x+h) - f(x)) / h and (f(x) - f(x-h)) / h. On a smooth
function they differ by about f'' h, tiny; across a kink they jump by an amount
on the scale of the gradient itself. A coordinate whose jump exceeds 1e-3 of
the tensor's largest gradient is a kink: the checks skip it and count it.
"""
import numpy as np

# The numerical gradient's round-off, eps * sum|f(x) * dout| / h, is an estimate
# from the output's size; a forward's intermediate values can be larger than its
# output. Differences up to this many times the estimate count as agreement
# (tests/test_gradcheck.py holds minicnn's own layers and networks to a third of it).
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
    dout = np.asarray(_host(dout), dtype=np.float64)
    center = _output(f, x)
    gradient = np.zeros(x.shape, dtype=np.float64)
    slope_jump = np.zeros(x.shape, dtype=np.float64)
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
    kinks = slope_jump > 1e-3 * np.abs(gradient).max(initial=0.0) + 1e-8
    return gradient, kinks


def roundoff(out, dout, h):
    """How far a correct analytic gradient may sit from the numerical one by round-off alone.

    Each evaluation of sum(f(x) * dout) carries an error of about float64's eps
    times sum|f(x) * dout|; the central difference divides it by 2h (twice).
    Below this, a difference says nothing, which is what lets an exactly-zero
    gradient pass. It is always float64's: a float32 check gets no leniency.
    """
    magnitude = float(np.sum(np.abs(np.asarray(out, dtype=np.float64) * dout)))
    return ROUNDOFF_FACTOR * np.finfo(np.float64).eps * magnitude / h


def _host(array):
    """A NumPy view of any array (CuPy arrays come back through .get())."""
    return array.get() if hasattr(array, "get") and not isinstance(array, np.ndarray) else array


def _output(f, x):
    # a copy: some layers return their input or a cached array
    return np.array(_host(f(x)), dtype=np.float64, copy=True)
