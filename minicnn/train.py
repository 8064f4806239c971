"""The training loop: epochs of shuffled, augmented mini-batches, validated after each epoch.

    trainer = Trainer(model, TrainConfig(epochs=30), out_dir="runs/ahe",
                      class_names=train_set.class_names, mean=mean, std=std)
    history = trainer.fit(train_set, val_set)

Every epoch ends with ``best.npz`` (when validation improved), ``epoch<E>.npz``
(for the epochs listed in ``snapshot_epochs``, to watch features form, see
docs/visualization.md), then ``last.npz``, ``history.json`` and ``curves.png``
in ``out_dir``. last.npz comes after best.npz: it is the resume point, so an
interruption between the two saves resumes from the epoch before, repeats the
cut epoch exactly and writes its best.npz again. (The other way round, last.npz
could claim a best epoch that best.npz never received, and a resume would
report one epoch while scoring another.) Checkpoints are written atomically
and hold everything a resume needs: weights, optimizer state, BatchNorm
statistics, epoch, step, and the states of both RNG streams (the backend's,
for dropout, and the data stream, for shuffling and augmentation). So
``fit(..., resume=True)`` continues an interrupted run exactly where its last
epoch ended, and ends with the same weights as a run never interrupted. It
also checks that the data has the checkpoint's classes and split
(``split_fingerprint``).

``fit`` holds ``out_dir`` for its duration (minicnn/run_folder.py): a second
run on it is refused, and without ``resume`` a folder that holds an earlier
run is refused rather than overwritten.

The divergence guard: after every step the loss, the weights and the
BatchNorm statistics must be finite, and after every epoch the validation
loss must be. The first non-finite value stops the run with
TrainingDiverged, naming the epoch, the batch and its learning rate; the
checkpoints on disk are all from epochs that passed these checks.
"""
import dataclasses
import hashlib
import json
import math
import numbers
import os
import sys
import time
import typing

import numpy as np

from .data import DataError, augment_batch, iterate_batches, normalize
from .data.targets import MIXES, soft_targets
from .evaluate import classification_metrics, mean_cross_entropy, plot_curves, predict_logits
from .atomic import atomic_write_text
from .models import CheckpointError, read_checkpoint_meta
from .optim import SGD, ConstantLR, CosineLR, OneCycleLR, StepLR, WarmupLR
from .run_folder import hold_run_folder


class TrainingDiverged(RuntimeError):
    """The loss, the weights or the BatchNorm statistics became NaN or infinite."""


class StepRecord(typing.NamedTuple):
    """One training step, as kept on the device until the next host read."""
    batch: int
    lr: float
    loss: object            # device scalar
    correct: object         # device scalar: hits in the batch
    size: int
    finite: object          # device booleans: each parameter and buffer finite after the step


@dataclasses.dataclass
class TrainConfig:
    """Everything that decides a training run (saved with every checkpoint)."""
    epochs: int = 30
    batch_size: int = 64
    lr: float = 0.05                 # peak learning rate
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: str = "onecycle"       # onecycle | cosine | step | constant
    warmup_epochs: float = 0.0       # linear warm-up (cosine, step and constant only)
    flip: bool = True
    max_shift: int = 4               # random translation, pixels
    color_jitter: float = 0.0
    zoom: float = 0.0                # random scale in [1 - zoom, 1 + zoom]
    label_smoothing: float = 0.0     # soft targets (minicnn/data/targets.py)
    mix: str = "none"                # none | mixup | cutmix
    mix_alpha: float = 1.0           # lam ~ Beta(mix_alpha, mix_alpha)
    mix_probability: float = 1.0     # share of the batches that are mixed
    patience: int = 0                # early stopping: epochs without improvement (0: off)
    seed: int = 0
    eval_batch_size: int = 256
    flip_average: bool = True        # predict with the mean logits of each image and its mirror

    def __post_init__(self):
        checks = [("epochs", self.epochs >= 1), ("batch_size", self.batch_size >= 1),
                  ("lr", is_finite(self.lr) and self.lr > 0),
                  ("momentum", is_finite(self.momentum) and 0 <= self.momentum < 1),
                  ("weight_decay", is_finite(self.weight_decay) and self.weight_decay >= 0),
                  ("warmup_epochs", is_finite(self.warmup_epochs) and self.warmup_epochs >= 0),
                  ("color_jitter", is_finite(self.color_jitter) and 0 <= self.color_jitter < 1),
                  ("max_shift", self.max_shift >= 0), ("patience", self.patience >= 0),
                  ("eval_batch_size", self.eval_batch_size >= 1),
                  ("schedule", self.schedule in ("onecycle", "cosine", "step", "constant")),
                  ("zoom", 0 <= self.zoom < 1),
                  ("label_smoothing", 0 <= self.label_smoothing < 1), ("mix", self.mix in MIXES),
                  ("mix_alpha", self.mix_alpha > 0),
                  ("mix_probability", 0 <= self.mix_probability <= 1)]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"TrainConfig {name}={getattr(self, name)!r} is not valid")


