"""The Trainer: epochs of ``train_step`` on shuffled, augmented batches, validated after each epoch.

    trainer = Trainer(model, TrainConfig(epochs=30), out_dir="runs/ahe",
                      class_names=train_set.class_names, mean=mean, std=std)
    history = trainer.fit(train_set, val_set)

The step itself is ``train_step`` (step.py). The Trainer only orchestrates the
parts around it, each in a module of its own:

    batches.py       TrainingBatches: an epoch of normalized, augmented batches and their targets
    guard.py         DivergenceGuard: every step's loss and weights finite, read from the device
                     once per ``sync_every`` steps
    checkpoints.py   RunCheckpoints: best.npz, epoch<E>.npz, last.npz, in that order; resuming
    run_folder.py    the folder held by one run at a time
    config.py        TrainConfig and the learning-rate schedule

Checkpoints hold everything a resume needs (checkpoints.py), including the
states of both RNG streams (the backend's, for dropout, and the data stream,
for shuffling and augmentation). So ``fit(..., resume=True)`` continues an
interrupted run exactly where its last epoch ended, and ends with the same
weights as a run never interrupted.

``trainer.epoch_callbacks`` are called at the end of every epoch, once its
checkpoints and history.json are written, with an ``EpochEnd`` (below): the
epoch's validation logits, for writers of per-epoch reports.

``fit`` holds ``out_dir`` for its duration (minicnn/train/run_folder.py): a
second run on it is refused, and without ``resume`` a folder that holds an
earlier run is refused rather than overwritten.
"""
import dataclasses
import hashlib
import json
import math
import os
import sys
import time

import numpy as np

from ..data import DataError
from ..evaluate import classification_metrics, mean_cross_entropy, predict_logits
from ..figures.evaluation import plot_curves
from ..io.atomic import atomic_write_text
from ..io.checkpoint import read_checkpoint_meta
from ..io.checkpoint_checks import CheckpointError
from ..optim import SGD
from .batches import TrainingBatches
from .checkpoints import RunCheckpoints, check_resumable
from .config import make_schedule
from .guard import DivergenceGuard
from .run_folder import hold_run_folder
from .step import train_step


@dataclasses.dataclass(frozen=True)
class EpochEnd:
    """What an epoch callback receives, once the epoch's outputs are on disk.

    row         the epoch's history row (a dict, as in history.json)
    improved    a new best validation accuracy: best.npz now holds these weights
    val_set     the validation ImageDataset
    val_logits  (N, classes) host array: the validation images' logits, in val_set's order
    """
    trainer: "Trainer"
    epoch: int
    row: dict
    improved: bool
    val_set: object
    val_logits: np.ndarray


