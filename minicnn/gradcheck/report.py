"""What a check found: one Comparison per tensor, the problems that are no tensor's, and a verdict.

A Comparison grades one tensor entry by entry: ``got`` (the analytic gradient,
or a student's forward output) against ``expected`` (the numerical gradient, or
the reference output). A GradcheckReport holds them, plus the problems that
spoil a check as a whole (a forward that changes its input, a backward that
changes dout, a random forward), and prints the table a student reads.
"""
import numpy as np

DEFAULT_TOLERANCE = 1e-6
# Round-off bounds what central differences can resolve: a loss of size ~1 gives
# each numerical gradient entry an absolute error near 1e-11, so an entry of 1e-6
# cannot be checked to 1e-6 relative. Entries smaller than this fraction of the
# tensor's largest value are therefore measured against that fraction. A wrong
# entry still shows an error of order 1.
SCALE_FLOOR = 1e-3
# two values whose ratios (or differences) spread less than this, relatively, are "constant"
CONSTANT_SPREAD = 1e-4


class Comparison:
    """One tensor, ``got`` against ``expected``, entry by entry.

    An entry's error is |got - expected| / max(|got| + |expected|, floor), where
    floor = max(1e-8, SCALE_FLOOR x the tensor's largest values, atol / tolerance):
    an entry is wrong when it is off by more than ``tolerance`` relatively *and*
    by more than its ``atol`` (the numerical side's round-off, a number or one
    per entry), so an exactly-zero gradient passes. Only entries in
    ``compared`` are graded (kinks and unsampled coordinates are not); a NaN or
    inf anywhere fails. ``roles`` name the two sides in messages.
    """

    def __init__(self, name, got, expected, compared, kinks=None, atol=0.0,
                 tolerance=DEFAULT_TOLERANCE, roles=("analytic", "numerical")):
        self.name = name
        self.got = np.asarray(got, dtype=np.float64)
        self.expected = np.asarray(expected, dtype=np.float64)
        self.compared = np.asarray(compared, dtype=bool)
        self.kink_mask = np.zeros(self.got.shape, bool) if kinks is None else kinks
        self.atol = np.broadcast_to(np.asarray(atol, dtype=np.float64), self.got.shape)
        self.tolerance = tolerance
        self.roles = roles
        self.errors = self.entry_errors(tolerance)

    def entry_errors(self, tolerance):
        """Each entry's error (0 where not compared, NaN where a value is NaN or inf)."""
        finite = np.isfinite(self.got) & np.isfinite(self.expected)
        graded = self.compared & finite
        got, expected = self.got[graded], self.expected[graded]
        scale = np.abs(got).max(initial=0.0) + np.abs(expected).max(initial=0.0)
        floor = np.maximum(max(1e-8, SCALE_FLOOR * scale), self.atol[graded] / tolerance)
        errors = np.zeros(self.got.shape)
        errors[graded] = np.abs(got - expected) / np.maximum(np.abs(got) + np.abs(expected), floor)
        errors[~finite] = np.nan
        return errors

    @property
    def error(self):
        """The largest entry error over the compared entries; NaN if any entry is NaN or inf."""
        return float(self.errors.max(initial=0.0))   # np.max keeps the NaN of entry_errors

    @property
    def checked(self):
        return int(self.compared.sum())

    @property
    def kinks(self):
        return int(self.kink_mask.sum())

    def wrong(self, tolerance):
        """The boolean mask of compared entries whose error exceeds ``tolerance``."""
        return self.compared & ~(self._errors_at(tolerance) <= tolerance)   # NaN counts as wrong

    def _errors_at(self, tolerance):
        return self.errors if tolerance == self.tolerance else self.entry_errors(tolerance)

    def failure(self, tolerance, strict=False):
        """Why this tensor fails, as a sentence a student can act on; None when it passes."""
        for role, values in zip(self.roles, (self.got, self.expected)):
            bad = ~np.isfinite(values)
            if bad.any():
                return f"{role} is NaN or inf at {describe_entries(bad)}"
        if self.checked == 0:
            if self.kinks:
                return ("no entry compared: every coordinate was a kink. Try other inputs, away "
                        "from kinks: no zeros, no ties (minicnn.gradcheck.distinct_values)")
            return "no entry compared: the tensor is empty"
        wrong = self.wrong(tolerance)
        if wrong.any():
            errors = np.where(wrong, self._errors_at(tolerance), -1.0)
            index = np.unravel_index(np.argmax(errors), wrong.shape)
            got_role, expected_role = self.roles
            sentence = (f"worst at index {format_index(index)}: {got_role} {self.got[index]:.6g}, "
                        f"{expected_role} {self.expected[index]:.6g}; wrong at {wrong.sum()} of "
                        f"{self.checked} compared entries")
            hint = _hint(self, wrong)
            return sentence if hint is None else f"{sentence}\nhint: {hint}"
        if strict and self.kinks:
            return (f"{self.kinks} coordinates skipped as kinks, and strict=True allows none: "
                    "try inputs away from kinks")
        return None


