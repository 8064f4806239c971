"""Checkpoints as files on disk: their mode, and what a hand-edited or hostile one gets.

Every bad file must raise one CheckpointError naming the file and what is wrong,
before any layer is built or any weight replaced (minicnn/checkpoint_checks.py).
"""
import json
import os
import stat

import numpy as np
import pytest

from minicnn import layers
from minicnn.atomic import atomic_write_text
from minicnn.checkpoint_checks import PARAMETER_SHAPES
from minicnn.layers import Layer
from minicnn.models import CheckpointError, Sequential
from minicnn.optim import SGD

from .test_models import small_model


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_checkpoints_and_text_files_get_the_umask_mode_not_0600(tmp_path, umask_022):
    """A TA's account must be able to read a student's run, as it can any file they write."""
    small_model().save(tmp_path / "best.npz")
    atomic_write_text(tmp_path / "history.json", "[]")
    for name in ("best.npz", "history.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
