"""The checkpoints of one run: which files each epoch writes, in which order, and resuming from them.

Every epoch ends with ``best.npz`` (when validation improved), ``epoch<E>.npz``
(for the epochs listed in ``snapshot_epochs``), then ``last.npz``. last.npz
comes last: it is the resume point, so an interruption between two writes
resumes from the epoch before, repeats the cut epoch exactly and writes its
best.npz again. (The other way round, last.npz could claim a best epoch that
best.npz never received, and a resume would report one epoch while scoring
another.) Each file is written atomically (minicnn/io/atomic.py).

A checkpoint holds everything a resume needs: weights, optimizer state,
BatchNorm statistics, and in its meta the epoch, step, history, configuration,
data split and the state of the data stream (``RESUME_KEYS``).
``check_resumable`` says whether a checkpoint belongs to the run that asks to
continue it.
"""
import dataclasses
import os

from ..data.split import checkpoint_split
from ..io.checkpoint import read_checkpoint_meta
from ..io.checkpoint_checks import CheckpointError
from .config import TrainConfig

# what a Trainer checkpoint's meta holds for a resume (split_fingerprint: since issue 15)
RESUME_KEYS = ("class_names", "config", "epoch", "step", "best_score", "best_epoch", "history",
               "data_rng_state")
# the TrainConfig settings a resumed run may change: how long it runs, when it stops early and
# how many validation images go through at once (none of them changes a step's maths or the
# data stream; a longer run does stretch the onecycle and cosine schedules)
RESUME_MAY_CHANGE = ("epochs", "patience", "eval_batch_size")
# every other setting shapes the steps, the data stream or the choice of best.npz: a resumed
# run must share it with the checkpoint (the architecture, dropout included, is checked on load)
RESUME_MUST_MATCH = tuple(field.name for field in dataclasses.fields(TrainConfig)
                          if field.name not in RESUME_MAY_CHANGE)


class RunCheckpoints:
    """The checkpoint files of the run in ``out_dir``."""

    def __init__(self, out_dir, snapshot_epochs=()):
        self.out_dir = os.fspath(out_dir)
        self.snapshot_epochs = frozenset(snapshot_epochs)

    def path(self, name):
        return os.path.join(self.out_dir, name)

    def names_for_epoch(self, epoch, improved):
        """The files the end of ``epoch`` writes, in the order it writes them (module docstring)."""
        names = ["best.npz"] if improved else []
        if epoch in self.snapshot_epochs:
            names.append(f"epoch{epoch}.npz")
        return names + ["last.npz"]

    def kept(self):
        """What the checkpoints on disk hold, read from the files (so only files that exist)."""
        held = [f"{self.path(name)} holds epoch {read_checkpoint_meta(self.path(name))['epoch']}"
                for name in ("last.npz", "best.npz") if os.path.exists(self.path(name))]
        return "; ".join(held) or "no epoch has finished, so no checkpoint was written"

    def resumable(self):
        return os.path.exists(self.path("last.npz"))


def check_resumable(meta, path, class_names, config, split_fingerprint, warn, split=None):
    """CheckpointError unless the checkpoint at ``path`` (its ``meta``) belongs to this run: saved
    by the Trainer, on these classes, with the same RESUME_MUST_MATCH settings and data split.
    ``warn(message)`` is told when the checkpoint is too old to say which split it used.
    ``split``: this run's split record (minicnn/data/split.py, split_record), when it has one;
    the checkpoint must have been trained under the same method and gap."""
    missing = [key for key in RESUME_KEYS if key not in meta]
    if missing:
        raise CheckpointError(f"cannot resume {path}: it was not saved by the Trainer "
                              f"(its meta has no {', '.join(missing)})")
    if meta["class_names"] != class_names:
        raise CheckpointError(f"cannot resume {path}: it was trained on the classes "
                              f"{meta['class_names']}, the data has {class_names}")
    saved_config = meta["config"] if isinstance(meta["config"], dict) else {}
    defaults = TrainConfig()
    # a setting older checkpoints do not record was its default (the field came later)
    changed = [(field, saved_config.get(field, getattr(defaults, field)), getattr(config, field))
               for field in RESUME_MUST_MATCH
               if saved_config.get(field, getattr(defaults, field)) != getattr(config, field)]
    if changed:
        raise CheckpointError(
            f"cannot resume {path}: it was trained with "
            + ", ".join(f"{field}={old!r}" for field, old, _ in changed) + "; this run asks for "
            + ", ".join(f"{field}={new!r}" for field, _, new in changed)
            + ". Resume with the run's own settings, or start a new run in a fresh folder")
    if split is not None:
        check_split_method(meta, path, split)
    if "split_fingerprint" not in meta:
        warn(f"warning: {path} was saved before checkpoints recorded their data split; "
             "resuming without checking that the data is the same")
    elif meta["split_fingerprint"] != split_fingerprint:
        raise CheckpointError(f"cannot resume {path}: its training and validation images "
                              "differ from this run's (another dataset, --val-fraction, "
                              "--seed or --quick?)")


def check_split_method(meta, path, split):
    """CheckpointError unless the checkpoint's split record has ``split``'s method and gap. A
    checkpoint with no record was trained under the random split (before issue 21)."""
    saved = checkpoint_split(meta)
    old = (saved.get("method"), saved.get("gap"))
    new = (split["method"], split["gap"])
    if old != new:
        raise CheckpointError(
            f"cannot resume {path}: it was trained under {describe_split(*old)}"
            + ("" if "split" in meta else " (it has no split record, so it predates the grouped "
               "split)")
            + f"; this run asks for {describe_split(*new)}. Resume with --split {old[0]}"
            + (f" --split-gap {old[1]}" if old[1] is not None else "")
            + ", or start a new run in a fresh folder")


def describe_split(method, gap):
    """"the grouped split with gap 100,000", "the random split" (a gap not a number: as saved)."""
    if gap is None:
        return f"the {method} split"
    return f"the {method} split with gap " + (f"{gap:,}" if isinstance(gap, int) else repr(gap))