def _hint(comparison, wrong):
    """A likely cause, from the pattern of the wrong entries; None when none stands out."""
    got_role, expected_role = comparison.roles
    got, expected = comparison.got[wrong], comparison.expected[wrong]
    if not got.any():
        return (f"{got_role} is 0 at every wrong entry: a term never added, accumulated (+=) "
                "or returned?")
    measurable = np.abs(expected) > comparison.atol[wrong]
    if not measurable.any():
        return (f"{expected_role} is 0 at every wrong entry, {got_role} is not: a missing mask "
                "or switch, or a term that does not belong?")
    ratios = got[measurable] / expected[measurable]
    if ratios.size >= 2 and _constant(ratios):
        return _factor_hint(float(np.median(ratios)), got_role, expected_role)
    offsets = got - expected
    if offsets.size >= 2 and _constant(offsets):
        return (f"{got_role} - {expected_role} = {float(np.median(offsets)):.4g} at every wrong "
                "entry: a missing or extra constant term (a bias?)")
    if _per_channel(comparison.got - comparison.expected, comparison.compared):
        return (f"{got_role} - {expected_role} changes only along axis 1 (the channel or "
                "feature): a missing or extra bias?")
    if wrong.sum() < comparison.checked:
        return ("only some entries are wrong: look at what they share (where windows overlap, "
                "+= and not =? one batch item? the borders? a mask?)")
    return None


def _factor_hint(ratio, got_role, expected_role):
    """got = ratio x expected everywhere it is wrong: name the factor, and 1/N when it fits."""
    if abs(ratio + 1) <= CONSTANT_SPREAD:
        return f"{got_role} = -{expected_role}: a sign flip"
    for factor, relation in ((ratio, f"{got_role} = {{n}} x {expected_role}"),
                             (1 / ratio, f"{got_role} = {expected_role} / {{n}}")):
        whole = round(factor)
        if whole >= 2 and abs(factor - whole) <= CONSTANT_SPREAD * whole:
            return (relation.format(n=whole) + " at every wrong entry: a missing or extra "
                    f"factor {whole} (1/N, 1/(H*W))?")
    return (f"{got_role} = {ratio:.4g} x {expected_role} at every wrong entry: a missing or "
            "extra constant factor")


def _constant(values):
    center = np.median(values)
    return center != 0 and np.ptp(values) <= CONSTANT_SPREAD * abs(center)


def _per_channel(difference, compared):
    """True when a nonzero difference varies along axis 1 only (compared everywhere)."""
    if difference.ndim < 2 or not compared.all() or not difference.any():
        return False
    other_axes = tuple(axis for axis in range(difference.ndim) if axis != 1)
    per_channel = difference.mean(axis=other_axes, keepdims=True)
    spread = np.abs(difference - per_channel).max()
    return spread <= CONSTANT_SPREAD * np.abs(difference).max()


def describe_entries(mask):
    """'k of n entries, the first at index (i, j)' for a boolean mask with a True entry."""
    first = np.unravel_index(np.argmax(mask), mask.shape)
    return f"{int(mask.sum())} of {mask.size} entries, the first at index {format_index(first)}"


def format_index(index):
    """An index as Python writes a tuple of ints: (2, 0) or (3,)."""
    return str(tuple(int(i) for i in index))


