"""``python -m minicnn exercises``: write the course's exercises into a folder.

    exercises DIR [--force] [--hints none|formula]

A skeleton of minicnn/functional with blanks, a README for students and their
tests (minicnn/course/kit.py).
"""
import pathlib

from .. import course
from ..io.paths import check_output_folder


def add_parser(commands):
    exercises = commands.add_parser(
        "exercises", help="write the course's exercises: minicnn/functional with blanks, a "
                          "README and tests for students")
    exercises.add_argument("folder", metavar="DIR", help="a new or empty folder")
    exercises.add_argument("--force", action="store_true",
                           help="write into a folder that is not empty, overwriting the kit's "
                                "files there (a student's work in functional/ included)")
    exercises.add_argument("--hints", choices=course.HINTS, default="none",
                           help="what the skeleton's docstrings say: 'none' (default) the "
                                "shapes, the quantities and the formula's name; 'formula' "
                                "minicnn's own docstrings, which state each formula (the "
                                "answers)")
    exercises.set_defaults(run=run)


def run(arguments):
    check_output_folder("DIR", arguments.folder)
    written = course.write_kit(arguments.folder, force=arguments.force, hints=arguments.hints)
    folder = pathlib.Path(arguments.folder)
    skeleton = [path for path in written if path.parent.name == "functional"]
    print(f"wrote the exercises to {folder}: README.md, pytest.ini, test_exercises.py and "
          f"functional/ ({len(skeleton)} files; {len(course.EXERCISES)} functions to write, "
          f"{sum(exercise.points for exercise in course.EXERCISES):g} points; hints: "
          f"{arguments.hints})")
    print(f"students read {folder / 'README.md'} and check themselves with `pytest` in "
          f"{folder}; grade with `python -m minicnn grade {folder}`")
    return 0
