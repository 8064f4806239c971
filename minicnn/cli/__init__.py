"""The command line: ``python -m minicnn evaluate | predict | export | exercises | grade | report``.

One module per command, each with ``add_parser(commands)`` and ``run(arguments)``
(the exit status):

    evaluate.py   score a checkpoint on a folder of class folders
    predict.py    the top classes of photos (files, or folders searched recursively)
    export.py     a checkpoint as ONNX and/or PyTorch, each file checked against minicnn
    exercises.py  write the course's exercises
    grade.py      grade a submission, or a folder of them
    report.py     a run's report.html, or one page comparing runs
    arguments.py  what they share: argparse types that refuse a bad number, --checkpoint,
                  --flip-average, --backend

    exits.py      the exit statuses, and run_command: every failure a user can cause is
                  one line on stderr with its status, never a traceback

Reports go to stdout; with ``--json`` stdout holds exactly one JSON value and
every progress message goes to stderr.
"""
import argparse

from . import evaluate, exercises, export, grade, predict, report
from .exits import run_command

COMMANDS = (evaluate, predict, export, exercises, grade, report)


def main(argv=None):
    """Parse ``argv`` (default: sys.argv[1:]) and run the command -> its exit status."""
    parser = argparse.ArgumentParser(prog="python -m minicnn", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(commands)
    arguments = parser.parse_args(argv)
    if arguments.command == "export" and not (arguments.onnx or arguments.torch):
        parser.error("export needs --onnx OUT.onnx, --torch OUT.pt, or both")
    if arguments.command == "report" and len(arguments.runs) > 1 and arguments.out is None:
        parser.error("report of two or more runs writes one comparison page: name it with --out")
    if arguments.command == "evaluate" and arguments.figure and not arguments.corruptions:
        parser.error("evaluate --figure draws the robustness table: add --corruptions")
    return run_command(lambda: arguments.run(arguments))
