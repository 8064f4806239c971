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
import os

from ..io.checkpoint import read_checkpoint_meta
from ..io.checkpoint_checks import CheckpointError

# what a Trainer checkpoint's meta holds for a resume (split_fingerprint: since issue 15)
RESUME_KEYS = ("class_names", "config", "epoch", "step", "best_score", "best_epoch", "history",
               "data_rng_state")
# settings a resumed run must share with the checkpoint: they shape the schedule and the data
RESUME_MUST_MATCH = ("batch_size", "seed", "lr", "schedule")


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


def check_resumable(meta, path, class_names, config, split_fingerprint, warn):
    """CheckpointError unless the checkpoint at ``path`` (its ``meta``) belongs to this run: saved
    by the Trainer, on these classes, with the same RESUME_MUST_MATCH settings and data split.
    ``warn(message)`` is told when the checkpoint is too old to say which split it used."""
    missing = [key for key in RESUME_KEYS if key not in meta]
    if missing:
        raise CheckpointError(f"cannot resume {path}: it was not saved by the Trainer "
                              f"(its meta has no {', '.join(missing)})")
    if meta["class_names"] != class_names:
        raise CheckpointError(f"cannot resume {path}: it was trained on the classes "
                              f"{meta['class_names']}, the data has {class_names}")
    saved_config = meta["config"]
    for field in RESUME_MUST_MATCH:
        if saved_config.get(field) != getattr(config, field):
            raise CheckpointError(f"cannot resume {path}: it was trained with {field}="
                                  f"{saved_config.get(field)!r}, this run asks for "
                                  f"{getattr(config, field)!r}")
    if "split_fingerprint" not in meta:
        warn(f"warning: {path} was saved before checkpoints recorded their data split; "
             "resuming without checking that the data is the same")
    elif meta["split_fingerprint"] != split_fingerprint:
        raise CheckpointError(f"cannot resume {path}: its training and validation images "
                              "differ from this run's (another dataset, --val-fraction, "
                              "--seed or --quick?)")
