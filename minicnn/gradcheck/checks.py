"""The checks: check_layer, check_functions, check_forward, and assert_ forms for tests.

A layer and a CS231n-style pair of functions go through one procedure,
``_verify``. Each is wrapped as a *subject* that says what its inputs are, how
to run its forward on fresh copies of them, and how to call its backward. The
procedure then holds every verdict to the same rules:

1. forward runs on copies; if it changed one of them, that is a failure;
2. a forward output with NaN or inf, or two forwards that disagree, end the
   check: a numerical gradient of them would mean nothing;
3. backward gets a private copy of a random dout; if it changed it, that is a
   failure, and every gradient is still compared against the untouched dout, so
   the rows name the gradients the change made wrong;
4. each gradient is compared with central differences (numerical.py), entry by
   entry, with each entry's round-off allowed for (report.py).
"""
import functools
import inspect
import warnings

import numpy as np

from .numerical import _host, central_differences
from .report import DEFAULT_TOLERANCE, Comparison, GradcheckReport, describe_entries

# Two runs of a deterministic forward agree to round-off; a redrawn mask differs by O(1).
DETERMINISM_TOLERANCE = 1e-12   # relative to the output's largest value


class GradcheckPrecisionWarning(UserWarning):
    """A gradient check ran in a dtype other than float64, where round-off hides bugs."""


def check_layer(layer, x, labels=None, h=1e-5, seed=0, max_coordinates=None,
                tolerance=DEFAULT_TOLERANCE, strict=False):
    """Check dx and every parameter gradient of ``layer`` at input ``x``.

    layer: anything with forward, backward, and dicts params / grads (a minicnn
        Layer, a Sequential, or a student's own class).
    x: the input, float64 for a meaningful check (float32 warns).
    labels: for a loss layer, the labels: forward(x, labels) returns a scalar
        and backward() takes no upstream gradient.
    max_coordinates: check at most this many random coordinates per tensor
        (None: all of them).
    tolerance: the bound ``report.passed()`` and the printed verdicts use (1e-6).
    strict: fail on any coordinate skipped as a kink.
    Returns a GradcheckReport.
    """
    x = _float_input(x, "check_layer")
    _cast_params(layer, x.dtype)
    report = GradcheckReport(type(layer).__name__, x.dtype, tolerance, strict)
    return _verify(_LayerSubject(layer, x, labels), report, h, seed, max_coordinates)


def check_functions(forward_fn, backward_fn, x, *args, wrt=None, h=1e-5, seed=0,
                    max_coordinates=None, tolerance=DEFAULT_TOLERANCE, strict=False, **kwargs):
    """Check a pair forward_fn(x, *args, **kwargs) -> (out, cache), backward_fn(dout, cache).

    backward_fn returns the gradients of the positional arguments listed in
    ``wrt`` (0 is x), in that order: one array, or a tuple. The default ``wrt``
    is every positional argument that is a floating-point array, or None (an
    optional parameter left out, such as a conv's bias: its gradient must come
    back None). Other positional arguments (a dropout's p and keep mask, a
    loss's labels) and all keyword arguments are held constant.
    A scalar output (a loss) gets a random scalar dout.

    The report names each tensor "d" + the argument's name in forward_fn's
    signature (dx, dweight, dbias). Keyword arguments named like this
    function's own options (h, seed, ...) are taken as options: pass such an
    argument positionally, or wrap forward_fn. Returns a GradcheckReport.
    """
    x = _float_input(x, "check_functions")
    arguments = [x] + [np.array(_host(value), copy=True) if _is_array(value) else value
                       for value in args]
    wrt = _gradient_positions(forward_fn, arguments, wrt)
    for position in wrt:
        if arguments[position] is not None:
            arguments[position] = arguments[position].astype(x.dtype)
    subject = _FunctionSubject(forward_fn, backward_fn, arguments, kwargs, wrt)
    report = GradcheckReport(subject.name, x.dtype, tolerance, strict)
    return _verify(subject, report, h, seed, max_coordinates)