class GradcheckReport:
    """A check's findings: one Comparison per tensor ("dx", then the parameters), and problems.

    ``passed()`` is True only when every tensor passes and there is no problem.
    ``print(report)`` gives the table; ``repr(report)`` is one line, so an
    ``assert report.passed(), str(report)`` prints the table once.
    """

    def __init__(self, name, dtype, tolerance=DEFAULT_TOLERANCE, strict=False,
                 title="gradient check of"):
        self.name = name
        self.dtype = np.dtype(dtype)
        self.tolerance = tolerance
        self.strict = strict
        self.title = title
        self.comparisons = {}
        self.problems = {}

    def add(self, comparison):
        self.comparisons[comparison.name] = comparison

    def add_problem(self, subject, sentence):
        """A failure that is no tensor's; ``subject`` names what went wrong: "dout", "forward"..."""
        self.problems[subject] = sentence

    @property
    def errors(self):
        """dict: tensor name -> largest entry error (NaN when a value is NaN or inf)."""
        return {name: comparison.error for name, comparison in self.comparisons.items()}

    @property
    def checked(self):
        """dict: tensor name -> number of coordinates compared."""
        return {name: comparison.checked for name, comparison in self.comparisons.items()}

    @property
    def kinks(self):
        """dict: tensor name -> number of coordinates skipped as kinks."""
        return {name: comparison.kinks for name, comparison in self.comparisons.items()}

    @property
    def roundoff(self):
        """The largest round-off allowance of a compared entry (0.0 in a forward check)."""
        return max((float(comparison.atol[comparison.compared].max(initial=0.0))
                    for comparison in self.comparisons.values()), default=0.0)

    @property
    def worst(self):
        """The largest error over all tensors; NaN if any tensor has a NaN or inf."""
        errors = list(self.errors.values())
        return float(np.max(errors)) if errors else 0.0   # np.max, unlike max, keeps NaN

    def failures(self, tolerance=None):
        """dict: name of each failing tensor or problem -> why, in a sentence."""
        tolerance = self.tolerance if tolerance is None else tolerance
        failures = {}
        for name, comparison in self.comparisons.items():
            reason = comparison.failure(tolerance, self.strict)
            if reason is not None:
                failures[name] = reason
        failures.update(self.problems)
        return failures

    def passed(self, tolerance=None):
        """True when every tensor is right to ``tolerance`` (default: the report's own) and
        nothing else went wrong."""
        return not self.failures(tolerance)

    def __str__(self):
        lines = [f"{self.title} {self.name} ({self.dtype.name})"]
        if self.comparisons:
            lines.append(f"  {'tensor':<14}{'max rel error':>15}{'checked':>10}{'kinks':>8}"
                         f"{'wrong':>8}  verdict")
        failures = self.failures()
        for name, comparison in self.comparisons.items():
            wrong = comparison.wrong(self.tolerance).sum()
            share = f"{100 * wrong / comparison.checked:.3g}%" if comparison.checked else "-"
            lines.append(f"  {name:<14}{comparison.error:>15.3e}{comparison.checked:>10}"
                         f"{comparison.kinks:>8}{share:>8}  "
                         f"{'FAIL' if name in failures else 'ok'}")
        for name, reason in failures.items():
            prefix = f"  FAIL {name}: "
            lines.append(prefix + reason.replace("\n", "\n" + " " * len(prefix)))
        if self.comparisons:
            lines.append(f"  worst {self.worst:.3e} (tolerance {self.tolerance:g}; denominators "
                         f"floored at {SCALE_FLOOR:g} x the tensor's largest value)")
            if self.roundoff:
                lines.append(f"  entries off by less than their round-off (at most "
                             f"{self.roundoff:.1e} here) pass")
        lines.append("  verdict: " + ("pass" if not failures else "FAIL (" + ", ".join(failures)
                                      + ")"))
        return "\n".join(lines)

    def __repr__(self):
        failures = self.failures()
        verdict = "passed" if not failures else "FAILED: " + ", ".join(failures)
        return f"<GradcheckReport of {self.name}: {verdict}>"
