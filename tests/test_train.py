"""The Trainer and the evaluate CLI: outputs, exact resume after a kill, NaN stop, JSON report."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from minicnn import Conv2D, Dense, GlobalAvgPool2D, MaxPool2D, ReLU, Sequential, SoftmaxCrossEntropy
from minicnn.data import ImageDataset
from minicnn.train import TrainConfig, Trainer, TrainingDiverged

from .conftest import REPO_ROOT

COLOURS = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200]], dtype=np.float64)


def colour_dataset(count=48, size=16, seed=0):
    """Each class is a dominant colour plus noise: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 3
    images = COLOURS[labels][:, :, None, None] + rng.normal(0, 40, (count, 3, size, size))
    images = np.clip(images, 0, 255).astype(np.uint8)
    return ImageDataset(images=images, labels=labels.astype(np.int64),
                        class_names=["red", "green", "blue"],
                        files=[f"{i}.jpg" for i in range(count)],
                        digests=[str(i) for i in range(count)], source="memory")


def tiny_model(seed=0):
    return Sequential([Conv2D(3, 4, 3, padding=1), ReLU(), MaxPool2D(2), GlobalAvgPool2D(),
                       Dense(4, 3), SoftmaxCrossEntropy()], backend="numpy").reset_parameters(seed)


def make_trainer(out_dir, callbacks=(), epochs=3, lr=0.05):
    config = TrainConfig(epochs=epochs, batch_size=8, lr=lr, max_shift=2, color_jitter=0.1, seed=4)
    return Trainer(tiny_model(), config, out_dir, ["red", "green", "blue"],
                   mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25], callbacks=callbacks,
                   progress=False)


def test_training_writes_its_outputs_and_learns(tmp_path):
    data = colour_dataset()
    trainer = make_trainer(tmp_path / "run")
    history = trainer.fit(data.subset(np.arange(36)), data.subset(np.arange(36, 48)))
    assert [row["epoch"] for row in history] == [1, 2, 3]
    for name in ("best.npz", "last.npz", "history.json", "curves.png"):
        assert (tmp_path / "run" / name).stat().st_size > 0, name
    assert json.loads((tmp_path / "run" / "history.json").read_text()) == history
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert not any(name.startswith(".tmp") for name in os.listdir(tmp_path / "run"))


KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {repo!r})
    from tests.test_train import colour_dataset, make_trainer
    import numpy as np

    def kill_in_epoch_3(trainer, epoch, batch):
        if epoch == 3 and batch == 2:
            os.kill(os.getpid(), signal.SIGKILL)

    data = colour_dataset()
    trainer = make_trainer({out!r}, callbacks=[kill_in_epoch_3], epochs=4)
    trainer.fit(data.subset(np.arange(36)), data.subset(np.arange(36, 48)))
