"""The report of a run in progress: the Trainer's epoch callback that keeps report.html current.

    Trainer(..., epoch_callbacks=[LiveReport(out_dir)])

At the end of every epoch it writes report.html (and, when the epoch is the
best so far, validation_predictions.npz first), both atomically: a page
opened mid-run shows the run so far, and a reload shows more. The report is
an extra: when it cannot be written (a full disk, a bug in the report) the
run warns, once per epoch, and trains on.
"""
import sys
import warnings

from ..functional import softmax
from .page import write_report
from .run_data import write_predictions


class LiveReport:
    """Epoch callback (minicnn.train.trainer.EpochEnd) writing the run's report."""

    def __init__(self, folder):
        self.folder = folder

    def __call__(self, end):
        try:
            if end.improved:
                write_predictions(self.folder, end.val_set, softmax(end.val_logits),
                                  end.trainer.class_names, end.epoch)
        except Exception as error:   # the run matters more than its report
            warnings.warn(f"{self.folder}: validation_predictions.npz not written after epoch "
                          f"{end.epoch}: {error}")
        write_report_or_warn(self.folder, f"after epoch {end.epoch}")


def write_report_or_warn(folder, when="at the end of the run"):
    """write_report(folder); a failure is a warning, never an exception -> the path or None."""
    try:
        return write_report(folder)
    except Exception as error:   # a report must never end a training run
        warnings.warn(f"{folder}: report.html not written {when}: {type(error).__name__}: "
                      f"{error}")
        return None


def refresh_run_report(folder):
    """After a figure script wrote into the run ``folder`` (--run): rebuild its report.html,
    which shows the new figures. None: no run folder, nothing to do."""
    if folder is None:
        return
    page = write_report_or_warn(folder, "with the new figures")
    if page:
        print(f"report: {page}", file=sys.stderr)
