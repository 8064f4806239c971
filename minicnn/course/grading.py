"""Grading a student's functions: each on its sweep, beside minicnn's partner, then the pair.

``grade`` runs the student's code in a child process (minicnn.course.runner)
and does everything else here: it draws the inputs from ``seed``, computes
minicnn's answers, checks what the student's functions return and writes the
verdicts. A function is graded on each case of its operation's sweep
(minicnn.gradcheck.standard_cases) by these checks:

    its half     a forward is compared with minicnn's forward (out, and every field
                 of its cache), and gradient-checked with minicnn's backward, which
                 gets its cache; a backward is gradient-checked with minicnn's
                 forward, whose cache it gets (``exercise_reports``, which the
                 students' own tests run too);
    its types    what it returns is a numpy.ndarray (not a subclass, not an
                 object array; a list stands for a tuple), of the reference's dtype
                 and shape; a backward leaves dout and its cache alone;
    the pair     a backward is also gradient-checked with the student's own
                 forward, on the cache that forward keeps in the child (when that
                 forward was graded before it in the same run and not stopped for
                 time or a crash: ``--only`` a backward grades no pair);
    repeats      after the sweep, each case is called again, twice, in a shuffled
                 order with the shapes interleaved, and each result is compared
                 with minicnn's, call by call: a buffer shared between calls,
                 accumulated into or aliased by a cache shows here.

Attribution: a bug costs exactly the function it is in. The half and the
types involve minicnn's partner only. The pair check is charged to the
backward, and only on a case where the student's forward passes its own
checks: a forward that is right on its own (output and every cache field
equal to minicnn's) and a pair that is wrong together means a backward that
does not compute from its cache alone (it reads a global its forward left, or
takes a path only for its own cache).

Each case is worth an equal share of the function's points. A case that
raises fails with the error and the student's line it came from; a file that
cannot be imported or lacks the function scores 0 for that function only.
"""
import ast
import inspect
import random
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .. import functional
from ..gradcheck import GradcheckReport, standard_cases
from ..gradcheck.checks import _argument_names
from ..gradcheck.report import Comparison
from . import worker
from .exercises import EXERCISES, FILES, LEFT_OUT, SOURCE_FOLDER
from .runner import DEFAULT_TIMEOUT, Child, ChildFailed
from .submission import describe_error

MESSAGE_LIMIT = 2000       # characters of one failure message in a report
# Values compared with minicnn's (a forward's output and cache, repeated calls) may differ by
# float32's round-off: a function computed in float32 inside is right. Gradients checked
# against central differences keep the 1e-6 of float64, and a failure below this
# says "float32 inside?".
REFERENCE_TOLERANCE = 1e-4
REPEATS = 2                # calls of each case in the repeat pass


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
        forward, backward = pair(exercise.operation, function, _resolving(reference[1]))
        reference_forward = pair(exercise.operation, *reference)[0]
        outputs = case.check_forward(forward, reference_forward, tolerance=REFERENCE_TOLERANCE)
        outputs.name = f"your {exercise.function} against minicnn's"
        # the numerical side differentiates minicnn's forward: the check is of the cache, and
        # a forward computed in float32 inside must not be blamed on its round-off
        gradients = case.check(_with_reference_output(forward, reference_forward), backward,
                               strict=True)
        gradients.name = f"your {exercise.function} with minicnn's {exercise.partner}"
        return [outputs, gradients]
    forward, backward = pair(exercise.operation, reference[0], function)
    gradients = case.check(forward, backward, strict=True)
    gradients.name = f"minicnn's {exercise.partner} with your {exercise.function}"
    return [gradients]


