"""Your functions, checked as `python -m minicnn grade` checks them. Run `pytest` in this folder.

Each test runs one of your functions on one case of its standard sweep
(minicnn.gradcheck.standard_cases), beside minicnn's other function of the pair
(minicnn.course.exercise_reports): a forward is compared with minicnn's
(check_forward) and gradient-checked with minicnn's backward; a backward is
gradient-checked with minicnn's forward, whose cache it gets (check_functions).
`pytest -k conv2d_backward` runs the tests of one function.
"""
import pathlib

import pytest

from minicnn.course import EXERCISES, exercise_reports, load_function
from minicnn.gradcheck import standard_cases

YOUR_FILES = pathlib.Path(__file__).resolve().parent / "functional"
CASES = [(exercise, case) for exercise in EXERCISES
         for case in standard_cases(exercise.operation)]


@pytest.mark.parametrize("exercise, case", CASES, ids=[
    f"{exercise.function}: {case.description}" for exercise, case in CASES])
def test_function(exercise, case):
    function = load_function(YOUR_FILES, exercise)   # a missing file or function: an error
    for report in exercise_reports(exercise, function, case):
        if not report.passed():
            pytest.fail(str(report), pytrace=False)   # the check's table, and nothing else
