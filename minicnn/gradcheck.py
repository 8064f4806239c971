"""Numerical gradient checks: the proof that a backward pass is right.

For a layer y = f(x) and a random upstream gradient ``dout``, backprop claims

    dx = d/dx  sum(f(x) * dout)

and central differences estimate the same number for each coordinate i:

    dx_i ~= sum((f(x + h e_i) - f(x - h e_i)) * dout) / (2h)

with an error of O(h^2). In float64 with h = 1e-5 a correct backward agrees to
a relative error far below 1e-6; a wrong one is off by 1e-2 or more.

Kinks. ReLU at 0 and max-pool ties have no derivative, and a difference
quotient across a kink is meaningless. For every coordinate we also compare the
one-sided slopes (f(x+h) - f(x)) / h and (f(x) - f(x-h)) / h. On a smooth
function they differ by about f'' h, tiny; across a kink they jump by an amount
on the scale of the gradient itself. A coordinate whose jump exceeds 1e-3 of
the tensor's largest gradient is skipped and counted in the report instead of
being compared.

Typical use (see docs/gradcheck.md):

    >>> report = check_layer(MyConv(3, 4, 3), x)     # x float64
    >>> print(report)
    >>> assert report.passed()
"""
import warnings

import numpy as np

DEFAULT_TOLERANCE = 1e-6
# Round-off bounds what central differences can resolve: a loss of size ~1 gives
# each numerical gradient entry an absolute error near 1e-11, so an entry of 1e-6
# cannot be checked to 1e-6 relative. check_layer therefore measures entries
# smaller than this fraction of the tensor's largest gradient against that
# fraction. A wrong entry still shows an error of order 1.
SCALE_FLOOR = 1e-3


class GradcheckPrecisionWarning(UserWarning):
    """A gradient check ran in float32, where round-off swamps small errors."""


def rel_error(a, b, floor=1e-8):
    """max_i |a_i - b_i| / max(|a_i| + |b_i|, floor): the largest element-wise relative error."""
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


class GradcheckReport:
    """Per tensor ("dx", then each parameter): max relative error and kinks skipped."""

    def __init__(self, name, dtype, tolerance=DEFAULT_TOLERANCE):
        self.name = name
        self.dtype = np.dtype(dtype)
        self.tolerance = tolerance
        self.errors = {}
        self.kinks = {}
        self.checked = {}

    def add(self, tensor, analytic, numerical, kinks, checked):
        compare = ~kinks
        if checked is not None:
            mask = np.zeros(kinks.shape, dtype=bool)
            mask.reshape(-1)[checked] = True
            compare &= mask
        scale = np.abs(analytic).max(initial=0.0) + np.abs(numerical).max(initial=0.0)
        self.errors[tensor] = rel_error(analytic[compare], numerical[compare],
                                        floor=max(1e-8, SCALE_FLOOR * scale))
        self.kinks[tensor] = int(kinks.sum())
        self.checked[tensor] = int(compare.sum())

    @property
    def worst(self):
        """The largest relative error over all tensors."""
        return max(self.errors.values(), default=0.0)

    def passed(self, tolerance=None):
        """True when every tensor's error is below ``tolerance`` (default: the report's own)."""
        return self.worst < (self.tolerance if tolerance is None else tolerance)

    def __str__(self):
        lines = [f"gradient check of {self.name} ({self.dtype.name})",
                 f"  {'tensor':<14}{'max rel error':>15}{'checked':>10}{'kinks':>8}  verdict"]
        for tensor, error in self.errors.items():
            verdict = "ok" if error < self.tolerance else "FAIL"
            lines.append(f"  {tensor:<14}{error:>15.3e}{self.checked[tensor]:>10}"
                         f"{self.kinks[tensor]:>8}  {verdict}")
        lines.append(f"  worst {self.worst:.3e} (tolerance {self.tolerance:g}; denominators "
                     f"floored at {SCALE_FLOOR:g} x the tensor's largest gradient)")
        return "\n".join(lines)

    __repr__ = __str__


