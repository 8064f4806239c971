"""minicnn.io: the files minicnn writes and reads back, written so that nothing is ever half done.

    atomic.py             atomic file writes: a file is the old one or the whole new one, never half
    checkpoint.py         the checkpoint file: a model, its optimizer's state and metadata in one .npz
    checkpoint_checks.py  what a checkpoint must hold before a model is built or changed from it

Checkpoints hold only arrays and JSON and are read with ``allow_pickle=False``:
loading one never executes code.
"""
from .atomic import atomic_savez, atomic_write, atomic_write_text
from .checkpoint import (CHECKPOINT_FORMAT, load_checkpoint, read_checkpoint, read_checkpoint_meta,
                         save_checkpoint)
from .checkpoint_checks import CheckpointError

__all__ = ["atomic_savez", "atomic_write", "atomic_write_text", "CHECKPOINT_FORMAT",
           "CheckpointError", "load_checkpoint", "read_checkpoint", "read_checkpoint_meta",
           "save_checkpoint"]
