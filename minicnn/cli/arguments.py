"""What the command lines share: argparse types that refuse a bad number before any data loads,
and the options every command that reads a checkpoint takes.

    parser.add_argument("--epochs", type=limited("epochs"))     # the rule of minicnn/limits.py
    parser.add_argument("--top", type=integer(at_least=1))
    parser.add_argument("--val-fraction", type=number(greater_than=0, less_than=1))

A bad value stops the command at once with argparse's usage message and exit
status 2, naming the option, the rule and the value:

    error: argument --epochs: must be an integer >= 1, got 0

``number`` never takes NaN or infinity (``float("nan")`` parses, and passes
every comparison check written the wrong way round).
"""
import argparse
import math
import os

from ..backend import BACKEND_NAMES, command_line_backend
from ..data.corruptions import SEVERITIES
from ..limits import LIMITS


def integer(at_least=None, at_most=None):
    """An argparse type: an integer within the bounds given."""
    rule = "an integer" + bounds(at_least=at_least, at_most=at_most)

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}") from None
        if (at_least is not None and value < at_least) or (at_most is not None and value > at_most):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {value}")
        return value
    return parse


def number(at_least=None, greater_than=None, less_than=None, at_most=None):
    """An argparse type: a finite float within the bounds given."""
    rule = "a finite number" + bounds(at_least=at_least, greater_than=greater_than,
                                      less_than=less_than, at_most=at_most)

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}") from None
        inside = (math.isfinite(value)
                  and (at_least is None or value >= at_least)
                  and (greater_than is None or value > greater_than)
                  and (less_than is None or value < less_than)
                  and (at_most is None or value <= at_most))
        if not inside:
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value
    return parse


def limited(name):
    """The argparse type of hyperparameter ``name``: its rule in minicnn/limits.py, LIMITS."""
    rule = LIMITS[name]
    if rule.integer:
        return integer(at_least=rule.at_least, at_most=rule.at_most)
    return number(at_least=rule.at_least, greater_than=rule.greater_than,
                  less_than=rule.less_than, at_most=rule.at_most)


def severity_list(text):
    """An argparse type: comma-separated corruption severities (minicnn/data/corruptions.py),
    e.g. "1,3" -> (1, 3)."""
    try:
        values = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        values = ()
    if not values or any(value not in SEVERITIES for value in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated severities among "
                                         f"{', '.join(map(str, SEVERITIES))}, got {text!r}")
    return values


def bounds(**limits):
    """The bounds as text, e.g. ' >= 0 and < 1' for at_least=0, less_than=1 (None: no bound)."""
    signs = {"at_least": ">=", "greater_than": ">", "less_than": "<", "at_most": "<="}
    parts = [f"{signs[name]} {limit}" for name, limit in limits.items() if limit is not None]
    return (" " + " and ".join(parts)) if parts else ""


def add_checkpoint_arguments(command, flip_average_help="average each image's logits with its "
                                                          "mirror image's"):
    """--checkpoint and --flip-average, which every command reading a checkpoint takes."""
    command.add_argument("--checkpoint", required=True, help="a .npz saved by the Trainer (best.npz)")
    command.add_argument("--flip-average", action=argparse.BooleanOptionalAction, default=None,
                         help=f"{flip_average_help} (default: as the checkpoint was trained to "
                              "predict)")


def add_backend_argument(command):
    """--backend: $MINICNN_BACKEND, else numba (backend.command_line_backend)."""
    command.add_argument("--backend", default=command_line_backend(), choices=BACKEND_NAMES,
                         help="default: $MINICNN_BACKEND, else numba")


def add_run_argument(parser, figures_folder):
    """--run RUN_DIR for a figure script: --checkpoint defaults to RUN_DIR/best.npz and --out to
    RUN_DIR/<figures_folder>, where the run's report.html picks the figures up."""
    parser.add_argument("--run", default=None, metavar="RUN_DIR",
                        help=f"a run folder of train_ahe.py: --checkpoint defaults to "
                             f"RUN_DIR/best.npz, --out to RUN_DIR/{figures_folder}, and "
                             "RUN_DIR/report.html is rebuilt with the figures")


def resolve_run_argument(parser, arguments, figures_folder):
    """Fill in --checkpoint and --out from --run; argparse's error when neither says them."""
    if arguments.run is not None:
        if arguments.checkpoint is None:
            arguments.checkpoint = os.path.join(arguments.run, "best.npz")
        if arguments.out is None:
            arguments.out = os.path.join(arguments.run, figures_folder)
    missing = [option for option, value in (("--checkpoint", arguments.checkpoint),
                                            ("--out", arguments.out)) if value is None]
    if missing:
        parser.error(f"the following arguments are required: {', '.join(missing)} "
                     "(or --run RUN_DIR)")
    return arguments
