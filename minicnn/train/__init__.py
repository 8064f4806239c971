"""minicnn.train: fitting a model. The step is one function; the rest orchestrates it.

    step.py          train_step(model, optimizer, images, targets) -> (loss, logits): start here
    config.py        TrainConfig (every setting of a run, checked) and make_schedule
    batches.py       TrainingBatches: shuffled, normalized, augmented batches with their targets
    guard.py         DivergenceGuard and TrainingDiverged: training stops at the first NaN
    checkpoints.py   RunCheckpoints: best.npz, epoch<E>.npz, last.npz; check_resumable
    run_folder.py    a run folder held by one run at a time
    trainer.py       Trainer: the epochs, validation, logging

    trainer = Trainer(model, TrainConfig(epochs=30), "runs/ahe", class_names, mean, std)
    history = trainer.fit(train_set, val_set)
"""
from .batches import Batch, TrainingBatches
from .checkpoints import RESUME_KEYS, RunCheckpoints, check_resumable
from .config import TrainConfig, make_schedule
from .guard import DivergenceGuard, StepRecord, TrainingDiverged
from .run_folder import RunFolderBusy, RunFolderError, hold_run_folder
from .step import train_step
from .trainer import Trainer, check_training_data, split_fingerprint

__all__ = ["train_step", "Trainer", "TrainConfig", "make_schedule", "TrainingDiverged",
           "DivergenceGuard", "StepRecord", "TrainingBatches", "Batch", "RunCheckpoints",
           "check_resumable", "RESUME_KEYS", "RunFolderError", "RunFolderBusy",
           "hold_run_folder", "check_training_data", "split_fingerprint"]