""")


def test_resume_after_a_kill_matches_an_uninterrupted_run(tmp_path):
    data = colour_dataset()
    train_set, val_set = data.subset(np.arange(36)), data.subset(np.arange(36, 48))
    uninterrupted = make_trainer(tmp_path / "whole", epochs=4)
    uninterrupted.fit(train_set, val_set)

    script = KILLED_RUN.format(repo=str(REPO_ROOT), out=str(tmp_path / "killed"))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == -signal.SIGKILL, result.stderr
    killed_history = json.loads((tmp_path / "killed" / "history.json").read_text())
    assert [row["epoch"] for row in killed_history] == [1, 2]

    resumed = make_trainer(tmp_path / "killed", epochs=4)
    history = resumed.fit(train_set, val_set, resume=True)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    for key, value in uninterrupted.model.params.items():
        np.testing.assert_array_equal(resumed.model.params[key], value, err_msg=key)
    for key, value in uninterrupted.model.buffers.items():
        np.testing.assert_array_equal(resumed.model.buffers[key], value, err_msg=key)
    assert [row["train_loss"] for row in history] == [row["train_loss"]
                                                      for row in uninterrupted.history]


def test_resume_refuses_a_different_configuration(tmp_path):
    data = colour_dataset()
    make_trainer(tmp_path / "run", epochs=1).fit(data.subset(np.arange(36)),
                                                 data.subset(np.arange(36, 48)))
    other = make_trainer(tmp_path / "run", epochs=2, lr=0.1)
    with pytest.raises(ValueError, match="trained with lr=0.05, this run asks for 0.1"):
        other.fit(data.subset(np.arange(36)), data.subset(np.arange(36, 48)), resume=True)


def test_nan_loss_stops_with_epoch_and_batch_and_keeps_the_last_good_checkpoint(tmp_path):
    def poison(trainer, epoch, batch):
        if epoch == 2 and batch == 1:
            trainer.model.params["4.W"][...] = np.nan

    data = colour_dataset()
    trainer = make_trainer(tmp_path / "run", callbacks=[poison])
    with pytest.raises(TrainingDiverged, match="loss became nan at epoch 2, batch 2"):
        trainer.fit(data.subset(np.arange(36)), data.subset(np.arange(36, 48)))
    restored = tiny_model(seed=9)
    meta = restored.load(tmp_path / "run" / "last.npz")
    assert meta["epoch"] == 1
    assert all(np.all(np.isfinite(p)) for p in restored.parameters())


def write_class_folders(root, per_class=4, size=64, seed=0):
    """A split folder of class folders holding small JPEGs of the dataset's colours."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    for label, name in enumerate(["red", "green", "blue"]):
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            pixels = COLOURS[label] + rng.normal(0, 30, (size, size, 3))
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(root / name / f"{index}.jpg")


def test_evaluate_cli_prints_one_json_object(tmp_path, monkeypatch):
    monkeypatch.setenv("MINICNN_CACHE_DIR", str(tmp_path / "cache"))
    data = colour_dataset(size=64)
    trainer = make_trainer(tmp_path / "run", epochs=2)
    trainer.fit(data.subset(np.arange(36)), data.subset(np.arange(36, 48)))
    write_class_folders(tmp_path / "test", per_class=4)

    result = subprocess.run(
        [sys.executable, "-m", "minicnn", "evaluate", "--checkpoint", str(tmp_path / "run" / "best.npz"),
         "--data", str(tmp_path / "test"), "--json"],
        capture_output=True, text=True, cwd=REPO_ROOT,
        env={**os.environ, "MINICNN_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "per_class", "confusion_matrix"):
        assert key in report
    confusion = np.array(report["confusion_matrix"])
    assert confusion.shape == (3, 3) and confusion.sum() == 12
    assert report["accuracy"] == pytest.approx(np.trace(confusion) / 12)
    assert {name: row["support"] for name, row in report["per_class"].items()} == \
        {"red": 4, "green": 4, "blue": 4}
    assert report["flip_average"] is True  # the checkpoint's own setting (TrainConfig default)

    plain = subprocess.run(
        [sys.executable, "-m", "minicnn", "evaluate", "--checkpoint", str(tmp_path / "run" / "best.npz"),
         "--data", str(tmp_path / "test"), "--json", "--no-flip-average"],
        capture_output=True, text=True, cwd=REPO_ROOT,
        env={**os.environ, "MINICNN_CACHE_DIR": str(tmp_path / "cache")})
    assert json.loads(plain.stdout)["flip_average"] is False


def test_evaluate_cli_reports_a_missing_folder(tmp_path):
    make_trainer(tmp_path / "run", epochs=1).fit(colour_dataset().subset(np.arange(36)),
                                                 colour_dataset().subset(np.arange(36, 48)))
    result = subprocess.run(
        [sys.executable, "-m", "minicnn", "evaluate", "--checkpoint", str(tmp_path / "run" / "best.npz"),
         "--data", str(tmp_path / "nowhere"), "--json"],
        capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 2
    assert "nowhere" in result.stderr and result.stdout == ""
