"""Inputs that expose bugs: kink-free values, and a standard sweep of cases per operation.

A gradient check proves only what its inputs exercise. Classic bugs hide at
easy inputs: col2im with ``=`` instead of ``+=`` is right when windows do not
overlap, a missing 1/N is right at N = 1, a forgotten gamma is right at
gamma = 1. The sweeps below always include the hard cases: overlapping pooling
(stride < kernel), strided and padded convolutions, non-square inputs, N > 1,
bias != 0 and gamma != 1, and the easy ones a default or a squeeze breaks:
F = C = N = 1, a stride or padding left out, eps given. ``seed`` draws every
value (dropout's p included), so a course can grade on inputs nobody has seen.

Each case fits the CS231n-style pairs ``<operation>_forward(*args, **kwargs)
-> (out, cache)`` and ``<operation>_backward(dout, cache)``, with backward
returning the gradients of ``args[i]`` for i in ``case.wrt``:

    for case in standard_cases("conv2d"):
        report = case.check(conv2d_forward, conv2d_backward)

One operation is no such pair: "im2col" takes the arguments of
``im2col(x, kernel_h, kernel_w, stride, padding)``, and its backward is
col2im, the adjoint (minicnn.course wraps the two as a pair).
"""
from dataclasses import dataclass, field

import numpy as np

from .checks import check_forward, check_functions


def distinct_values(rng, shape):
    """Random inputs away from every kink: no ties, no zeros, values in [-2, 2].

    The magnitudes 2/size, 4/size, ..., 2 in random order, each with a random
    sign. Two values differ by at least 2/size and none is nearer 0 than that:
    for up to 100,000 values, more than the 2h = 2e-5 that a central
    difference needs (no max-pool ties, no ReLU kink).
    """
    size = int(np.prod(shape))
    magnitudes = rng.permutation(size) + 1.0
    signs = rng.choice([-1.0, 1.0], size)
    return (signs * magnitudes * 2 / size).reshape(shape)


@dataclass(eq=False)
class Case:
    """One input of an operation: ``forward(*args, **kwargs)``; ``wrt`` lists the positions of
    ``args`` that backward returns gradients for (0 is x)."""
    operation: str
    description: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    wrt: tuple = (0,)

    def check(self, forward_fn, backward_fn, **options):
        """check_functions on this case (options: h, seed, tolerance, strict, max_coordinates)."""
        return check_functions(forward_fn, backward_fn, *self.args, wrt=self.wrt, **options,
                               **self.kwargs)

    def check_forward(self, student_fn, reference_fn, **options):
        """check_forward of a student's forward against a reference's, on this case."""
        return check_forward(student_fn, reference_fn, *self.args, **options, **self.kwargs)

    def __str__(self):
        return f"{self.operation}: {self.description}"


# The sweeps, as data. Each row is one case; what it is there to expose is on its right.
SWEEPS = {
    "im2col": [
        # x shape (N, C, H, W), kernel (height, width), stride, padding
        ((2, 3, 6, 5), (3, 3), 1, 1),        # N > 1, padded, non-square, overlapping windows
        ((2, 2, 7, 6), (3, 3), 2, 1),        # strided and padded, windows still overlap
        ((1, 2, 6, 6), (2, 2), 2, 0),        # stride == kernel: no overlap (N = 1)
        ((2, 2, 5, 6), (2, 3), 1, 0),        # a non-square kernel: height and width swapped?
    ],
    "conv2d": [
        # x shape (N, C, H, W), filters, kernel (height, width), stride, padding, bias
        ((2, 3, 6, 5), 4, (3, 3), 1, 1, True),    # N > 1, padded, non-square, overlapping windows
        ((2, 2, 7, 6), 3, (3, 3), 2, 1, True),    # strided and padded, windows still overlap
        ((1, 2, 6, 6), 2, (2, 2), 2, 0, True),    # stride == kernel: no overlap (N = 1)
        ((3, 2, 5, 7), 3, (3, 3), 1, 0, False),   # no bias: its gradient must be None
        ((2, 2, 5, 6), 3, (2, 3), 1, 0, True),    # a non-square kernel
        ((1, 1, 5, 4), 1, (3, 3), None, None, True),   # F = C = N = 1; stride, padding left out
    ],
    "maxpool": [
        # x shape, kernel_size, stride
        ((2, 3, 6, 5), 2, 2),                # non-square, a leftover column that no window sees
        ((2, 2, 7, 6), 3, 2),                # overlapping windows: a pixel can win two
        ((1, 2, 5, 4), 2, 1),                # overlapping, stride 1 (N = 1)
        ((2, 1, 5, 4), 2, None),             # stride left out (it defaults to the kernel); C = 1
    ],
    "relu": [
        # x shape (distinct values: none within h of the kink at 0)
        ((2, 3, 4, 5),),
        ((3, 7),),                           # any shape, not only images
    ],
    "flatten": [
        # x shape
        ((2, 3, 4, 5),),                     # N > 1: the batch axis stays
        ((3, 2, 5),),                        # any rank, not only images
    ],
    "dense": [
        # N, in features, out features
        (4, 5, 3),                           # N > 1, non-square weight
        (3, 4, 4),                           # square weight: a transposed W runs silently
        (1, 3, 2),                           # N = 1
        (2, 3, 1),                           # one output feature: db keeps its shape (1,)
    ],
    "dropout": [
        # x shape, the range p is drawn from (p and the keep mask are drawn here, seeded)
        ((3, 2, 4, 4), (0.2, 0.4)),
        ((5, 6), (0.4, 0.7)),
    ],
    "batchnorm": [
        # x shape, training (batch statistics) or eval (fixed mean and var), eps if given
        ((2, 3, 4, 5), True),                # N > 1, gamma != 1, beta != 0, mean != 0
        ((1, 2, 3, 4), True),                # N = 1: the statistics run over H and W too
        ((3, 2, 3, 3), False, 1e-3),         # eval: mean and var are constants; eps given
        ((2, 1, 3, 4), True, 0.1),           # C = 1, a large eps: is it used?
    ],
    "global_avg_pool": [
        # x shape
        ((2, 3, 4, 5),),                     # non-square: 1/(H*W), not 1/H^2
        ((1, 2, 3, 3),),
    ],
    "softmax_cross_entropy": [
        # N, classes, targets: integer labels, or soft targets (rows of probabilities)
        (1, 3, "labels"),                    # N = 1: a missing 1/N hides here
        (6, 10, "labels"),
        (4, 5, "labels"),
        (3, 4, "soft"),                      # label smoothing, mixup: (p - q) / N
    ],
}
OPERATIONS = tuple(SWEEPS)