def _with_reference_output(forward, reference, student_calls=2):
    """(``reference``'s out, ``forward``'s cache) for the first ``student_calls`` calls, then
    (reference's out, None). A gradient check runs its forward twice (is the input left alone?
    is it deterministic?), gives the second cache to backward, and then differentiates the
    output only: the student's forward need not run for each of those nudges."""
    calls = [0]

    def forward_with_reference_output(*args, **kwargs):
        out, _ = reference(*_copies(args), **_copies(kwargs))   # before the student's code
        calls[0] += 1
        if calls[0] > student_calls:
            return out, None
        _, cache = forward(*args, **kwargs)
        return out, cache
    forward_with_reference_output.__name__ = forward.__name__
    forward_with_reference_output.__signature__ = inspect.signature(reference)
    return forward_with_reference_output


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


# --- the student's functions, in the child --------------------------------------------------

class StudentError(Exception):
    """What the student's function raised in the child, or returned that cannot be graded."""


class RemoteCache:
    """A cache the student's forward returned, kept in the child until something reads it."""

    def __init__(self, function, handle):
        self.function, self.handle = function, handle

    def resolve(self):
        return self.function.fetch(self.handle)


class RemoteFunction:
    """The student's function ``name`` in the child, called as if it were here, within the
    function's deadline. A forward (``keeps_cache``) returns (out, RemoteCache)."""

    def __init__(self, child, name, deadline, keeps_cache=False):
        self.child, self.__name__, self.deadline = child, name, deadline
        self.keeps_cache = keeps_cache
        # the checks name gradients after the parameters: "dx", "dweight"
        self.__signature__ = inspect.signature(getattr(functional, name))

    def __call__(self, *args, **kwargs):
        """As a call here would: the arrays it changed in place are changed here too (the
        checks see a forward that writes into x, a backward that writes into dout)."""
        reply = self._call(args, kwargs, keep="cache" if self.keeps_cache else None,
                           return_args=True)
        returned = reply.get("args")
        if isinstance(returned, list) and len(returned) == len(args):
            for original, after in zip(args, returned):
                _write_back(original, self._value(after))
        if "out" in reply:
            return self._value(reply["out"]), RemoteCache(self, reply["handle"])
        return self._value(reply["result"])

    def keep(self, *args, **kwargs):
        """Call it, keep the whole result in the child -> its handle (``fetch`` reads it)."""
        return self._call(args, kwargs, keep="all")["handle"]

    def call_returning_args(self, *args, **kwargs):
        """-> (the result, the arguments as the call left them)."""
        reply = self._call(args, kwargs, return_args=True)
        return (self._value(reply["result"]),
                [self._value(value) for value in reply.get("args", [])])

    def fetch(self, handle):
        return self._value(self._request({"op": "fetch", "handle": handle})["result"])

    def _call(self, args, kwargs, keep=None, return_args=False):
        message = {"op": "call", "function": self.__name__, "keep": keep,
                   "args": [_encode(value) for value in args],
                   "kwargs": {name: _encode(value) for name, value in kwargs.items()},
                   "return_args": return_args}
        reply = self._request(message)
        if "error" in reply:
            raise StudentError(str(reply["error"]))
        if not ("result" in reply or "handle" in reply):
            raise worker.ProtocolError("a reply without a result")
        return reply

    def _request(self, message):
        reply = self.child.request(message, max(self.deadline - time.monotonic(), 0.0))
        return reply

    def _value(self, data):
        try:
            value = worker.decode(data, _reference_record)
        except worker.ProtocolError as error:
            raise ChildFailed(f"it broke the grader's protocol ({error})", "protocol") from None
        unsupported = _unsupported(value)
        if unsupported:
            raise StudentError(f"{self.__name__} returned {unsupported}: return numpy arrays "
                               "(numpy.ndarray itself, of a number dtype)")
        return value


def _write_back(original, after):
    """Copy what the child's call left in an argument into the parent's ``original``."""
    if type(original) is np.ndarray and type(after) is np.ndarray:
        if after.shape == original.shape and original.flags.writeable:
            np.copyto(original, after, casting="unsafe")
    elif isinstance(original, tuple) and isinstance(after, (tuple, list)) \
            and len(original) == len(after):
        for inner, inner_after in zip(original, after):
            _write_back(inner, inner_after)