class Trainer:
    """Fits a Sequential that ends with SoftmaxCrossEntropy on uint8 ImageDatasets.

    ``callbacks``: functions ``callback(trainer, epoch, batch)`` called after every
    batch (for tests and tools that watch a run). ``epoch_callbacks``: functions
    ``callback(EpochEnd)`` called at the end of every epoch. ``snapshot_epochs``: epochs whose
    checkpoint is also kept, as ``epoch<E>.npz``. ``sync_every``: the loss and
    accuracy of the steps stay on the device and are read (and checked for
    NaN) once per this many steps.
    """

    def __init__(self, model, config, out_dir, class_names, mean, std, callbacks=(),
                 epoch_callbacks=(), progress=True, extra_meta=None, snapshot_epochs=(),
                 sync_every=10):
        if model.loss_layer is None:
            raise ValueError("Trainer needs a model that ends with SoftmaxCrossEntropy")
        self.model = model
        self.config = config
        self.out_dir = os.fspath(out_dir)
        self.class_names = list(class_names)
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        self.callbacks = list(callbacks)
        self.epoch_callbacks = list(epoch_callbacks)
        self.progress = progress
        self.extra_meta = dict(extra_meta or {})
        self.optimizer = SGD(config.lr, momentum=config.momentum, nesterov=config.nesterov,
                             weight_decay=config.weight_decay)
        # shuffling and augmentation draw from their own seeded stream
        self.data_rng = np.random.default_rng([config.seed, 1])
        self.checkpoints = RunCheckpoints(self.out_dir, snapshot_epochs)
        self.guard = DivergenceGuard(model, sync_every, self.where_the_run_stands)
        self.history = []
        self.epoch = 0
        self.step = 0
        self.best_score = -math.inf
        self.best_epoch = 0
        self.split_fingerprint = None  # of the data given to fit, saved in every checkpoint

    def path(self, name):
        return self.checkpoints.path(name)

    # --- the loop -----------------------------------------------------------
    def fit(self, train_set, val_set, resume=False):
        """Train until config.epochs (or early stopping); returns the history (list of dicts).

        Raises DataError for data a classifier cannot be trained or scored on,
        RunFolderError for an output folder that is busy or holds another run
        (see minicnn/train/run_folder.py), CheckpointError for a resume that does not
        fit, and TrainingDiverged.
        """
        check_training_data(train_set, val_set, self.class_names)
        self.split_fingerprint = split_fingerprint(train_set, val_set)
        with hold_run_folder(self.out_dir, resume) as held:
            for note in held.notes():
                log(note)
            if resume:
                self.resume_from(self.path("last.npz"))
            batches = TrainingBatches(train_set, self.config, self.mean, self.std,
                                      len(self.class_names), self.model.backend, self.data_rng)
            schedule = make_schedule(self.config, len(batches))
            try:
                while self.epoch < self.config.epochs:
                    if self.stopped_early():
                        log(f"early stopping: no validation improvement for "
                            f"{self.config.patience} epochs (best {self.best_score:.4f} at "
                            f"epoch {self.best_epoch})")
                        break
                    self.epoch += 1
                    row = self.train_one_epoch(batches, schedule)
                    self.end_epoch(row, val_set)
            except KeyboardInterrupt:
                log(f"\ninterrupted in epoch {self.epoch}; {self.checkpoints.kept()}"
                    + (": continue with --resume" if self.checkpoints.resumable() else ""))
                raise
            except OSError:   # a full disk: what was written is whole (atomic), and resumable
                log(f"could not write the outputs of epoch {self.epoch}; "
                    f"{self.checkpoints.kept()}"
                    + (": continue with --resume once it can be written"
                       if self.checkpoints.resumable() else ""))
                raise
        return self.history

    def train_one_epoch(self, batches, schedule):
        """One epoch of ``train_step`` over ``batches`` (TrainingBatches) -> its history row."""
        self.model.train()
        self.guard.start_epoch()
        totals = self.guard.totals
        started = time.perf_counter()
        bar = progress_bar(total=len(batches), enabled=self.progress,
                           desc=f"epoch {self.epoch}/{self.config.epochs}")
        for batch in batches.epoch():
            self.optimizer.lr = schedule(self.step)
            loss, logits = train_step(self.model, self.optimizer, batch.images, batch.targets)
            self.step += 1
            correct = (logits.argmax(axis=1) == batch.labels).sum()
            if self.guard.record(batch.index, self.optimizer.lr, loss, correct, batch.size):
                show_progress(bar, totals, started, self.optimizer.lr)
            bar.update(1)
            for callback in self.callbacks:
                callback(self, self.epoch, batch.index)
        self.guard.check()   # the steps of the last, unfinished window
        bar.close()
        seconds = time.perf_counter() - started
        seen = totals["seen"]
        return {"epoch": self.epoch, "train_loss": totals["loss"] / seen,
                "train_accuracy": totals["correct"] / seen, "lr": self.optimizer.lr,
                "train_seconds": seconds, "images_per_second": seen / seconds}

    def where_the_run_stands(self):
        """(the epoch, what the checkpoints on disk hold): for a TrainingDiverged message."""
        return f"epoch {self.epoch}", self.checkpoints.kept()

    def end_epoch(self, row, val_set):
        """Validate, log, and write the epoch's checkpoints, history.json and curves.png."""
        started = time.perf_counter()
        logits = predict_logits(self.model, val_set.images, self.mean, self.std,
                                self.config.eval_batch_size, self.config.flip_average)
        if not np.all(np.isfinite(logits)):
            # the weights passed the guard, yet eval mode overflows: blame the epoch's last step
            raise self.guard.diverged(self.guard.last_step, "after this last step of the epoch, "
                                      "the validation logits became non-finite (a NaN "
                                      "validation loss)")
        metrics = classification_metrics(val_set.labels, logits.argmax(axis=1), self.class_names)
        row.update(val_loss=mean_cross_entropy(logits, val_set.labels),
                   val_accuracy=metrics["accuracy"], val_macro_f1=metrics["macro_f1"],
                   val_seconds=time.perf_counter() - started)
        self.history.append(row)
        improved = row["val_accuracy"] > self.best_score
        if improved:
            self.best_score, self.best_epoch = row["val_accuracy"], self.epoch
        log(f"epoch {self.epoch}: train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.4f}"
            f" | val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.4f} "
            f"macro-F1 {row['val_macro_f1']:.4f} | {row['images_per_second']:.0f} img/s"
            f"{' | best' if improved else ''}")
        for name in self.checkpoints.names_for_epoch(self.epoch, improved):
            self.save_checkpoint(self.path(name))
        atomic_write_text(self.path("history.json"), json.dumps(self.history, indent=2))
        plot_curves(self.history, self.path("curves.png"))
        for callback in self.epoch_callbacks:
            callback(EpochEnd(self, self.epoch, row, improved, val_set, logits))

    def stopped_early(self):
        patience = self.config.patience
        return bool(patience) and self.epoch - self.best_epoch >= patience

    # --- checkpoints ----------------------------------------------------------
    def checkpoint_meta(self):
        return {"kind": "minicnn-classifier", "class_names": self.class_names,
                "mean": self.mean.tolist(), "std": self.std.tolist(),
                "flip_average": self.config.flip_average, "epoch": self.epoch,
                "step": self.step, "best_score": self.best_score, "best_epoch": self.best_epoch,
                "history": self.history, "config": dataclasses.asdict(self.config),
                "split_fingerprint": self.split_fingerprint,
                "data_rng_state": self.data_rng.bit_generator.state, **self.extra_meta}

    def save_checkpoint(self, path):
        self.model.save(path, optimizer=self.optimizer, meta=self.checkpoint_meta())

    def resume_from(self, path):
        """Continue from the checkpoint at ``path``, once it is shown to belong to this run."""
        meta = read_checkpoint_meta(path)
        check_resumable(meta, path, self.class_names, self.config, self.split_fingerprint, log,
                        split=self.extra_meta.get("split"))
        self.model.load(path, optimizer=self.optimizer)
        try:
            self.data_rng.bit_generator.state = meta["data_rng_state"]
        except (TypeError, ValueError, KeyError, OverflowError) as error:
            raise CheckpointError(f"cannot resume {path}: its data_rng_state is not a state of "
                                  f"the data's random generator ({error})") from None
        self.epoch, self.step = meta["epoch"], meta["step"]
        self.best_score, self.best_epoch = meta["best_score"], meta["best_epoch"]
        self.history = meta["history"]
        log(f"resumed from {path} at the end of epoch {self.epoch} (step {self.step})")