def check_forward(student, reference, x, *args, tolerance=DEFAULT_TOLERANCE, **kwargs):
    """Compare a forward with a reference's on the same input.

    A forward bug with a matching backward (a conv that forgets its bias in
    both) passes every gradient check; only a reference catches it.
    student, reference: layers (their ``forward`` is called) or functions; a
    tuple result is taken as ``(out, cache)``. Both get their own copies of x,
    args and kwargs. Layers must hold the same parameter values.
    Returns a GradcheckReport with one tensor, "out"; TypeError for a result of None.
    """
    x = np.array(_host(x), copy=True)
    outputs = []
    for candidate in (student, reference):
        run = getattr(candidate, "forward", candidate)
        result = run(x.copy(), *_copies(args), **_copies(kwargs))
        if result is None:
            raise TypeError(f"{_name(candidate)} returned None: is a return statement missing?")
        out = result[0] if isinstance(result, (tuple, list)) else result
        outputs.append(np.array(_host(out), dtype=np.float64))
    got, expected = outputs
    student_name, reference_name = _name(student), _name(reference)
    if got.shape != expected.shape:
        raise ValueError(f"{student_name} returned shape {got.shape}; the reference "
                         f"{reference_name} returns {expected.shape}")
    report = GradcheckReport(f"{student_name} against the reference {reference_name}", x.dtype,
                             tolerance, title="forward check of")
    report.add(Comparison("out", got, expected, np.ones(got.shape, bool), tolerance=tolerance,
                          roles=("student", "reference")))
    return report


def assert_gradients(layer, x, labels=None, **options):
    """check_layer, raising AssertionError with the report's table unless it passed.

    Returns the report. In pytest the table is printed once, under the test's own line.
    """
    __tracebackhide__ = True   # pytest: end the traceback at the caller's line
    return _passed_or_raise(check_layer(layer, x, labels, **options))


def assert_functions(forward_fn, backward_fn, x, *args, **kwargs):
    """check_functions, raising AssertionError with the report's table unless it passed."""
    __tracebackhide__ = True
    return _passed_or_raise(check_functions(forward_fn, backward_fn, x, *args, **kwargs))


def _passed_or_raise(report):
    __tracebackhide__ = True
    if not report.passed():
        raise AssertionError(str(report))
    return report


# --- the one procedure ----------------------------------------------------------------------

def _verify(subject, report, h, seed, max_coordinates):
    """Fill ``report`` for ``subject`` (a _LayerSubject or _FunctionSubject); see the module doc."""
    # a stream of its own, so dout never equals an x drawn with the same seed
    rng = np.random.default_rng([seed, 0x6772616463686B])
    pristine = {name: np.array(_host(value), copy=True) for name, value in subject.inputs().items()}
    out, given = subject.run_forward()
    for name, before in pristine.items():
        changed = _changed_entries(before, given[name])
        if changed:
            report.add_problem(name, f"forward changed {name} in place ({changed}): forward must "
                                     "leave its inputs alone (write into a new array)")
    if not np.isfinite(out).all():
        not_finite = describe_entries(~np.isfinite(out))
        report.add_problem("forward", f"forward returned NaN or inf ({not_finite}); gradients "
                                      "not compared")
        return report
    differing = _disagreement(out, subject.run_forward()[0])
    if differing:
        report.add_problem("forward", "forward is not deterministic: fix the mask or seed (two "
                                      f"runs on the same input differ {differing}); gradients "
                                      "not compared")
        return report

    dout = subject.upstream(out, rng)
    analytic, dout_given = subject.run_backward(dout)
    if dout_given is not None:
        changed = _changed_entries(dout, dout_given)
        if changed:
            report.add_problem("dout", f"backward changed dout in place ({changed}): write into "
                                       "a new array (dout = dout / N, not dout /= N). The rows "
                                       "compare against an untouched dout, so they name the "
                                       "gradients the change made wrong")
    tensors = subject.tensors()
    for name, array in tensors.items():
        if tuple(analytic[name].shape) != tuple(array.shape):
            raise ValueError(f"{subject.name}: gradient {name} has shape "
                             f"{tuple(analytic[name].shape)}, expected {tuple(array.shape)}")
    for name, array in tensors.items():
        compared = np.ones(array.shape, bool)
        coordinates = None
        if max_coordinates is not None and array.size > max_coordinates:
            coordinates = rng.choice(array.size, size=max_coordinates, replace=False)
            compared[...] = False
            compared.reshape(-1)[coordinates] = True
        numerical = central_differences(lambda _: subject.run_forward()[0], array, dout, h,
                                        coordinates)
        report.add(Comparison(name, analytic[name], numerical.gradient,
                              compared & ~numerical.kinks, numerical.kinks,
                              atol=numerical.roundoff, tolerance=report.tolerance))
    return report