def _encode(value):
    if isinstance(value, RemoteCache):
        return {"handle": value.handle}
    return worker.encode(value)


def _unsupported(value):
    if isinstance(value, worker.Unsupported):
        return value.what
    if isinstance(value, worker.Handle):
        return "a handle"
    if isinstance(value, (tuple, list)):
        return next((found for found in map(_unsupported, value) if found), "")
    return ""


_CACHE_CLASSES = {name: value for module in (functional.conv, functional.pool, functional.dense,
                                             functional.batchnorm, functional.loss)
                  for name, value in vars(module).items()
                  if isinstance(value, type) and hasattr(value, "_fields")}


def _reference_record(name, fields):
    """minicnn's cache class of that name and fields (its backward may need the class), or a
    namedtuple."""
    known = _CACHE_CLASSES.get(name)
    if known is not None and known._fields == fields:
        return known
    return worker._namedtuple(name, fields)


def _resolving(backward):
    """minicnn's ``backward``, first fetching a cache kept in the child."""
    def resolved(dout, cache, *rest):   # col2im takes its "cache" as five arguments
        return backward(dout, cache.resolve() if isinstance(cache, RemoteCache) else cache,
                        *rest)
    resolved.__name__ = backward.__name__
    return resolved


# --- what a student's file may use of minicnn's ------------------------------------------

def _references():
    """{module stem: minicnn's source}, read once, before any student code runs."""
    return {file[:-3]: (SOURCE_FOLDER / file).read_text(encoding="utf-8") for file in FILES}


REFERENCES = _references()


def guarded_names(file):
    """{sibling stem: the functions of minicnn's sibling file that ``file`` may not call}: every
    exercise and LEFT_OUT function, except those minicnn's own ``file`` imports from it (conv.py
    calls im2col and col2im)."""
    imported = {}
    for node in ast.parse(REFERENCES[file[:-3]]).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            imported.setdefault(node.module, set()).update(alias.name for alias in node.names)
    answers = {exercise.function for exercise in EXERCISES} | set(LEFT_OUT)
    guarded = {}
    for stem, source in REFERENCES.items():
        defined = {node.name for node in ast.parse(source).body
                   if isinstance(node, ast.FunctionDef)}
        guarded[stem] = sorted((defined & answers) - imported.get(stem, set()))
    return guarded


# --- grading ------------------------------------------------------------------------------

def grade(package, exercises=EXERCISES, timeout=DEFAULT_TIMEOUT, seed=0):
    """[FunctionResult] for each exercise of the submission folder ``package``, the student's
    code run in a child process, each function within ``timeout`` seconds, on inputs drawn
    from ``seed``. One child grades the functions one after the other; a function that kills
    it, hangs or breaks the protocol scores 0 with that said, and a fresh child grades the
    functions after it (a broken protocol fails the rest of the submission too)."""
    results, child = [], None
    pending = list(exercises)
    broken = ""
    try:
        while pending:
            exercise = pending.pop(0)
            if broken:
                results.append(FunctionResult(exercise, error=broken))
                continue
            try:
                if child is None:
                    child = Child(package, REFERENCES)
                # the pair check needs the student's forward, graded here without a stop
                partner = next((result for result in results
                                if result.exercise.function == exercise.partner), None)
                results.append(grade_function(child, exercise, timeout, seed, partner))
            except ChildFailed as failure:
                child = None
                if failure.kind == "timeout":
                    reason = (f"no result within {timeout:g} s: an endless loop? (grading "
                              "stopped it; the functions after it were graded in a fresh "
                              "process)")
                elif failure.kind == "died":
                    reason = str(failure)
                else:
                    reason = f"{failure}: this submission's functions score 0"
                    broken = (f"{exercise.function} broke the grader's protocol "
                              "before it")
                results.append(FunctionResult(exercise, error=_capped(reason)))
    finally:
        if child is not None:
            child.stop()
    return results