def check_training_data(train_set, val_set, class_names):
    """Refuse data a classifier cannot learn or be scored on, before the first epoch. Raises DataError."""
    if len(class_names) < 2:
        raise DataError(f"the data has {len(class_names)} class ({', '.join(class_names)}): a "
                        "classifier needs at least 2 classes to tell apart")
    for name, dataset in (("training", train_set), ("validation", val_set)):
        if len(dataset) == 0:
            raise DataError(f"the {name} split is empty: nothing to "
                            f"{'learn from' if name == 'training' else 'score the epochs on'}")
        if list(dataset.class_names) != class_names:
            raise DataError(f"the {name} split has the classes {dataset.class_names}, "
                            f"the Trainer was given {class_names}")


def split_fingerprint(train_set, val_set):
    """SHA-1 over every image's label and file digest, training images then validation images.

    Two runs see the same data, split the same way, exactly when this is equal.
    """
    digest = hashlib.sha1()
    for name, dataset in (("train", train_set), ("validation", val_set)):
        digest.update(f"{name}\n".encode())
        for label, file_digest in zip(dataset.labels.tolist(), dataset.digests):
            digest.update(f"{label} {file_digest}\n".encode())
    return digest.hexdigest()


def log(message):
    """Progress messages go to stderr, so stdout stays clean for --json output."""
    print(message, file=sys.stderr, flush=True)


def show_progress(bar, totals, started, lr):
    """The running loss, accuracy, speed and learning rate after the bar."""
    seen = totals["seen"]
    bar.set_postfix(loss=f"{totals['loss'] / seen:.3f}", acc=f"{totals['correct'] / seen:.3f}",
                    img_s=f"{seen / (time.perf_counter() - started):.0f}", lr=f"{lr:.3g}",
                    refresh=False)


def progress_bar(total, enabled, desc):
    from tqdm.auto import tqdm
    return tqdm(total=total, disable=not enabled, desc=desc, leave=False, file=sys.stderr,
                dynamic_ncols=True)
