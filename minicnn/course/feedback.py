"""A grade, written out: the text a student reads, the JSON autograders read, a TA's CSV.

Each takes the [FunctionResult] of one submission (minicnn.course.grading).
The JSON has Gradescope's shape (results.json): {"score", "output", "tests":
[{"name", "score", "max_score", "output"}]}. Each names the seed the inputs
were drawn from, so that a grade can be reproduced (``grade --seed``).
A gradebook's cells that a spreadsheet would run as a formula are escaped
(OWASP's CSV-injection rule: a leading =, +, -, @, tab or carriage return
gets a single quote before it).
"""
import csv
import io

from .exercises import EXERCISES

SUMMARY_FUNCTIONS = 4   # a summary line names at most this many functions that lost points


def total(results):
    """(points scored, points possible)."""
    return (sum(result.score for result in results),
            sum(result.exercise.points for result in results))


def function_feedback(result):
    """What a student reads about one function, as lines: how many cases pass, the first
    failing case in full (each failed check, each wrong tensor with its detail and hint), the
    other failing cases grouped by what failed, and the cases that pass, if some fail."""
    if result.error:
        return [f"not graded: {result.error}"]
    lines = [f"{result.passed_cases} of {len(result.cases)} cases pass"]
    failing = [case for case in result.cases if not case.passed]
    if failing:
        first = failing[0]
        lines.append(f"FAIL on {first.case}:" + (f" raised {first.error}" if first.error else ""))
        for title, failures in first.failures:
            lines.append(f"  {title}:")
            for name, reason in failures.items():
                lines += [f"    {name}: " + reason.replace("\n", "\n      ")]
    others = {}   # the other failing cases, grouped by what failed
    for case in failing[1:]:
        what = (("raised the same error" if case.error == first.error else f"raised {case.error}")
                if case.error else
                ", ".join(name for _, failures in case.failures for name in failures))
        others.setdefault(what, []).append(case.case)
    lines += [f"also FAIL on {'; '.join(cases)}: {what}" for what, cases in others.items()]
    if failing and result.passed_cases:   # where a latent bug hides is a clue
        lines.append("passes on " + "; ".join(case.case for case in result.cases if case.passed))
    return "\n".join(lines).split("\n")


def text_report(name, results, seed=None):
    """The report of one submission: per file, each function's points and feedback; the total."""
    scored, possible = total(results)
    lines = [f"{name}: {scored:.2f} / {possible:g} points" + _seed(seed)]
    file = None
    for result in results:
        if result.exercise.file != file:
            file = result.exercise.file
            lines.append(f"  {file}")
        points = f"{result.score:6.2f} / {result.exercise.points:<3g}"
        first, *rest = function_feedback(result)
        lines.append(f"    {result.exercise.function:<32}{points} {first}")
        lines += [f"      {line}" for line in rest]
    lines.append(f"  total: {scored:.2f} / {possible:g}")
    return "\n".join(lines)


def _seed(seed):
    return "" if seed is None else f" (inputs from seed {seed})"


def gradescope(results, seed=None):
    """The autograder's results.json for one submission, as a dict."""
    scored, possible = total(results)
    return {"score": round(scored, 4),
            "output": f"total: {scored:.2f} / {possible:g} points" + _seed(seed),
            "tests": [{"name": f"{result.exercise.file}: {result.exercise.function}",
                       "score": round(result.score, 4), "max_score": result.exercise.points,
                       "output": "\n".join(function_feedback(result))} for result in results]}


def summary(graded):
    """One line per submission, for a TA: the total and the functions that lost points.
    ``graded``: [(name, [FunctionResult])]."""
    width = max(len(name) for name, _ in graded)
    lines = [f"summary: {len(graded)} submissions"]
    for name, results in graded:
        scored, possible = total(results)
        lost = [f"{result.exercise.function} {result.score:.2f}/{result.exercise.points:g}"
                for result in results if result.score < result.exercise.points]
        if len(lost) > SUMMARY_FUNCTIONS:   # the report above has them all
            lost[SUMMARY_FUNCTIONS:] = [f"and {len(lost) - SUMMARY_FUNCTIONS} more"]
        lines.append(f"  {name:<{width}}  {scored:6.2f} / {possible:g}"
                     + (f"   lost points: {', '.join(lost)}" if lost else ""))
    return "\n".join(lines)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text):
    """``text`` as a spreadsheet shows it and never runs it (OWASP: CSV injection)."""
    text = str(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_table(graded, seed=None):
    """A gradebook: one row per submission, its total and each function's points (and the
    seed of the inputs, when given)."""
    functions = [exercise.function for exercise in EXERCISES]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["submission", "score", "max_score"] + functions
                    + (["seed"] if seed is not None else []))
    for name, results in graded:
        by_name = {result.exercise.function: f"{result.score:.4g}" for result in results}
        scored, possible = total(results)
        writer.writerow([csv_cell(cell) for cell in [name, f"{scored:.4g}", f"{possible:g}"]
                         + [by_name.get(function, "") for function in functions]
                         + ([seed] if seed is not None else [])])
    return out.getvalue()
