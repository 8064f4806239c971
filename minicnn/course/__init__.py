"""The course kit: exercises with blanks, the students' own checks, and grading.

    exercises.py    which functions a student writes (EXERCISES), and their skeleton
    submission.py   finding submissions; loading each student file on its own
    grading.py      a function graded on its standard sweep beside minicnn's partner

Grading runs the student's code.
"""
from .exercises import EXERCISES, Exercise, skeleton_source
from .grading import (CaseResult, FunctionResult, exercise_reports, grade_function,
                      grade_in_process, pair)
from .submission import (SubmissionError, find_submissions, is_submission, load_file,
                         load_function)

__all__ = ["EXERCISES", "Exercise", "skeleton_source", "find_submissions", "is_submission",
           "load_file", "load_function", "SubmissionError", "exercise_reports", "pair",
           "grade_function", "grade_in_process", "FunctionResult", "CaseResult"]