def grade_function(child, exercise, timeout=DEFAULT_TIMEOUT, seed=0, partner=None):
    """Grade the student's ``exercise`` with ``child`` (a fresh load of its file); a backward
    also with the student's own forward, on the cases that forward passed (``partner``: its
    FunctionResult in this run, on the same seed; None: no pair check)."""
    with_pair = (exercise.role == "backward" and partner is not None and not partner.error
                 and any(case.passed for case in partner.cases))
    deadline = time.monotonic() + timeout
    names = [exercise.function]
    if exercise.role == "backward" and with_pair:
        names.append(exercise.partner)   # the student's own forward, for the pair check
    reply = child.request({"op": "load", "file": exercise.file, "functions": names,
                           "guarded": guarded_names(exercise.file)}, timeout)
    if "error" in reply:
        return FunctionResult(exercise, error=_capped(str(reply["error"])))
    missing = reply.get("missing") if isinstance(reply.get("missing"), dict) else {}
    if exercise.function in missing:
        return FunctionResult(exercise, error=_capped(str(missing[exercise.function])))
    keeps = exercise.role == "forward" and exercise.operation != "im2col"
    function = RemoteFunction(child, exercise.function, deadline, keeps_cache=keeps)
    own_forward = None
    if exercise.role == "backward" and with_pair and exercise.partner not in missing:
        own_forward = RemoteFunction(child, exercise.partner, deadline,
                                     keeps_cache=exercise.operation != "im2col")
    cases = standard_cases(exercise.operation, seed=seed)
    forward_ok = ([case.passed for case in partner.cases] if own_forward is not None
                  else [False] * len(cases))
    results = [grade_case(exercise, function, case, own_forward if ok else None)
               for case, ok in zip(cases, forward_ok)]
    rounds = [standard_cases(exercise.operation, seed=seed + k) for k in range(1, REPEATS + 1)]
    _repeat(exercise, function, rounds, results, random.Random(seed))
    if own_forward is not None and exercise.operation != "im2col":
        _repeat_pairs(exercise, own_forward, function, rounds, results, forward_ok,
                      random.Random(seed + 1))
    return FunctionResult(exercise, results)


def grade_case(exercise, function, case, own_forward=None):
    """The CaseResult of ``function`` on ``case``; whatever the student's code raises fails it.
    ``own_forward``: the student's forward, which passes on ``case``, for the pair check."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")   # a verdict comes from values, not from warnings
            reports = exercise_reports(exercise, function, case)
            reports.append(contract_report(exercise, function, case))
            if own_forward is not None and all(report.passed() for report in reports):
                reports += pair_reports(exercise, own_forward, function, case)
    except (Exception, SystemExit) as error:
        if isinstance(error, ChildFailed):
            raise
        return CaseResult(case.description, error=_describe(error))
    failures = [(f"{report.title} {report.name}", _explained(report))
                for report in reports if not report.passed()]
    return CaseResult(case.description, failures)


def _explained(report):
    """{name: why} of a failed report, capped, with float32's round-off named where it fits."""
    failures = {}
    for name, reason in report.failures().items():
        comparison = report.comparisons.get(name)
        if comparison is not None and 0 < comparison.error < REFERENCE_TOLERANCE:
            reason += (f"\nfloat32 inside? A largest relative error of {comparison.error:.2g} "
                       "is float32's round-off, not a wrong formula: the grader needs float64 "
                       "throughout (no astype(float32) inside)")
        failures[name] = _capped(reason)
    return failures


