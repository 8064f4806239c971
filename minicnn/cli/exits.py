"""The exit statuses of every minicnn command, and the one place a failure becomes one line.

    status  meaning
    0       done
    1       done, but not all of it: predict could not read some inputs (each is named),
            export wrote a file that disagrees with minicnn
    2       bad arguments: argparse's usage errors; an output path that is an input, is
            another output, cannot be made or written, or has a name too long; a run
            folder that holds another run or is busy; a backend or extra not installed
    3       training diverged (the checkpoints kept are named)
    4       bad input data: a missing, empty or unreadable dataset, data the model does
            not fit, a submission that cannot be graded, a folder that is not a run
    5       bad checkpoint: missing, corrupt, not a minicnn checkpoint, made for other
            data or settings, or holding values outside their domain (NaN weights, a
            negative variance, logits that are not finite)
    6       I/O failure: the disk is full, the file size limit was reached, permission
            denied, a read error; the line names the path and the cause
    130     interrupted (Ctrl-C); a training run can continue with --resume
    141     stdout was closed by its reader (``| head``); nothing more is printed

Every command runs through ``run_command``: the errors above are printed as
one ``error: ...`` line on stderr, never a traceback. Anything else is a bug
and keeps its traceback. Warnings meant for the user (a skipped image, a
cache that could not be written) are printed as one ``warning: ...`` line each,
without Python's source line.

    def main(argv=None):
        arguments = parse_arguments(argv)
        return run_command(lambda: work(arguments))
"""
import errno
import os
import sys
import warnings

from ..backend import BackendUnavailable
from ..course.kit import KitError
from ..course.submission import SubmissionError
from ..data import DataError
from ..interop import MissingExtra, UnsupportedLayer
from ..io.checkpoint_checks import CheckpointError
from ..io.paths import OutputPathError
from ..report import ReportError
from ..train import TrainingDiverged
from ..train.run_folder import RunFolderError

DONE = 0
PARTLY_DONE = 1
BAD_ARGUMENTS = 2
DIVERGED = 3
BAD_DATA = 4
BAD_CHECKPOINT = 5
IO_FAILURE = 6
INTERRUPTED = 130
OUTPUT_CLOSED = 141   # 128 + SIGPIPE: what a shell reports for a program the pipe ended

# the errors a user can cause, each with its exit status (an OSError is IO_FAILURE)
KNOWN_FAILURES = ((OutputPathError, BAD_ARGUMENTS), (RunFolderError, BAD_ARGUMENTS),
                  (BackendUnavailable, BAD_ARGUMENTS), (MissingExtra, BAD_ARGUMENTS),
                  (KitError, BAD_ARGUMENTS), (TrainingDiverged, DIVERGED),
                  (DataError, BAD_DATA), (SubmissionError, BAD_DATA), (ReportError, BAD_DATA),
                  (CheckpointError, BAD_CHECKPOINT), (UnsupportedLayer, BAD_CHECKPOINT))


def run_command(body, data_advice=False):
    """``body()`` -> its exit status; a known failure -> one stderr line and its status.

    ``data_advice``: after a DataError, also print how to get the dataset (for the
    commands that look for it: training, tuning, the deconvnet figures).
    """
    with warnings.catch_warnings():
        warnings.showwarning = show_warning_line
        try:
            return body()
        except BrokenPipeError:
            return output_closed()
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return INTERRUPTED
        except OSError as error:
            print(f"error: {describe_os_error(error)}", file=sys.stderr)
            return IO_FAILURE
        except Exception as error:
            status = next((status for kind, status in KNOWN_FAILURES if isinstance(error, kind)),
                          None)
            if status is None:
                raise   # a bug: its traceback is what a developer needs
            print(f"error: {one_line(error)}", file=sys.stderr)
            if data_advice and isinstance(error, DataError) and error.advice:
                print(error.advice, file=sys.stderr)
            return status


def one_line(error):
    """The message of a known failure, on one line (a DataError without its advice)."""
    text = error.problem if isinstance(error, DataError) else str(error)
    return " ".join(text.splitlines())


def describe_os_error(error):
    """"<path>: <cause in words>" for an OSError (the path as it was asked for)."""
    cause = error.strerror or str(error) or type(error).__name__
    if error.errno == errno.EFBIG:
        cause += " (the file size limit, ulimit -f, was reached)"
    if error.filename is None:
        return cause
    where = os.fsdecode(error.filename)
    if error.filename2 is not None:
        where += f" -> {os.fsdecode(error.filename2)}"
    return f"{where}: {cause}"


def output_closed():
    """stdout's reader went away: stop quietly (the Python docs' recipe for SIGPIPE)."""
    # the interpreter flushes stdout again at exit: point it at /dev/null so that flush
    # cannot fail and print "Exception ignored ... BrokenPipeError"
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, AttributeError, ValueError):   # stdout is not a file: nothing to flush
        pass
    return OUTPUT_CLOSED


def show_warning_line(message, category, filename, lineno, file=None, line=None):
    """warnings.showwarning for the command line: a UserWarning is one line, "warning: ..."."""
    stream = file or sys.stderr
    if issubclass(category, UserWarning):
        print(f"warning: {' '.join(str(message).splitlines())}", file=stream)
    else:   # NumPy's RuntimeWarnings and the like: where they came from matters
        stream.write(warnings.formatwarning(message, category, filename, lineno, line))
