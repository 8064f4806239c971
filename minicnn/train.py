"""The training loop: epochs of shuffled, augmented mini-batches, validated after each epoch.

    trainer = Trainer(model, TrainConfig(epochs=30), out_dir="runs/ahe",
                      class_names=train_set.class_names, mean=mean, std=std)
    history = trainer.fit(train_set, val_set)

Every epoch ends with ``last.npz`` (and ``best.npz`` when validation improved),
``history.json`` and ``curves.png`` in ``out_dir``; the epochs listed in
``snapshot_epochs`` also keep their checkpoint as ``epoch<E>.npz`` (to watch
features form, see docs/visualization.md). Checkpoints are written
atomically and hold everything a resume needs: weights, optimizer state, BatchNorm
statistics, epoch, step, and the states of both RNG streams (the backend's, for
dropout, and the data stream, for shuffling and augmentation). So
``fit(..., resume=True)`` continues an interrupted run exactly where its last
epoch ended, and ends with the same weights as a run never interrupted.
"""
import dataclasses
import json
import math
import os
import sys
import time

import numpy as np

from .data import augment_batch, iterate_batches, normalize
from .data.targets import MIXES, soft_targets
from .evaluate import classification_metrics, mean_cross_entropy, plot_curves, predict_logits
from .atomic import atomic_write_text
from .models import CheckpointError
from .optim import SGD, ConstantLR, CosineLR, OneCycleLR, StepLR, WarmupLR


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


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
                  ("lr", self.lr > 0), ("weight_decay", self.weight_decay >= 0),
                  ("max_shift", self.max_shift >= 0), ("patience", self.patience >= 0),
                  ("schedule", self.schedule in ("onecycle", "cosine", "step", "constant")),
                  ("label_smoothing", 0 <= self.label_smoothing < 1), ("mix", self.mix in MIXES),
                  ("mix_alpha", self.mix_alpha > 0), ("mix_probability", 0 <= self.mix_probability <= 1)]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"TrainConfig {name}={getattr(self, name)!r} is not valid")


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

    # --- paths ---------------------------------------------------------------
    def path(self, name):
        return os.path.join(self.out_dir, name)

    # --- the loop -----------------------------------------------------------
    def fit(self, train_set, val_set, resume=False):
        """Train until config.epochs (or early stopping); returns the history (list of dicts)."""
        os.makedirs(self.out_dir, exist_ok=True)
        if resume:
            self.resume_from(self.path("last.npz"))
        steps_per_epoch = math.ceil(len(train_set) / self.config.batch_size)
        schedule = make_schedule(self.config, steps_per_epoch)
        try:
            while self.epoch < self.config.epochs:
                if self.stopped_early():
                    log(f"early stopping: no validation improvement for {self.config.patience} "
                        f"epochs (best {self.best_score:.4f} at epoch {self.best_epoch})")
                    break
                self.epoch += 1
                train_row = self.train_one_epoch(train_set, schedule, steps_per_epoch)
                self.end_epoch(train_row, val_set)
        except KeyboardInterrupt:
            log(f"\ninterrupted in epoch {self.epoch}; {self.path('last.npz')} holds the end of "
                f"epoch {self.epoch - 1}: continue with --resume")
            raise
        return self.history

    def train_one_epoch(self, train_set, schedule, steps_per_epoch):
        config, model, backend = self.config, self.model, self.model.backend
        model.train()
        started = time.perf_counter()
        totals = {"loss": 0.0, "correct": 0, "seen": 0}
        window = []   # (batch index, loss, number correct, batch size), still on the device
        batches = iterate_batches(len(train_set), config.batch_size, rng=self.data_rng, shuffle=True)
        bar = progress_bar(total=steps_per_epoch, enabled=self.progress,
                           desc=f"epoch {self.epoch}/{config.epochs}")
        for batch_index, indices in enumerate(batches, start=1):
            images = normalize(train_set.images[indices], self.mean, self.std)
            images = augment_batch(images, self.data_rng, flip=config.flip,
                                   max_shift=config.max_shift, color_jitter=config.color_jitter)
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
            window.append((batch_index, loss, correct, len(indices)))
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

    def read_window(self, window, totals):
        """Bring the losses and hit counts of the last few steps to the host in one read.

        On a GPU every host read waits for the device to finish, so the loop
        reads once per ``sync_every`` steps, not once per step. This is also
        the NaN guard: the first non-finite loss stops training, naming its batch.
        """
        xp = self.model.backend.xp
        losses = xp.stack([loss for _, loss, _, _ in window])
        stats = self.model.backend.to_host(xp.stack(
            [losses, xp.stack([correct for _, _, correct, _ in window]).astype(losses.dtype)]))
        for (batch_index, _, _, size), loss_value, correct in zip(window, *stats):
            if not math.isfinite(loss_value):
                raise TrainingDiverged(
                    f"loss became {loss_value} at epoch {self.epoch}, batch {batch_index} "
                    f"(lr {self.optimizer.lr:.3g}); stopped. The last good checkpoint, "
                    f"{self.path('last.npz')}, is kept. Try a lower --lr.")
            totals["loss"] += float(loss_value) * size
            totals["correct"] += int(correct)
            totals["seen"] += size

    def end_epoch(self, row, val_set):
        started = time.perf_counter()
        logits = predict_logits(self.model, val_set.images, self.mean, self.std,
                                self.config.eval_batch_size, self.config.flip_average)
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
        self.save_checkpoint(self.path("last.npz"))
        if improved:
            self.save_checkpoint(self.path("best.npz"))
        if self.epoch in self.snapshot_epochs:
            self.save_checkpoint(self.path(f"epoch{self.epoch}.npz"))
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
                "data_rng_state": self.data_rng.bit_generator.state, **self.extra_meta}

    def save_checkpoint(self, path):
        self.model.save(path, optimizer=self.optimizer, meta=self.checkpoint_meta())

    def resume_from(self, path):
        if not os.path.exists(path):
            raise CheckpointError(f"cannot resume: no checkpoint at {path}")
        meta = self.model.load(path, optimizer=self.optimizer)
        saved_config = meta["config"]
        for field in ("batch_size", "seed", "lr", "schedule"):
            if saved_config[field] != getattr(self.config, field):
                raise CheckpointError(f"cannot resume {path}: it was trained with {field}="
                                 f"{saved_config[field]!r}, this run asks for "
                                 f"{getattr(self.config, field)!r}")
        self.epoch, self.step = meta["epoch"], meta["step"]
        self.best_score, self.best_epoch = meta["best_score"], meta["best_epoch"]
        self.history = meta["history"]
        self.data_rng.bit_generator.state = meta["data_rng_state"]
        log(f"resumed from {path} at the end of epoch {self.epoch} (step {self.step})")


def log(message):
    """Progress messages go to stderr, so stdout stays clean for --json output."""
    print(message, file=sys.stderr, flush=True)


def progress_bar(total, enabled, desc):
    from tqdm.auto import tqdm
    return tqdm(total=total, disable=not enabled, desc=desc, leave=False, file=sys.stderr,
                dynamic_ncols=True)