def is_finite(value):
    """A real number that is neither NaN nor infinite."""
    return isinstance(value, numbers.Real) and math.isfinite(value)


def make_schedule(config, steps_per_epoch):
    """The learning rate as a function of the global step."""
    total = config.epochs * steps_per_epoch
    if config.schedule == "onecycle":
        return OneCycleLR(config.lr, max(total, 2))
    if config.schedule == "cosine":
        schedule = CosineLR(config.lr, max(total, 1))
    elif config.schedule == "step":
        schedule = StepLR(config.lr, step_size=max(1, total // 3), gamma=0.1)
    else:
        schedule = ConstantLR(config.lr)
    return WarmupLR(schedule, int(config.warmup_epochs * steps_per_epoch))


class Trainer:
    """Fits a Sequential that ends with SoftmaxCrossEntropy on uint8 ImageDatasets.

    ``callbacks``: functions ``callback(trainer, epoch, batch)`` called after every
    batch (for tests and tools that watch a run). ``snapshot_epochs``: epochs whose
    checkpoint is also kept, as ``epoch<E>.npz``. ``sync_every``: the loss and
    accuracy of the steps stay on the device and are read (and checked for
    NaN) once per this many steps.
    """

    def __init__(self, model, config, out_dir, class_names, mean, std, callbacks=(),
                 progress=True, extra_meta=None, snapshot_epochs=(), sync_every=10):
        if not isinstance(sync_every, int) or sync_every < 1:
            raise ValueError(f"Trainer sync_every must be an integer >= 1, got {sync_every!r}")
        if model.loss_layer is None:
            raise ValueError("Trainer needs a model that ends with SoftmaxCrossEntropy")
        self.model = model
        self.config = config
        self.out_dir = os.fspath(out_dir)
        self.class_names = list(class_names)
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        self.callbacks = list(callbacks)
        self.progress = progress
        self.extra_meta = dict(extra_meta or {})
        self.snapshot_epochs = frozenset(snapshot_epochs)
        self.sync_every = sync_every
        self.optimizer = SGD(config.lr, momentum=config.momentum, nesterov=config.nesterov,
                             weight_decay=config.weight_decay)
        # shuffling and augmentation draw from their own seeded stream
        self.data_rng = np.random.default_rng([config.seed, 1])
        self.history = []
        self.epoch = 0
        self.step = 0
        self.best_score = -math.inf
        self.best_epoch = 0
        self.last_step = None          # the StepRecord of the last step the guard passed
        self.split_fingerprint = None  # of the data given to fit, saved in every checkpoint

    # --- paths ---------------------------------------------------------------
    def path(self, name):
        return os.path.join(self.out_dir, name)

    # --- the loop -----------------------------------------------------------
    def fit(self, train_set, val_set, resume=False):
        """Train until config.epochs (or early stopping); returns the history (list of dicts).

        Raises DataError for data a classifier cannot be trained or scored on,
        RunFolderError for an output folder that is busy or holds another run
        (see minicnn/run_folder.py), CheckpointError for a resume that does not
        fit, and TrainingDiverged.
        """
        check_training_data(train_set, val_set, self.class_names)
        self.split_fingerprint = split_fingerprint(train_set, val_set)
        with hold_run_folder(self.out_dir, resume) as held:
            for note in held.notes():
                log(note)
            if resume:
                self.resume_from(self.path("last.npz"))
            steps_per_epoch = math.ceil(len(train_set) / self.config.batch_size)
            schedule = make_schedule(self.config, steps_per_epoch)
            try:
                while self.epoch < self.config.epochs:
                    if self.stopped_early():
                        log(f"early stopping: no validation improvement for "
                            f"{self.config.patience} epochs (best {self.best_score:.4f} at "
                            f"epoch {self.best_epoch})")
                        break
                    self.epoch += 1
                    train_row = self.train_one_epoch(train_set, schedule, steps_per_epoch)
                    self.end_epoch(train_row, val_set)
            except KeyboardInterrupt:
                resumable = os.path.exists(self.path("last.npz"))
                log(f"\ninterrupted in epoch {self.epoch}; {self.kept_checkpoints()}"
                    + (": continue with --resume" if resumable else ""))
                raise
        return self.history

    def train_one_epoch(self, train_set, schedule, steps_per_epoch):
        config, model, backend = self.config, self.model, self.model.backend
        model.train()
        started = time.perf_counter()
        totals = {"loss": 0.0, "correct": 0, "seen": 0}
        window = []   # StepRecords, still on the device
        batches = iterate_batches(len(train_set), config.batch_size, rng=self.data_rng, shuffle=True)
        bar = progress_bar(total=steps_per_epoch, enabled=self.progress,
                           desc=f"epoch {self.epoch}/{config.epochs}")
        for batch_index, indices in enumerate(batches, start=1):
            images = normalize(train_set.images[indices], self.mean, self.std)
            images = augment_batch(images, self.data_rng, flip=config.flip,
                                   max_shift=config.max_shift, color_jitter=config.color_jitter,
                                   zoom=config.zoom)
            targets = labels = backend.to_device(train_set.labels[indices])
            if config.label_smoothing or config.mix != "none":
                images, soft = soft_targets(images, train_set.labels[indices],
                                            len(self.class_names), self.data_rng,
                                            config.label_smoothing, config.mix, config.mix_alpha,
                                            config.mix_probability)
                targets = backend.to_device(soft)
            self.optimizer.lr = schedule(self.step)
            loss = model.forward(backend.to_device(images), targets)
            model.backward(input_gradient=False)  # the step needs no gradient of the images
            self.optimizer.step(model)
            self.step += 1
            correct = (model.loss_layer.probs.argmax(axis=1) == labels).sum()
            window.append(StepRecord(batch_index, self.optimizer.lr, loss, correct, len(indices),
                                     self.finite_flags()))
            if len(window) == self.sync_every or batch_index == steps_per_epoch:
                self.read_window(window, totals)
                window = []
                elapsed = time.perf_counter() - started
                bar.set_postfix(loss=f"{totals['loss'] / totals['seen']:.3f}",
                                acc=f"{totals['correct'] / totals['seen']:.3f}",
                                img_s=f"{totals['seen'] / elapsed:.0f}",
                                lr=f"{self.optimizer.lr:.3g}", refresh=False)
            bar.update(1)
            for callback in self.callbacks:
                callback(self, self.epoch, batch_index)
        bar.close()
        seconds = time.perf_counter() - started
        seen = totals["seen"]
        return {"epoch": self.epoch, "train_loss": totals["loss"] / seen,
                "train_accuracy": totals["correct"] / seen, "lr": self.optimizer.lr,
                "train_seconds": seconds, "images_per_second": seen / seconds}

    def watched_arrays(self):
        """{key: array} of every parameter and buffer (BatchNorm's running statistics)."""
        return {**self.model.params, **self.model.buffers}

    def finite_flags(self):
        """Device booleans, one per watched array: is it all finite? (no host read)

        A step whose loss was finite can still leave NaN weights (its update
        overflowed) or infinite running variances, which only eval mode uses.
        """
        xp = self.model.backend.xp
        return xp.stack([xp.isfinite(array).all() for array in self.watched_arrays().values()])

    def read_window(self, window, totals):
        """Bring the losses, hit counts and finiteness flags of the last few steps to the host in one read.

        On a GPU every host read waits for the device to finish, so the loop
        reads once per ``sync_every`` steps, not once per step. This is also
        the divergence guard: the first step whose loss, or whose updated
        weights, are not finite stops training, naming its batch and rate.
        """
        xp = self.model.backend.xp
        losses = xp.stack([step.loss for step in window])
        columns = [losses, xp.stack([step.correct for step in window]).astype(losses.dtype)]
        flags = xp.stack([step.finite for step in window]).astype(losses.dtype)   # (steps, arrays)
        stats = self.model.backend.to_host(xp.concatenate([xp.stack(columns, axis=1), flags], axis=1))
        keys = list(self.watched_arrays())
        for step, (loss_value, correct, *finite) in zip(window, stats):
            if not math.isfinite(loss_value):
                raise self.divergence(step, f"the loss became {loss_value}")
            if not all(finite):
                raise self.divergence(step, "the update left non-finite values in "
                                            + self.describe(keys, finite))
            self.last_step = step
            totals["loss"] += float(loss_value) * step.size
            totals["correct"] += int(correct)
            totals["seen"] += step.size

    def describe(self, keys, finite):
        """The non-finite arrays of one step, e.g. "1.running_var (BatchNorm2D)"."""
        bad = [key for key, ok in zip(keys, finite) if not ok]
        named = [f"{key} ({type(self.model.layers[int(key.split('.')[0])]).__name__})"
                 for key in bad[:3]]
        return ", ".join(named) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")

    def divergence(self, step, what):
        """The TrainingDiverged error for ``what`` going wrong at ``step`` (a StepRecord)."""
        return TrainingDiverged(f"training diverged at epoch {self.epoch}, batch {step.batch} "
                                f"(lr {step.lr:.3g}): {what}. Stopped; {self.kept_checkpoints()}. "
                                "Try a lower --lr.")

    def kept_checkpoints(self):
        """What the checkpoints on disk hold, read from the files (so only files that exist)."""
        held = [f"{self.path(name)} holds epoch {read_checkpoint_meta(self.path(name))['epoch']}"
                for name in ("last.npz", "best.npz") if os.path.exists(self.path(name))]
        return "; ".join(held) or "no epoch has finished, so no checkpoint was written"

    def end_epoch(self, row, val_set):
        started = time.perf_counter()
        logits = predict_logits(self.model, val_set.images, self.mean, self.std,
                                self.config.eval_batch_size, self.config.flip_average)
        if not np.all(np.isfinite(logits)):
            # the weights passed the guard, yet eval mode overflows: blame the epoch's last step
            raise self.divergence(self.last_step, "after this last step of the epoch, the "
                                  "validation logits became non-finite (a NaN validation loss)")
        predictions = logits.argmax(axis=1)
        metrics = classification_metrics(val_set.labels, predictions, self.class_names)
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
        # last.npz last: it is the resume point (see the module docstring)
        if improved:
            self.save_checkpoint(self.path("best.npz"))
        if self.epoch in self.snapshot_epochs:
            self.save_checkpoint(self.path(f"epoch{self.epoch}.npz"))
        self.save_checkpoint(self.path("last.npz"))
        atomic_write_text(self.path("history.json"), json.dumps(self.history, indent=2))
        plot_curves(self.history, self.path("curves.png"))

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
        missing = [key for key in RESUME_KEYS if key not in meta]
        if missing:
            raise CheckpointError(f"cannot resume {path}: it was not saved by the Trainer "
                                  f"(its meta has no {', '.join(missing)})")
        if meta["class_names"] != self.class_names:
            raise CheckpointError(f"cannot resume {path}: it was trained on the classes "
                                  f"{meta['class_names']}, the data has {self.class_names}")
        saved_config = meta["config"]
        for field in ("batch_size", "seed", "lr", "schedule"):
            if saved_config.get(field) != getattr(self.config, field):
                raise CheckpointError(f"cannot resume {path}: it was trained with {field}="
                                      f"{saved_config.get(field)!r}, this run asks for "
                                      f"{getattr(self.config, field)!r}")
        if "split_fingerprint" not in meta:
            log(f"warning: {path} was saved before checkpoints recorded their data split; "
                "resuming without checking that the data is the same")
        elif meta["split_fingerprint"] != self.split_fingerprint:
            raise CheckpointError(f"cannot resume {path}: its training and validation images "
                                  "differ from this run's (another dataset, --val-fraction, "
                                  "--seed or --quick?)")
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


# what a Trainer checkpoint's meta holds for a resume (split_fingerprint: since issue 15)
RESUME_KEYS = ("class_names", "config", "epoch", "step", "best_score", "best_epoch", "history",
               "data_rng_state")


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


def progress_bar(total, enabled, desc):
    from tqdm.auto import tqdm
    return tqdm(total=total, disable=not enabled, desc=desc, leave=False, file=sys.stderr,
                dynamic_ncols=True)
