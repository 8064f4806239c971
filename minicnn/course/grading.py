"""Grading a student's functions: each on the standard sweep of its operation, beside minicnn's.

A function is graded together with minicnn's other function of its pair, never
with the student's own (``exercise_reports``):

    a forward    is compared with minicnn's forward (check_forward), and
                 gradient-checked with minicnn's backward, which gets its cache;
    a backward   is gradient-checked with minicnn's forward, whose cache it gets.

So a bug costs exactly the function that has it: a forward that forgets its
bias fails the forward, and a right backward beside it keeps its points. Each
case of the sweep is worth an equal share of the function's points. A case
that raises fails with the error and the student's line it came from; a file
that cannot be imported or lacks the function scores 0 for that function and
leaves the others alone (minicnn.course.submission loads each file on its own).

This runs the student's code in this process. ``minicnn.course.runner.grade``
runs it in a child process instead, with a time limit per function.
"""
import warnings
from dataclasses import dataclass, field

import numpy as np

from .. import functional
from ..gradcheck import standard_cases
from .exercises import EXERCISES
from .submission import SubmissionError, describe_error, load_function


def pair(operation, forward, backward):
    """(forward, backward) as the checks take them: ``forward(*args) -> (out, cache)`` and
    ``backward(dout, cache)``. Only im2col needs wrapping: col2im is its backward, the adjoint."""
    if operation != "im2col":
        return forward, backward

    def im2col_forward(x, kernel_h, kernel_w, stride=1, padding=0):
        cols = forward(x, kernel_h, kernel_w, stride, padding)
        return cols, (x.shape, kernel_h, kernel_w, stride, padding)

    def im2col_backward(dcols, cache):
        return backward(dcols, *cache)

    # messages name the student's functions, not these wrappers
    im2col_forward.__name__, im2col_backward.__name__ = forward.__name__, backward.__name__
    return im2col_forward, im2col_backward


def exercise_reports(exercise, function, case):
    """The GradcheckReports that grade ``function``, a student's ``exercise``, on ``case``.

    A forward: check_forward against minicnn's forward, then a gradient check with
    minicnn's backward. A backward: a gradient check with minicnn's forward. Strict:
    the sweeps' inputs have no kinks, so none may be skipped.
    """
    reference = [getattr(functional, name) for name in exercise.pair]
    if exercise.role == "forward":
        forward, backward = pair(exercise.operation, function, reference[1])
        outputs = case.check_forward(forward, pair(exercise.operation, *reference)[0])
        outputs.name = f"your {exercise.function} against minicnn's"
        gradients = case.check(forward, backward, strict=True)
        gradients.name = f"your {exercise.function} with minicnn's {exercise.partner}"
        return [outputs, gradients]
    forward, backward = pair(exercise.operation, reference[0], function)
    gradients = case.check(forward, backward, strict=True)
    gradients.name = f"minicnn's {exercise.partner} with your {exercise.function}"
    return [gradients]


@dataclass
class CaseResult:
    """One case of a function's sweep: the failures of each check that failed, by check title
    ([(title, {tensor or problem: why})]), or the error the case raised."""
    case: str
    failures: list = field(default_factory=list)
    error: str = ""

    @property
    def passed(self):
        return not self.failures and not self.error


@dataclass
class FunctionResult:
    """A function's grade: its cases, or the ``error`` that kept it from being graded."""
    exercise: object
    cases: list = field(default_factory=list)
    error: str = ""

    @property
    def passed_cases(self):
        return sum(case.passed for case in self.cases)

    @property
    def score(self):
        if self.error or not self.cases:
            return 0.0
        return self.exercise.points * self.passed_cases / len(self.cases)

    def to_dict(self):
        return {"function": self.exercise.function, "error": self.error,
                "cases": [{"case": case.case, "failures": case.failures, "error": case.error}
                          for case in self.cases]}

    @classmethod
    def from_dict(cls, data):
        exercise = next(exercise for exercise in EXERCISES
                        if exercise.function == data["function"])
        cases = [CaseResult(case["case"], [tuple(failure) for failure in case["failures"]],
                            case["error"]) for case in data["cases"]]
        return cls(exercise, cases, data["error"])


def grade_case(exercise, function, case, package):
    """The CaseResult of ``function`` on ``case``; whatever the student's code raises fails it."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")   # a verdict comes from values, not from warnings
            reports = exercise_reports(exercise, function, case)
    except (Exception, SystemExit) as error:
        return CaseResult(case.description, error=describe_error(error, package))
    failures = [(f"{report.title} {report.name}", report.failures())
                for report in reports if not report.passed()]
    return CaseResult(case.description, failures)


def grade_function(package, exercise):
    """Grade the student's ``exercise`` in the submission folder ``package``."""
    try:
        function = load_function(package, exercise)
    except SubmissionError as error:
        return FunctionResult(exercise, error=str(error))
    return FunctionResult(exercise, [grade_case(exercise, function, case, package)
                                     for case in standard_cases(exercise.operation)])


def grade_in_process(package, exercises=EXERCISES):
    """[FunctionResult] for each exercise, the student's code run in this process (no time
    limit: see minicnn.course.runner.grade)."""
    return [grade_function(package, exercise) for exercise in exercises]