def contract_report(exercise, function, case):
    """What the function returns on ``case``, checked as minicnn's callers need it: numpy
    arrays of the reference's type, dtype and shape; a forward's every cache field equal to
    minicnn's; a backward that leaves dout and its cache alone."""
    report = GradcheckReport(f"your {exercise.function}", np.float64, title="contract of")
    forward_ref, backward_ref = pair(exercise.operation,
                                     *[getattr(functional, name) for name in exercise.pair])
    args, kwargs = _copies(case.args), _copies(case.kwargs)
    out_ref, cache_ref = forward_ref(*_copies(args), **_copies(kwargs))
    if exercise.role == "forward":
        student_forward = pair(exercise.operation, _plain(function), backward_ref)[0]
        returned = student_forward(*args, **kwargs)
        if not (isinstance(returned, (tuple, list)) and len(returned) == 2):
            report.add_problem("result", f"returned {_kind(returned)}, not (out, cache)")
            return report
        out, cache = returned
        _same_array(report, "out", out, out_ref)
        if exercise.operation != "im2col":
            for problem in _cache_differences(cache, cache_ref, "cache"):
                report.add_problem(problem[0], problem[1])
        return report
    dout = np.random.default_rng(1).standard_normal(np.shape(out_ref))
    gradients_ref = backward_ref(dout.copy(), cache_ref)
    if exercise.operation == "im2col":
        returned, given = function.call_returning_args(dout.copy(), *cache_ref)
        given_dout, given_cache = given[0], tuple(given[1:])
    else:
        returned, given = function.call_returning_args(dout.copy(), cache_ref)
        given_dout, given_cache = given
    expected = gradients_ref if isinstance(gradients_ref, tuple) else (gradients_ref,)
    got = tuple(returned) if isinstance(returned, (tuple, list)) else (returned,)
    if len(got) != len(expected):
        report.add_problem("result", f"returned {len(got)} gradients, expected {len(expected)}")
        return report
    names = _gradient_names(exercise, len(expected))
    for name, value, reference in zip(names, got, expected):
        if reference is None:
            if value is not None:
                report.add_problem(name, "must be None (the argument was None)")
        else:
            _same_array(report, name, value, reference)
    if exercise.operation != "im2col":
        for problem in _cache_differences(given_cache, cache_ref, "cache", exact=True):
            report.add_problem(problem[0], f"backward changed its cache in place: {problem[1]}"
                                           " (the caller reads it after backward)")
    return report


def pair_reports(exercise, own_forward, function, case):
    """The gradient check of the student's own forward with the student's backward."""
    forward, backward = pair(exercise.operation, own_forward, function)
    reference = pair(exercise.operation,
                     *[getattr(functional, name) for name in exercise.pair])[0]
    report = case.check(_with_reference_output(forward, reference), backward, strict=True)
    report.name = f"your {exercise.partner} with your {exercise.function}"
    return [report]


def _repeat(exercise, function, rounds, results, rng):
    """Call ``function`` on each case of each round (the sweep's shapes, fresh values) in a
    shuffled order, keeping every result in the child until all calls are made; fail a case
    whose result on any call differs from minicnn's."""
    calls = [(number, index) for number in range(len(rounds)) for index in range(len(results))]
    rng.shuffle(calls)
    forward_ref, backward_ref = pair(exercise.operation,
                                     *[getattr(functional, name) for name in exercise.pair])
    plain = _plain(function)
    kept, expected = [], []
    with np.errstate(all="ignore"):
        for number, index in calls:
            case = rounds[number][index]
            out_ref, cache_ref = forward_ref(*_copies(case.args), **_copies(case.kwargs))
            if exercise.role == "forward":
                kept.append(_attempt(plain.keep, *_copies(case.args), **_copies(case.kwargs)))
                expected.append((out_ref, cache_ref))
            else:
                dout = np.random.default_rng([number, index]).standard_normal(np.shape(out_ref))
                arguments = cache_ref if exercise.operation == "im2col" else (cache_ref,)
                kept.append(_attempt(plain.keep, dout, *arguments))
                gradients = backward_ref(dout.copy(), cache_ref)
                expected.append(gradients if isinstance(gradients, tuple) else (gradients,))
    got = [_fetched(plain, handle) for handle in kept]
    _compare_calls(exercise, calls, rounds, got, expected, results, f"your {exercise.function}")


