"""The parts of minicnn/train, each on its own: train_step, TrainingBatches, DivergenceGuard,
RunCheckpoints and check_resumable."""
import numpy as np
import pytest

from minicnn import CheckpointError, Dense, Sequential, SoftmaxCrossEntropy
from minicnn.backend import get_backend
from minicnn.functional import softmax
from minicnn.optim import SGD
from minicnn.train import TrainConfig, TrainingDiverged
from minicnn.train.batches import TrainingBatches
from minicnn.train.checkpoints import RESUME_MUST_MATCH, RunCheckpoints, check_resumable
from minicnn.train.guard import DivergenceGuard
from minicnn.train.step import train_step

from .test_train import colour_dataset


def dense_classifier(seed=0):
    return Sequential([Dense(4, 3), SoftmaxCrossEntropy()],
                      backend=get_backend("numpy", dtype="float64")).reset_parameters(seed)


# --- train_step -------------------------------------------------------------------------------

def test_train_step_is_one_step_of_gradient_descent_on_the_mean_cross_entropy():
    """For logits = x W + b: dL/dW = x^T (p - onehot(y)) / N, so plain SGD moves W by -lr times it."""
    rng = np.random.default_rng(0)
    model = dense_classifier()
    x, y = rng.standard_normal((5, 4)), np.array([0, 2, 1, 2, 0])
    W, b = model.params["0.W"].copy(), model.params["0.b"].copy()
    probabilities = softmax(x @ W + b)
    delta = probabilities.copy()
    delta[np.arange(5), y] -= 1
    loss, logits = train_step(model, SGD(0.5, momentum=0.0, nesterov=False), x, y)
    np.testing.assert_allclose(logits, x @ W + b, rtol=1e-12)
    np.testing.assert_allclose(loss, -np.log(probabilities[np.arange(5), y]).mean(), rtol=1e-12)
    np.testing.assert_allclose(model.params["0.W"], W - 0.5 * x.T @ delta / 5, rtol=1e-12)
    np.testing.assert_allclose(model.params["0.b"], b - 0.5 * delta.sum(axis=0) / 5, rtol=1e-12)


def test_train_step_takes_soft_targets():
    """With one-hot targets, a step equals the step on the integer labels."""
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((6, 4)), np.array([0, 1, 2, 0, 1, 2])
    by_label, by_target = dense_classifier(), dense_classifier()
    train_step(by_label, SGD(0.1), x, y)
    train_step(by_target, SGD(0.1), x, np.eye(3)[y])
    np.testing.assert_allclose(by_target.params["0.W"], by_label.params["0.W"], rtol=1e-12)


# --- TrainingBatches --------------------------------------------------------------------------

def batches(mix="none", seed=0, **config):
    data = colour_dataset(count=24, size=8)
    config = TrainConfig(batch_size=8, mix=mix, seed=seed, **config)
    return data, TrainingBatches(data, config, np.full(3, 128.0), np.full(3, 64.0), 3,
                                 get_backend("numpy"), np.random.default_rng(seed))


def test_one_epoch_visits_every_image_once_in_a_seeded_order():
    data, first = batches()
    _, again = batches()
    epoch = list(first.epoch())
    assert len(first) == 3 and [batch.index for batch in epoch] == [1, 2, 3]
    assert sum(batch.size for batch in epoch) == len(data)
    for batch, repeat in zip(epoch, again.epoch()):
        np.testing.assert_array_equal(batch.images, repeat.images)
        np.testing.assert_array_equal(batch.labels, repeat.labels)
    np.testing.assert_array_equal(np.sort(np.concatenate([b.labels for b in epoch])),
                                  np.sort(data.labels))


@pytest.mark.parametrize("mix", ["mixup", "cutmix"])
def test_under_mixing_each_image_is_scored_as_the_class_with_the_largest_share(mix):
    """Issue 20: training accuracy under mixup and cutmix was scored against the labels before
    mixing (``targets = labels = ...``, then targets rebound), so an image that is 70% "blue"
    counted as right only if the network said "red"."""
    _, mixed = batches(mix=mix, mix_alpha=0.3)
    relabelled = 0
    for batch in (batch for _ in range(8) for batch in mixed.epoch()):
        assert batch.targets.shape == (batch.size, 3)
        np.testing.assert_allclose(batch.targets.sum(axis=1), 1.0)
        np.testing.assert_array_equal(batch.labels, batch.targets.argmax(axis=1))
        relabelled += int((batch.targets.max(axis=1) < 1).sum())
    assert relabelled > 0   # the test would not tell the two rules apart without mixed images


