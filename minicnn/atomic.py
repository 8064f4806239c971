"""Atomic file writes: a file is either the old one or the complete new one, never half.

Write to a temporary file in the same folder, flush it to disk, then rename it
over the target. ``os.replace`` is atomic on one file system, so a crash or a
Ctrl-C mid-write leaves the previous file intact (and no temporary behind).
Checkpoints, history.json and the dataset cache all go through here.
"""
import os
import tempfile

import numpy as np


def atomic_write(path, write, mode="wb"):
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it onto ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(handle, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def atomic_savez(path, arrays):
    """np.savez of ``arrays`` (a dict) to ``path``, atomically."""
    atomic_write(path, lambda file: np.savez(file, **arrays))


def atomic_write_text(path, text):
    """A UTF-8 text file, atomically."""
    atomic_write(path, lambda file: file.write(text), mode="w")