class _LayerSubject:
    """A layer: forward(x) reads self.params, backward(dout) returns dx and fills self.grads."""

    def __init__(self, layer, x, labels):
        self.layer = layer
        self.name = type(layer).__name__
        self.x = x
        # x and dout live on the host, where they are perturbed; the layer gets device copies
        self.to_device = _device_of(layer)
        self.labels = () if labels is None else (self.to_device(labels),)

    def params(self):
        """The layer's parameters: with those of the layers inside it (a Residual's), by path."""
        return self.layer.params

    def inputs(self):
        return {"x": self.x, **self.params()}

    def run_forward(self):
        """-> (output as float64 on the host, what forward was given: x's copy and the params)."""
        x = self.to_device(self.x.copy())
        out = self.layer.forward(x, *self.labels)
        return np.array(_host(out), dtype=np.float64), {"x": x, **self.params()}

    def upstream(self, out, rng):
        if self.labels:
            return np.ones(out.shape)   # the check's function is the loss itself
        return rng.standard_normal(out.shape).astype(self.x.dtype)

    def run_backward(self, dout):
        """-> ({tensor name: analytic gradient}, the dout backward got, or None for a loss)."""
        if self.labels:
            given, dx = None, self.layer.backward()
        else:
            given = self.to_device(dout.copy())
            dx = self.layer.backward(given)
        analytic = {"dx": np.array(_host(dx), dtype=np.float64)}
        grads = self.layer.grads
        for name in self.params():
            if grads.get(name) is None:
                raise RuntimeError(f"{self.name}.backward left grads[{name!r}] empty")
            analytic[name] = np.array(_host(grads[name]), dtype=np.float64)
        return analytic, given

    def tensors(self):
        """The arrays the numerical side nudges in place: x, and the very arrays forward reads."""
        return {"dx": self.x, **self.params()}


class _FunctionSubject:
    """A pair forward_fn(*arguments, **kwargs) -> (out, cache) and backward_fn(dout, cache)."""

    def __init__(self, forward_fn, backward_fn, arguments, kwargs, wrt):
        self.forward_fn, self.backward_fn = forward_fn, backward_fn
        self.arguments, self.kwargs, self.wrt = arguments, kwargs, wrt
        self.argument_names = _argument_names(forward_fn, len(arguments))
        self.name = f"{_name(forward_fn)} / {_name(backward_fn)}"
        self.cache = None

    def inputs(self):
        named = dict(zip(self.argument_names, self.arguments), **self.kwargs)
        return {name: value for name, value in named.items() if _is_array(value)}

    def run_forward(self):
        """-> (output as float64, the copies forward was given); keeps the cache for backward."""
        arguments, kwargs = _copies(self.arguments), _copies(self.kwargs)
        result = self.forward_fn(*arguments, **kwargs)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):   # a list is fine too
            raise TypeError(f"{_name(self.forward_fn)} must return (out, cache), got "
                            f"{type(result).__name__}")
        out, self.cache = result
        given = dict(zip(self.argument_names, arguments), **kwargs)
        return np.array(_host(out), dtype=np.float64), given

    def upstream(self, out, rng):
        return np.asarray(rng.standard_normal(out.shape), dtype=self.arguments[0].dtype)

    def run_backward(self, dout):
        given = dout.copy()
        returned = self.backward_fn(given, self.cache)
        gradients = returned if isinstance(returned, (tuple, list)) else (returned,)
        backward_name = _name(self.backward_fn)
        expected = ", ".join("d" + self.argument_names[position] for position in self.wrt)
        if len(gradients) != len(self.wrt):
            raise ValueError(f"{backward_name} returned {_gradients(len(gradients))}; expected "
                             f"{_gradients(len(self.wrt))} ({expected})")
        analytic = {}
        for position, gradient in zip(self.wrt, gradients):
            name = "d" + self.argument_names[position]
            if self.arguments[position] is None:
                if gradient is not None:
                    raise ValueError(f"{self.argument_names[position]} is None, so "
                                     f"{backward_name} must return None for {name}")
            elif gradient is None:
                raise ValueError(f"{backward_name} returned None for {name}")
            else:
                analytic[name] = np.array(_host(gradient), dtype=np.float64)
        return analytic, given

    def tensors(self):
        return {"d" + self.argument_names[position]: self.arguments[position]
                for position in self.wrt if self.arguments[position] is not None}