# --- DivergenceGuard --------------------------------------------------------------------------

def test_the_guard_sums_the_window_and_names_the_first_bad_step():
    model = dense_classifier()
    guard = DivergenceGuard(model, sync_every=2, describe_run=lambda: ("epoch 1", "nothing kept"))
    assert guard.record(1, 0.1, np.float64(2.0), np.int64(3), 4) is False   # window not full
    assert guard.record(2, 0.1, np.float64(1.0), np.int64(1), 4) is True
    assert guard.totals == {"loss": 12.0, "correct": 4, "seen": 8}
    guard.record(3, 0.2, np.float64(np.nan), np.int64(0), 4)
    with pytest.raises(TrainingDiverged, match=r"epoch 1, batch 3 \(lr 0.2\): the loss became nan"):
        guard.check()


def test_the_guard_names_the_parameter_a_step_left_non_finite():
    model = dense_classifier()
    guard = DivergenceGuard(model, sync_every=1, describe_run=lambda: ("epoch 2", "nothing kept"))
    model.params["0.W"][0, 0] = np.inf
    with pytest.raises(TrainingDiverged, match=r"non-finite values in 0.W \(Dense\)"):
        guard.record(7, 0.1, np.float64(0.5), np.int64(1), 4)
    with pytest.raises(ValueError, match="sync_every must be an integer >= 1, got 0"):
        DivergenceGuard(model, sync_every=0, describe_run=None)


# --- RunCheckpoints and check_resumable --------------------------------------------------------

def test_last_npz_is_written_last_and_snapshots_only_on_their_epochs(tmp_path):
    checkpoints = RunCheckpoints(tmp_path, snapshot_epochs=(2,))
    assert checkpoints.names_for_epoch(1, improved=True) == ["best.npz", "last.npz"]
    assert checkpoints.names_for_epoch(2, improved=False) == ["epoch2.npz", "last.npz"]
    assert checkpoints.kept() == "no epoch has finished, so no checkpoint was written"
    assert not checkpoints.resumable()


def resume_meta(config, **changes):
    meta = {"class_names": ["a", "b"], "config": config.__dict__.copy(), "epoch": 1, "step": 3,
            "best_score": 0.5, "best_epoch": 1, "history": [], "data_rng_state": {},
            "split_fingerprint": "abc"}
    meta.update(changes)
    return meta


def another_value(value):
    """A value of the same kind as ``value``, but not equal to it."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    return f"{value}-other"


@pytest.mark.parametrize("field", RESUME_MUST_MATCH)
def test_resume_refuses_another_setting_that_shapes_the_run(field):
    config = TrainConfig()
    meta = resume_meta(config)
    meta["config"][field] = another_value(getattr(config, field))
    with pytest.raises(CheckpointError, match=f"it was trained with {field}="):
        check_resumable(meta, "last.npz", ["a", "b"], config, "abc", warn=print)


def test_resume_refuses_other_classes_other_data_and_a_foreign_file():
    config, warnings = TrainConfig(), []
    check_resumable(resume_meta(config), "last.npz", ["a", "b"], config, "abc", warnings.append)
    assert warnings == []
    with pytest.raises(CheckpointError, match=r"trained on the classes \['a', 'b'\]"):
        check_resumable(resume_meta(config), "last.npz", ["a", "c"], config, "abc", print)
    with pytest.raises(CheckpointError, match="training and validation images differ"):
        check_resumable(resume_meta(config), "last.npz", ["a", "b"], config, "xyz", print)
    with pytest.raises(CheckpointError, match="not saved by the Trainer"):
        check_resumable({"epoch": 1}, "last.npz", ["a", "b"], config, "abc", print)
    old = resume_meta(config)
    del old["split_fingerprint"]
    check_resumable(old, "last.npz", ["a", "b"], config, "abc", warnings.append)
    assert "before checkpoints recorded their data split" in warnings[0]
