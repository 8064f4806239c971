"""The child process of minicnn.course.runner: ``python -m minicnn.course.worker PACKAGE NAME...``.

It grades the named functions of the submission folder PACKAGE in order and
writes, on its own copy of stdout, "ready" once minicnn is imported, then one
JSON line per function (FunctionResult.to_dict). Whatever the student's code
prints goes to /dev/null, so it cannot garble those lines.
"""
import json
import os
import pathlib
import sys

from .exercises import EXERCISES
from .grading import grade_function


def main(argv):
    package, names = pathlib.Path(argv[0]), argv[1:]
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout.flush()
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # the student's prints
    exercises = {exercise.function: exercise for exercise in EXERCISES}
    protocol.write("ready\n")
    protocol.flush()
    for name in names:
        result = grade_function(package, exercises[name])
        protocol.write(json.dumps(result.to_dict()) + "\n")
        protocol.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
