"""``python -m minicnn grade``: grade a student's functions, or a folder of submissions.

    grade DIR [--json] [--csv FILE] [--only NAME ...] [--timeout S]

DIR is one submission, or a folder with one submission per subfolder
(minicnn/course/).
"""
import json
import pathlib
import sys

from .. import course
from ..io.atomic import atomic_write_text
from ..io.paths import check_outputs
from .arguments import number


def add_parser(commands):
    grade = commands.add_parser(
        "grade", help="grade a student's functions, or a folder of submissions",
        description="Grade the functions of a submission on the standard sweeps of "
                    "minicnn.gradcheck, each beside minicnn's other function of its pair. "
                    "DIR is one submission (DIR/functional/*.py, or the files in DIR itself), "
                    "or a folder with one submission per subfolder. This runs the students' "
                    "code, as every autograder does, in a child process with a time limit per "
                    "function but with your rights: grade code you do not trust inside a "
                    "container or a virtual machine.")
    grade.add_argument("folder", metavar="DIR")
    grade.add_argument("--json", action="store_true",
                       help="print one JSON object: Gradescope's results.json for one "
                            "submission, {\"submissions\": [...]} for a folder")
    grade.add_argument("--csv", metavar="FILE", type=pathlib.Path,
                       help="also write a gradebook: one row per submission, each function's "
                            "points")
    grade.add_argument("--only", nargs="+", metavar="FUNCTION",
                       choices=[exercise.function for exercise in course.EXERCISES],
                       help="grade only these functions (default: all)")
    grade.add_argument("--timeout", type=number(greater_than=0), default=course.DEFAULT_TIMEOUT,
                       metavar="SECONDS",
                       help="the most a function's grading may take (default: %(default)g)")
    grade.set_defaults(run=run)


def run(arguments):
    check_outputs([("--csv", arguments.csv)], inputs=[("DIR", arguments.folder)])
    submissions = course.find_submissions(arguments.folder)
    several = not course.is_submission(arguments.folder)
    exercises = [exercise for exercise in course.EXERCISES
                 if not arguments.only or exercise.function in arguments.only]
    graded = []
    for index, (name, package) in enumerate(submissions, start=1):
        if several:
            print(f"grading {name} ({index} of {len(submissions)})", file=sys.stderr, flush=True)
        results = course.grade(package, exercises, timeout=arguments.timeout)
        graded.append((name, results))
        if not arguments.json:
            print(course.text_report(name, results) + "\n", flush=True)
        if arguments.csv:   # rewritten after each submission: an interruption keeps the rest
            atomic_write_text(arguments.csv, course.csv_table(graded))
    if arguments.json and several:
        print(json.dumps({"submissions": [dict(name=name, **course.gradescope(results))
                                          for name, results in graded]}, indent=2))
    elif arguments.json:
        print(json.dumps(course.gradescope(graded[0][1]), indent=2))
    elif several:
        print(course.summary(graded))
    return 0