# --- helpers ------------------------------------------------------------------------------

def _float_input(x, caller):
    """A host copy of x; refuses integers and warns below float64."""
    x = np.array(_host(x), copy=True)
    if x.dtype.kind != "f":
        raise TypeError(f"{caller} needs a floating-point x, got dtype {x.dtype}")
    if x.dtype != np.float64:
        warnings.warn(f"gradient check in {x.dtype}: round-off errors around 1e-3 hide real "
                      "bugs; use float64 inputs", GradcheckPrecisionWarning, stacklevel=3)
    return x


def _gradient_positions(forward_fn, arguments, wrt):
    """The positions backward returns gradients for, checked: floating arrays (or None)."""
    if wrt is None:
        return tuple(position for position, value in enumerate(arguments)
                     if value is None or _is_float_array(value))
    wrt = tuple(wrt)
    names = _argument_names(forward_fn, len(arguments))
    for position in wrt:
        if not isinstance(position, (int, np.integer)) or not 0 <= position < len(arguments):
            raise ValueError(f"wrt lists {position!r}, but {_name(forward_fn)} is given "
                             f"{len(arguments)} positional arguments (0 is x)")
        value = arguments[position]
        if value is not None and not _is_float_array(value):
            raise TypeError(f"wrt lists argument {position} ({names[position]}), which is not a "
                            f"floating-point array but {type(value).__name__}"
                            + (f" of dtype {value.dtype}" if _is_array(value) else ""))
    return wrt


def _argument_names(function, count):
    """The names of the first ``count`` positional parameters (arg3, ... where unknown)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):   # a builtin without a signature
        parameters = []
    names = [parameter.name for parameter in parameters
             if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)]
    return (names + [f"arg{i}" for i in range(len(names), count)])[:count]


def _name(function):
    """A function's or a layer's name, for reports."""
    if isinstance(function, functools.partial):
        return _name(function.func)
    return getattr(function, "__name__", None) or type(function).__name__


def _changed_entries(before, after):
    """'k of n entries, the first at index i' where ``after`` differs from ``before``, or ''."""
    after = np.asarray(_host(after))
    if before.shape != after.shape:
        return f"its shape went from {before.shape} to {after.shape}"
    differ = before != after
    if before.dtype.kind in "fc":
        differ &= ~(np.isnan(before) & np.isnan(after))
    return describe_entries(differ) if differ.any() else ""


def _disagreement(first, second):
    """Where two forward outputs differ beyond round-off, as a phrase; '' when they agree."""
    if first.shape != second.shape:
        return f"in shape: {first.shape} and {second.shape}"
    scale = np.abs(first).max(initial=0.0)
    with np.errstate(invalid="ignore"):
        differ = ~(np.abs(first - second) <= DETERMINISM_TOLERANCE * scale)
    if not differ.any():
        return ""
    with np.errstate(invalid="ignore"):
        largest = np.nanmax(np.abs(first - second)[differ], initial=0.0)
    return f"at {describe_entries(differ)}, by up to {largest:.3g}"


def _gradients(count):
    return f"{count} gradient" + ("" if count == 1 else "s")


def _copies(values):
    """Copies of the arrays in a list or dict (other values are immutable, or the caller's)."""
    def copy(value):
        return value.copy() if _is_array(value) else value
    if isinstance(values, dict):
        return {name: copy(value) for name, value in values.items()}
    return [copy(value) for value in values]


def _is_array(value):
    return isinstance(value, np.ndarray)


def _is_float_array(value):
    return _is_array(value) and value.dtype.kind == "f"


def _device_of(layer):
    """The layer backend's to_device, or no conversion for a layer without a backend."""
    backend = getattr(layer, "backend", None)
    return getattr(backend, "to_device", lambda array: array)


def _cast_params(layer, dtype):
    if hasattr(layer, "astype"):
        layer.astype(dtype)
    else:
        for name, value in layer.params.items():
            if value.dtype != dtype:
                layer.params[name] = value.astype(dtype)