def _repeat_pairs(exercise, own_forward, function, rounds, results, forward_ok, rng):
    """The student's forward on every case of every round, its caches kept in the child, then
    the student's backward on each cache in another shuffled order: a backward that computes
    from something other than its cache (a global its forward left) fails here. Charged to the
    backward only on the cases where the student's forward passes."""
    calls = [(number, index) for number in range(len(rounds)) for index in range(len(results))
             if forward_ok[index]]
    rng.shuffle(calls)
    forward_ref, backward_ref = pair(exercise.operation,
                                     *[getattr(functional, name) for name in exercise.pair])
    plain = _plain(function)
    caches, expected = {}, []
    try:
        for call in calls:
            case = rounds[call[0]][call[1]]
            caches[call] = own_forward(*_copies(case.args), **_copies(case.kwargs))[1]
    except StudentError:
        return   # the forward raised on fresh values: its own grade says so
    order = list(calls)
    rng.shuffle(order)
    kept = []
    with np.errstate(all="ignore"):
        for number, index in order:
            case = rounds[number][index]
            out_ref, cache_ref = forward_ref(*_copies(case.args), **_copies(case.kwargs))
            dout = np.random.default_rng([number, index, 1]).standard_normal(np.shape(out_ref))
            kept.append(_attempt(plain.keep, dout, caches[number, index]))
            gradients = backward_ref(dout.copy(), cache_ref)
            expected.append(gradients if isinstance(gradients, tuple) else (gradients,))
    got = [_fetched(plain, handle) for handle in kept]
    _compare_calls(exercise, order, rounds, got, expected, results,
                   f"your {exercise.partner}, then your {exercise.function} on its caches,")


def _attempt(call, *args, **kwargs):
    """call(*args, **kwargs), or the StudentError it raised."""
    try:
        return call(*args, **kwargs)
    except StudentError as error:
        return error


def _fetched(function, handle):
    return handle if isinstance(handle, StudentError) else _attempt(function.fetch, handle)


def _compare_calls(exercise, calls, rounds, got, expected, results, who):
    """Fail each case (of ``results``) on which a call's result differs from minicnn's."""
    description = " -> ".join(rounds[number][index].description.split(",")[0]
                              for number, index in calls)
    for call, ((number, index), value, reference) in enumerate(zip(calls, got, expected), 1):
        if not results[index].passed:
            continue
        problems = ([("raised", str(value))] if isinstance(value, StudentError)
                    else _repeat_differences(exercise, value, reference))
        if problems:
            results[index].failures.append((f"repeated calls of {who}", {
                name: _capped(f"call {call} of {len(calls)} (cases in the order {description}, "
                              f"fresh values) differs from minicnn's: {reason}. Does it keep "
                              "state between calls (a buffer shared, accumulated into, or "
                              "aliased by a cache; a global)?")
                for name, reason in problems}))


def _repeat_differences(exercise, value, reference):
    if exercise.role == "forward":
        if exercise.operation == "im2col":
            return [(name, reason) for name, reason in _array_difference("out", value,
                                                                         reference[0])]
        if not (isinstance(value, (tuple, list)) and len(value) == 2):
            return [("result", f"returned {_kind(value)}")]
        return (_array_difference("out", value[0], reference[0])
                + _cache_differences(value[1], reference[1], "cache"))
    got = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(got) != len(reference):
        return [("result", f"returned {len(got)} gradients")]
    problems = []
    for name, each, expected in zip(_gradient_names(exercise, len(reference)), got, reference):
        if expected is not None:
            problems += _array_difference(name, each, expected)
    return problems


def _gradient_names(exercise, count):
    forward = getattr(functional, exercise.pair[0])
    wrt = standard_cases(exercise.operation)[0].wrt
    names = _argument_names(forward, max(wrt) + 1)
    return ["d" + names[position] for position in wrt][:count]


