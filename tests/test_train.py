"""The Trainer and the evaluate CLI: outputs, exact resume after a kill, NaN stop, JSON report."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from minicnn import (BatchNorm2D, CheckpointError, Conv2D, Dense, GlobalAvgPool2D, MaxPool2D, ReLU,
                     Sequential, SoftmaxCrossEntropy)
from minicnn.cli.exits import BAD_DATA
from minicnn.data import DataError, ImageDataset
from minicnn.models import read_checkpoint_meta
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
    assert (tmp_path / "killed" / ".lock").exists()   # the killed run could not remove it

    resumed = make_trainer(tmp_path / "killed", epochs=4)
    history = resumed.fit(train_set, val_set, resume=True)
    assert not (tmp_path / "killed" / ".lock").exists()
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
    with pytest.raises(ValueError, match="trained with lr=0.05; this run asks for lr=0.1"):
        other.fit(data.subset(np.arange(36)), data.subset(np.arange(36, 48)), resume=True)


def test_nan_loss_stops_with_epoch_and_batch_and_keeps_the_last_good_checkpoint(tmp_path):
    def poison(trainer, epoch, batch):
        if epoch == 2 and batch == 1:
            trainer.model.params["4.W"][...] = np.nan

    data = colour_dataset()
    trainer = make_trainer(tmp_path / "run", callbacks=[poison])
    with pytest.raises(TrainingDiverged, match=r"training diverged at epoch 2, batch 2 \(lr [0-9.]+\): the loss became nan"):
        trainer.fit(data.subset(np.arange(36)), data.subset(np.arange(36, 48)))
    restored = tiny_model(seed=9)
    meta = restored.load(tmp_path / "run" / "last.npz")
    assert meta["epoch"] == 1
    assert all(np.all(np.isfinite(p)) for p in restored.params.values())


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
    assert result.returncode == BAD_DATA
    assert "nowhere" in result.stderr and result.stdout == ""


# --- checkpoint order, interruptions and the divergence guard (issue 15) -----------------------

def split(data):
    return data.subset(np.arange(36)), data.subset(np.arange(36, 48))


def recorded_saves(monkeypatch):
    """Patch Trainer.save_checkpoint to log (epoch, file name) of every checkpoint written."""
    saves = []
    original = Trainer.save_checkpoint

    def save(trainer, path):
        original(trainer, path)
        saves.append((trainer.epoch, os.path.basename(path)))
    monkeypatch.setattr(Trainer, "save_checkpoint", save)
    return saves


def test_each_epoch_writes_best_then_snapshots_then_last(tmp_path, monkeypatch):
    saves = recorded_saves(monkeypatch)
    trainer = make_trainer(tmp_path / "run", epochs=3)
    trainer.checkpoints.snapshot_epochs = frozenset({2})
    trainer.fit(*split(colour_dataset()))
    for epoch in (1, 2, 3):
        names = [name for saved_epoch, name in saves if saved_epoch == epoch]
        assert names[-1] == "last.npz", (epoch, names)
        assert names.index("last.npz") == len(names) - 1
    assert [name for epoch, name in saves if epoch == 1] == ["best.npz", "last.npz"]
    assert [name for epoch, name in saves if epoch == 2][-2:] == ["epoch2.npz", "last.npz"]


def test_an_interruption_between_the_saves_never_leaves_a_report_naming_another_epochs_file(
        tmp_path, monkeypatch, capsys):
    """Issue 15: with last.npz written first, a stop before best.npz left last.npz claiming a
    best epoch whose weights best.npz did not hold; a resume then reported the wrong file."""
    data = colour_dataset()
    uninterrupted = make_trainer(tmp_path / "whole", epochs=4, lr=0.01)
    uninterrupted.fit(*split(data))
    accuracies = [row["val_accuracy"] for row in uninterrupted.history]
    improving = [epoch for epoch in range(2, 5) if accuracies[epoch - 1] > max(accuracies[:epoch - 1])]
    assert improving, "no epoch after the first improved: the test would prove nothing"
    stop_in = improving[-1]   # the last improvement: nothing after it overwrites best.npz
    original = Trainer.save_checkpoint

    def stop_after_the_first_save(trainer, path):
        original(trainer, path)
        if trainer.epoch == stop_in:
            raise KeyboardInterrupt
    monkeypatch.setattr(Trainer, "save_checkpoint", stop_after_the_first_save)
    with pytest.raises(KeyboardInterrupt):
        make_trainer(tmp_path / "run", epochs=4, lr=0.01).fit(*split(data))
    message = capsys.readouterr().err
    for name in ("last.npz", "best.npz"):
        epoch = read_checkpoint_meta(tmp_path / "run" / name)["epoch"]
        assert f"{name} holds epoch {epoch}" in message
    monkeypatch.setattr(Trainer, "save_checkpoint", original)

    resumed = make_trainer(tmp_path / "run", epochs=4, lr=0.01)
    resumed.fit(*split(data), resume=True)
    best = read_checkpoint_meta(tmp_path / "run" / "best.npz")
    assert best["epoch"] == resumed.best_epoch == uninterrupted.best_epoch == stop_in
    assert read_checkpoint_meta(tmp_path / "run" / "last.npz")["best_epoch"] == best["epoch"]


def test_ctrl_c_names_only_checkpoints_that_exist_and_the_epoch_they_hold(tmp_path, monkeypatch,
                                                                           capsys):
    def interrupt(trainer, epoch, batch):
        raise KeyboardInterrupt
    trainer = make_trainer(tmp_path / "first", callbacks=[interrupt])
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(*split(colour_dataset()))
    message = capsys.readouterr().err
    assert "no epoch has finished, so no checkpoint was written" in message
    assert "last.npz" not in message and "--resume" not in message

    from minicnn.train import trainer as train_module
    calls = []

    def interrupt_the_second_plot(history, path):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
    monkeypatch.setattr(train_module, "plot_curves", interrupt_the_second_plot)
    with pytest.raises(KeyboardInterrupt):
        make_trainer(tmp_path / "second").fit(*split(colour_dataset()))
    message = capsys.readouterr().err
    assert "interrupted in epoch 2" in message
    assert "last.npz holds epoch 2" in message and "continue with --resume" in message


def poison_at(trainer, epoch, batch, poison):
    """Apply ``poison(model)`` inside the optimizer step of (epoch, batch), after the update."""
    real_step = trainer.optimizer.step

    def step(model):
        real_step(model)
        if trainer.epoch == epoch and trainer.step == (epoch - 1) * 5 + batch - 1:
            poison(model)
    trainer.optimizer.step = step


def lr_of(trainer, epoch, batch):
    from minicnn.train import make_schedule
    return make_schedule(trainer.config, 5)((epoch - 1) * 5 + batch - 1)


def assert_every_checkpoint_is_finite(folder):
    checkpoints = sorted(folder.glob("*.npz"))
    assert checkpoints
    for path in checkpoints:
        with np.load(path) as data:
            for key in data.files:
                if data[key].dtype.kind == "f":
                    assert np.all(np.isfinite(data[key])), (path.name, key)


@pytest.mark.parametrize("target, value", [("1.running_var", np.inf), ("4.W", np.nan)])
def test_non_finite_weights_stop_the_run_at_the_batch_that_made_them(tmp_path, target, value):
    """Issue 15: infinite BatchNorm variances went unnoticed (training loss finite, validation
    on running statistics), were saved, and the run exited 0; the message quoted the rate of
    a later batch than the one that failed."""
    model = Sequential([Conv2D(3, 4, 3, padding=1), BatchNorm2D(4), ReLU(), GlobalAvgPool2D(),
                        Dense(4, 3), SoftmaxCrossEntropy()], backend="numpy").reset_parameters(0)
    config = TrainConfig(epochs=3, batch_size=8, lr=0.05, seed=4)
    trainer = Trainer(model, config, tmp_path / "run", ["red", "green", "blue"],
                      mean=[0.5] * 3, std=[0.25] * 3, progress=False)

    def poison(model):
        {**model.params, **model.buffers}[target][1] = value   # BatchNorm replaces its buffers
    poison_at(trainer, epoch=2, batch=2, poison=poison)
    with pytest.raises(TrainingDiverged) as caught:
        trainer.fit(*split(colour_dataset()))
    message = str(caught.value)
    assert (f"training diverged at epoch 2, batch 2 (lr {lr_of(trainer, 2, 2):.3g}): the update "
            f"left non-finite values in {target} (") in message
    assert "last.npz holds epoch 1" in message
    assert_every_checkpoint_is_finite(tmp_path / "run")


def test_the_divergence_message_names_no_checkpoint_before_the_first_epoch_ends(tmp_path):
    """Issue 15: --lr 1e9 --quick said "last.npz is kept" when none existed."""
    trainer = make_trainer(tmp_path / "run")

    def poison(model):
        model.params["4.W"][...] = np.nan
    poison_at(trainer, epoch=1, batch=3, poison=poison)
    with pytest.raises(TrainingDiverged, match=r"at epoch 1, batch 3 .*: the update left non-finite "
                       r"values in 4.W \(Dense\)\. Stopped; no epoch has finished, so no "
                       r"checkpoint was written"):
        trainer.fit(*split(colour_dataset()))
    assert not list((tmp_path / "run").glob("*.npz"))


def test_a_non_finite_validation_loss_stops_the_run(tmp_path, monkeypatch):
    """Issue 15: with --lr 1e6 the validation loss was NaN every epoch and the run exited 0."""
    from minicnn.train import trainer as train_module
    real_predict = train_module.predict_logits

    def overflowing_in_epoch_2(model, images, *args):
        logits = real_predict(model, images, *args)
        return logits * np.nan if trainer.epoch == 2 else logits
    monkeypatch.setattr(train_module, "predict_logits", overflowing_in_epoch_2)
    trainer = make_trainer(tmp_path / "run")
    with pytest.raises(TrainingDiverged, match=rf"at epoch 2, batch 5 \(lr {lr_of(trainer, 2, 5):.3g}"
                       rf"\): after this last step of the epoch, the validation logits became "
                       rf"non-finite"):
        trainer.fit(*split(colour_dataset()))
    assert read_checkpoint_meta(tmp_path / "run" / "last.npz")["epoch"] == 1
    assert_every_checkpoint_is_finite(tmp_path / "run")


@pytest.mark.parametrize("field, value", [("lr", float("inf")), ("lr", float("nan")),
                                          ("momentum", 1.0), ("color_jitter", 1.0),
                                          ("weight_decay", float("inf")), ("epochs", 0)])
def test_train_config_refuses_values_that_cannot_train(field, value):
    with pytest.raises(ValueError, match=rf"TrainConfig {field} must be .*, got {value!r}$"):
        TrainConfig(**{field: value})


# --- what fit refuses before the first epoch -------------------------------------------------

def test_a_single_class_is_refused(tmp_path):
    """Issue 15: a 1-class dataset trained to "100%" with no warning."""
    data = colour_dataset()
    red = data.subset(np.flatnonzero(data.labels == 0))
    red.class_names = ["red"]
    trainer = Trainer(tiny_model(), TrainConfig(epochs=1, batch_size=8), tmp_path / "run", ["red"],
                      mean=[0.5] * 3, std=[0.25] * 3, progress=False)
    with pytest.raises(DataError, match=r"1 class \(red\): a classifier needs at least 2"):
        trainer.fit(red.subset(np.arange(10)), red.subset(np.arange(10, 16)))
    assert not (tmp_path / "run").exists()


def test_an_empty_validation_split_is_refused_before_training(tmp_path):
    data = colour_dataset()
    trainer = make_trainer(tmp_path / "run")
    with pytest.raises(DataError, match="the validation split is empty"):
        trainer.fit(data, data.subset(np.arange(0)))
    assert trainer.history == []


def test_resume_refuses_other_classes_and_another_split(tmp_path, capsys):
    """Issue 15: --resume on another dataset continued with swapped names, statistics and split."""
    data = colour_dataset()
    make_trainer(tmp_path / "run", epochs=1).fit(*split(data))
    renamed = colour_dataset()
    renamed.class_names = ["rot", "green", "blue"]
    other_names = Trainer(tiny_model(), make_trainer(tmp_path / "x").config, tmp_path / "run",
                          renamed.class_names, mean=[0.5] * 3, std=[0.25] * 3, progress=False)
    with pytest.raises(CheckpointError, match=r"trained on the classes \['red', 'green', 'blue'\], "
                                              r"the data has \['rot', 'green', 'blue'\]"):
        other_names.fit(*split(renamed), resume=True)
    reshuffled = data.subset(np.arange(48)[::-1])
    with pytest.raises(CheckpointError, match="training and validation images differ"):
        make_trainer(tmp_path / "run", epochs=2).fit(*split(reshuffled), resume=True)
    assert read_checkpoint_meta(tmp_path / "run" / "last.npz")["epoch"] == 1


def test_resume_of_a_checkpoint_without_a_split_fingerprint_warns(tmp_path, capsys):
    data = colour_dataset()
    first = make_trainer(tmp_path / "run", epochs=1)
    first.fit(*split(data))
    meta = first.checkpoint_meta()
    del meta["split_fingerprint"]
    first.model.save(tmp_path / "run" / "last.npz", optimizer=first.optimizer, meta=meta)
    history = make_trainer(tmp_path / "run", epochs=2).fit(*split(data), resume=True)
    assert [row["epoch"] for row in history] == [1, 2]
    assert "resuming without checking that the data is the same" in capsys.readouterr().err
