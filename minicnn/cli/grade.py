"""``python -m minicnn grade``: grade a student's functions, or a folder of submissions.

    grade DIR [--json] [--csv FILE] [--only NAME ...] [--timeout S] [--seed N]

DIR is one submission, or a folder with one submission per subfolder
(minicnn/course/). Every path is resolved, and the --csv file checked, before
any student's code runs; the students' code runs in child processes that
cannot reach the results (minicnn/course/runner.py).
"""
import json
import pathlib
import secrets
import sys

from .. import course
from ..io.atomic import atomic_write_text
from ..io.paths import check_outputs
from .arguments import integer, number


def add_parser(commands):
    grade = commands.add_parser(
        "grade", help="grade a student's functions, or a folder of submissions",
        description="Grade the functions of a submission on the standard sweeps of "
                    "minicnn.gradcheck, each beside minicnn's other function of its pair. "
                    "DIR is one submission (DIR/functional/*.py, or the files in DIR itself), "
                    "or a folder with one submission per subfolder. The students' code runs "
                    "in a child process that only returns arrays: every check and every "
                    "result is this process's. The child still has your rights (files, "
                    "network): grade code you do not trust inside a container or a virtual "
                    "machine (docs/gradcheck.md, 'What grading protects').")
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
                       help="the most one function's grading may take; a submission takes at "
                            "most this times its number of functions, plus a child's start "
                            "(default: %(default)g)")
    grade.add_argument("--seed", type=integer(at_least=0, at_most=2 ** 63 - 1), metavar="N",
                       help="draw the inputs from this seed, to grade again as before "
                            "(default: a fresh seed, printed and named in every report)")
    grade.set_defaults(run=run)


def run(arguments):
    check_outputs([("--csv", arguments.csv)], inputs=[("DIR", arguments.folder)])
    folder = pathlib.Path(arguments.folder)
    # resolved before any student's code runs: its os.chdir changes none of these
    submissions = [(name, package.resolve())
                   for name, package in course.find_submissions(folder.resolve())]
    if course.is_submission(folder):
        submissions = [(arguments.folder, submissions[0][1])]   # named as given
    gradebook = None if arguments.csv is None else arguments.csv.resolve()
    seed = secrets.randbelow(2 ** 31) if arguments.seed is None else arguments.seed
    print(f"inputs drawn from seed {seed} (grade again with --seed {seed} to reproduce)",
          file=sys.stderr, flush=True)
    several = not course.is_submission(folder)
    exercises = [exercise for exercise in course.EXERCISES
                 if not arguments.only or exercise.function in arguments.only]
    graded = []
    for index, (name, package) in enumerate(submissions, start=1):
        if several:
            print(f"grading {name} ({index} of {len(submissions)})", file=sys.stderr, flush=True)
        results = course.grade(package, exercises, timeout=arguments.timeout, seed=seed)
        graded.append((name, results))
        if not arguments.json:
            print(course.text_report(name, results, seed) + "\n", flush=True)
        if gradebook:   # rewritten after each submission: an interruption keeps the rest
            atomic_write_text(gradebook, course.csv_table(graded, seed))
    if arguments.json and several:
        print(json.dumps({"seed": seed, "submissions": [
            dict(name=name, **course.gradescope(results, seed)) for name, results in graded]},
            indent=2))
    elif arguments.json:
        print(json.dumps(course.gradescope(graded[0][1], seed), indent=2))
    elif several:
        print(course.summary(graded))
    return 0