def standard_cases(operation, seed=0):
    """The sweep of ``operation`` (one of OPERATIONS) as a list of Cases, with fresh arrays
    drawn from ``seed``."""
    if operation not in SWEEPS:
        raise ValueError(f"no standard cases for {operation!r}: choose one of {OPERATIONS}")
    rng = np.random.default_rng(seed)
    build = _BUILDERS[operation]
    return [build(rng, *row) for row in SWEEPS[operation]]


def _im2col(rng, shape, kernel, stride, padding):
    kernel_h, kernel_w = kernel
    return Case("im2col", f"x {shape}, kernel {kernel_h}x{kernel_w}, stride {stride}, padding "
                          f"{padding}", (rng.standard_normal(shape), kernel_h, kernel_w),
                {"stride": stride, "padding": padding})


def _conv2d(rng, shape, filters, kernel, stride, padding, bias):
    kernel_h, kernel_w = kernel
    x = rng.standard_normal(shape)
    weight = rng.standard_normal((filters, shape[1], kernel_h, kernel_w))
    weight /= np.sqrt(kernel_h * kernel_w)
    b = rng.standard_normal(filters) if bias else None
    settings = {name: value for name, value in (("stride", stride), ("padding", padding))
                if value is not None}   # None: left out, the default applies
    described = ", ".join(f"{name} {value}" for name, value in settings.items()) \
        or "stride and padding left out"
    description = (f"x {shape}, {filters} filter{'s' if filters > 1 else ''} "
                   f"{kernel_h}x{kernel_w}, {described}" + ("" if bias else ", no bias"))
    return Case("conv2d", description, (x, weight, b), settings, wrt=(0, 1, 2))


def _maxpool(rng, shape, kernel_size, stride):
    settings = {"kernel_size": kernel_size}
    if stride is not None:   # None: left out, it defaults to kernel_size
        settings["stride"] = stride
    return Case("maxpool", f"x {shape}, kernel {kernel_size}, "
                + (f"stride {stride}" if stride is not None else "stride left out"),
                (distinct_values(rng, shape),), settings)


def _relu(rng, shape):
    return Case("relu", f"x {shape}", (distinct_values(rng, shape),))


def _flatten(rng, shape):
    return Case("flatten", f"x {shape}", (rng.standard_normal(shape),))


def _dense(rng, batch, features_in, features_out):
    x = rng.standard_normal((batch, features_in))
    weight = rng.standard_normal((features_in, features_out)) / np.sqrt(features_in)
    return Case("dense", f"x ({batch}, {features_in}), weight ({features_in}, {features_out})",
                (x, weight, rng.standard_normal(features_out)), wrt=(0, 1, 2))


def _dropout(rng, shape, p_range):
    p = round(float(rng.uniform(*p_range)), 4)   # drawn: a scale looked up per p cannot pass
    x = rng.standard_normal(shape)
    keep = rng.random(shape) >= p
    return Case("dropout", f"x {shape}, p {p}", (x, p, keep), wrt=(0,))


def _batchnorm(rng, shape, training, eps=None):
    channels = shape[1]
    x = rng.standard_normal(shape) * 2 + 1
    gamma = rng.uniform(0.5, 1.5, channels)
    beta = rng.standard_normal(channels)
    settings = {} if eps is None else {"eps": eps}   # None: left out, the default applies
    described = "" if eps is None else f", eps {eps:g}"
    if training:
        return Case("batchnorm", f"x {shape}, training{described}", (x, gamma, beta), settings,
                    wrt=(0, 1, 2))
    settings.update(mean=rng.standard_normal(channels), var=rng.uniform(0.5, 2.0, channels))
    return Case("batchnorm", f"x {shape}, eval (fixed mean and var){described}",
                (x, gamma, beta), settings, wrt=(0, 1, 2))


def _global_avg_pool(rng, shape):
    return Case("global_avg_pool", f"x {shape}", (rng.standard_normal(shape),))


def _softmax_cross_entropy(rng, batch, classes, targets):
    # unit-scale logits: probabilities near 1e-8 would put their gradient entries at round-off
    logits = rng.standard_normal((batch, classes))
    if targets == "soft":
        labels = rng.dirichlet(np.ones(classes), batch)
        description = f"logits ({batch}, {classes}), soft targets"
    else:
        labels = rng.integers(0, classes, batch)
        description = f"logits ({batch}, {classes})"
    return Case("softmax_cross_entropy", description, (logits, labels), wrt=(0,))


_BUILDERS = {"im2col": _im2col, "conv2d": _conv2d, "maxpool": _maxpool, "relu": _relu,
             "flatten": _flatten, "dense": _dense,
             "dropout": _dropout, "batchnorm": _batchnorm, "global_avg_pool": _global_avg_pool,
             "softmax_cross_entropy": _softmax_cross_entropy}
