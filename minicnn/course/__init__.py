"""The course kit: exercises with blanks, the students' own checks, and grading.

    python -m minicnn exercises DIR      write the students' kit (write_kit)
    python -m minicnn grade DIR          grade a submission, or a folder of them (grade)

    exercises.py    which functions a student writes (EXERCISES), and their skeleton
    statements.py   what the skeleton says of each at the default hint level (no formula)
    kit.py          the kit: the skeleton, a README, the students' tests
    submission.py   finding submissions; loading each student file on its own
    grading.py      a function graded on its sweep beside minicnn's partner, then the pair
    runner.py       the child process that runs the student's code, and its end
    worker.py       that child: it calls the student's functions and grades nothing
    feedback.py     a grade as text, as Gradescope's JSON, as a CSV gradebook

Grading runs the student's code. docs/gradcheck.md is the course guide.
"""
from .exercises import EXERCISES, HINTS, Exercise, skeleton_source
from .feedback import csv_table, gradescope, summary, text_report
from .grading import CaseResult, FunctionResult, exercise_reports, grade, grade_function, pair
from .kit import KitError, write_kit
from .runner import DEFAULT_TIMEOUT
from .submission import (SubmissionError, find_submissions, is_submission, load_file,
                         load_function)

__all__ = ["EXERCISES", "HINTS", "Exercise", "skeleton_source", "write_kit", "KitError",
           "find_submissions", "is_submission", "load_file", "load_function", "SubmissionError",
           "exercise_reports", "pair", "grade_function", "grade",
           "DEFAULT_TIMEOUT", "FunctionResult", "CaseResult", "text_report", "gradescope",
           "summary", "csv_table"]