def _same_array(report, name, value, reference):
    """Type, dtype and shape of ``value`` as the reference's: a problem in ``report`` if not."""
    kind = _array_kind(value, reference)
    if kind:
        report.add_problem(name, kind)


def _array_kind(value, reference):
    scalar_ok = isinstance(reference, np.generic)
    if scalar_ok and isinstance(value, np.generic) or type(value) is np.ndarray:
        if value.dtype != reference.dtype:
            hint = " (float32 inside?)" if value.dtype == np.float32 else ""
            return f"dtype {value.dtype}, but minicnn's is {reference.dtype}{hint}"
        if np.shape(value) != np.shape(reference):
            return f"shape {np.shape(value)}, but minicnn's is {np.shape(reference)}"
        return ""
    return (f"is {_kind(value)}, not a numpy.ndarray of dtype {reference.dtype}")


def _array_difference(name, value, reference, exact=False):
    """[(name, why)] where ``value`` is not ``reference`` (values to 1e-6 relatively)."""
    if reference is None or not isinstance(reference, (np.ndarray, np.generic)):
        same = (value == reference or (isinstance(value, (tuple, list))
                                       and isinstance(reference, (tuple, list))
                                       and list(value) == list(reference)))
        return [] if same else [(name, f"{value!r:.80}, but minicnn's is {reference!r:.80}")]
    if not isinstance(value, (np.ndarray, np.generic)):
        return [(name, f"is {_kind(value)}")]
    if np.shape(value) != np.shape(reference):
        return [(name, f"shape {np.shape(value)}, but minicnn's is {np.shape(reference)}")]
    got = np.asarray(value, dtype=np.float64)
    expected = np.asarray(reference, dtype=np.float64)
    if exact:
        changed = ~((got == expected) | (np.isnan(got) & np.isnan(expected)))
        return [(name, f"changed at {int(changed.sum())} of {changed.size} entries")] \
            if changed.any() else []
    comparison = Comparison(name, got, expected, np.ones(got.shape, bool),
                            tolerance=REFERENCE_TOLERANCE, roles=("yours", "minicnn's"))
    reason = comparison.failure(comparison.tolerance)
    return [] if reason is None else [(name, reason.split("\n")[0])]


def _cache_differences(cache, reference, path, exact=False):
    """[(cache.field, why)] for each field of minicnn's cache that the student's differs in."""
    if hasattr(type(reference), "_fields"):
        fields = getattr(type(cache), "_fields", None)
        if fields is None:
            return [(path, f"is {_kind(cache)}, not minicnn's {type(reference).__name__}")]
        problems = []
        for name in reference._fields:
            if name not in fields:
                problems.append((f"{path}.{name}", "is missing"))
            else:
                problems += _cache_differences(getattr(cache, name), getattr(reference, name),
                                               f"{path}.{name}", exact)
        return problems
    return _array_difference(path, cache, reference, exact)


def _kind(value):
    if isinstance(value, np.ndarray):
        return f"a {type(value).__name__} of dtype {value.dtype}"
    return f"a {type(value).__name__}" if value is not None else "None"


def _plain(function):
    """The function as called outside the gradient checks (its cache crossing whole)."""
    if isinstance(function, RemoteFunction):
        return RemoteFunction(function.child, function.__name__, function.deadline)
    return function


def _copies(values):
    if isinstance(values, dict):
        return {name: value.copy() if isinstance(value, np.ndarray) else value
                for name, value in values.items()}
    return [value.copy() if isinstance(value, np.ndarray) else value for value in values]


def _describe(error):
    if isinstance(error, StudentError):
        return _capped(str(error))
    return _capped(describe_error(error, SOURCE_FOLDER.parent / "<no student file here>"))


def _capped(text, limit=MESSAGE_LIMIT):
    text = str(text)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} characters)"