def check_layer(layer, x, labels=None, h=1e-5, seed=0, max_coordinates=None,
                tolerance=DEFAULT_TOLERANCE):
    """Check dx and every parameter gradient of ``layer`` at input ``x``.

    layer: anything with forward, backward, and dicts params / grads (a minicnn
        Layer, a Sequential, or a student's own class).
    x: the input, float64 for a meaningful check (float32 warns).
    labels: for a loss layer, the labels: forward(x, labels) returns a scalar
        and backward() takes no upstream gradient.
    max_coordinates: check at most this many random coordinates per tensor
        (None: all of them).
    tolerance: the bound ``report.passed()`` and the printed verdicts use (1e-6).
    Returns a GradcheckReport.
    """
    x = np.array(_host(x), copy=True)
    if x.dtype.kind != "f":
        raise TypeError(f"check_layer needs a floating-point x, got dtype {x.dtype}")
    if x.dtype != np.float64:
        warnings.warn(f"gradient check in {x.dtype}: round-off errors around 1e-3 hide real "
                      "bugs; use float64 inputs", GradcheckPrecisionWarning, stacklevel=2)
    _cast_params(layer, x.dtype)
    # a stream of its own, so dout never equals an x drawn with the same seed
    rng = np.random.default_rng([seed, 0x6772616463686B])
    # x and dout live on the host, where they are perturbed; the layer gets device copies
    to_device = _device_of(layer)
    extra = () if labels is None else (to_device(labels),)

    def run(input_array):
        return layer.forward(to_device(input_array), *extra)

    out = np.asarray(_host(run(x)))
    if labels is None:
        dout = rng.standard_normal(out.shape).astype(x.dtype)
        dx = layer.backward(to_device(dout))
    else:
        dout = np.ones(out.shape, dtype=x.dtype)
        dx = layer.backward()
    report = GradcheckReport(type(layer).__name__, x.dtype, tolerance)
    analytic = {"dx": np.array(_host(dx), dtype=np.float64)}
    params, grads = _store(layer, "params"), _store(layer, "grads")
    for name in params:
        if grads.get(name) is None:
            raise RuntimeError(f"{type(layer).__name__}.backward left grads[{name!r}] empty")
        analytic[name] = np.array(_host(grads[name]), dtype=np.float64)

    targets = [("dx", x)] + list(params.items())
    for tensor, array in targets:
        if tuple(analytic[tensor].shape) != tuple(array.shape):
            raise ValueError(f"{type(layer).__name__}: gradient {tensor} has shape "
                             f"{tuple(analytic[tensor].shape)}, expected {tuple(array.shape)}")
        coordinates = None
        if max_coordinates is not None and array.size > max_coordinates:
            coordinates = rng.choice(array.size, size=max_coordinates, replace=False)
        numerical, kinks = numerical_gradient_with_kinks(
            lambda _: run(x), array, dout, h, coordinates)
        report.add(tensor, analytic[tensor], numerical, kinks, coordinates)
    return report


def _store(layer, name):
    """A layer's params or grads: with those of the layers inside it (a Residual's), by path."""
    return layer.named(name) if hasattr(layer, "named") else getattr(layer, name)


def _device_of(layer):
    """The layer backend's to_device, or no conversion for a layer without a backend."""
    backend = getattr(layer, "backend", None)
    return getattr(backend, "to_device", lambda array: array)


def _host(array):
    """A NumPy view of any array (CuPy arrays come back through .get())."""
    return array.get() if hasattr(array, "get") and not isinstance(array, np.ndarray) else array


def _output(f, x):
    # a copy: some layers return their input or a cached array
    return np.array(_host(f(x)), dtype=np.float64, copy=True)


def _cast_params(layer, dtype):
    if hasattr(layer, "astype"):
        layer.astype(dtype)
    else:
        for name, value in layer.params.items():
            if value.dtype != dtype:
                layer.params[name] = value.astype(dtype)
