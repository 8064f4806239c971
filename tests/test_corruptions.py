"""Tests for minicnn/data/corruptions.py, minicnn/evaluate/robustness.py and
``python -m minicnn evaluate --corruptions``: each corruption does what its name says on a
synthetic image, the corruptions are seeded, and the command's JSON is its table."""
import json
import re

import numpy as np
import pytest
from PIL import Image

from minicnn.cli import main as minicnn_main
from minicnn.data.corruptions import (CORRUPTIONS, corrupt_image, corrupt_images,
                                      corruption_levels)

SIZE = 64


def edge_image():
    """Left half dark, right half bright, with a red-green-blue texture so colour changes show."""
    rng = np.random.default_rng(0)
    pixels = np.full((SIZE, SIZE, 3), 60, dtype=np.uint8)
    pixels[:, SIZE // 2:] = 190
    pixels = pixels.astype(np.int16) + rng.integers(-20, 21, (SIZE, SIZE, 3))
    pixels[..., 0] += 25
    pixels[..., 2] -= 25
    return np.clip(pixels, 0, 255).astype(np.uint8)


def as_batch(pixels):
    return pixels.transpose(2, 0, 1)[None].copy()


def corrupted(name, severity, pixels=None, seed=0):
    """The synthetic image under one corruption, through the decode path -> (S, S, 3) floats."""
    batch = as_batch(edge_image() if pixels is None else pixels)
    return corrupt_images(batch, name, severity, seed)[0].transpose(1, 2, 0).astype(np.float64)


def edge_step(pixels):
    """How sharp the edge is: the energy of the column-to-column steps of the mean brightness
    (a step of 128 in one column scores 128^2; spread over two columns, half of that)."""
    grey = pixels.mean(axis=2).mean(axis=0)
    return np.square(np.diff(grey)).sum()


def test_blur_softens_the_edge_more_with_severity():
    steps = [edge_step(edge_image().astype(float))] + [edge_step(corrupted("blur", s)) for s in (1, 2, 3)]
    assert all(later < 0.8 * earlier for earlier, later in zip(steps, steps[1:])), steps


def test_resolution_loss_softens_the_edge():
    """Where the edge falls on the small image's grid decides how much of it survives (at 1/2
    the edge sits on a pixel boundary), so the severities are not in order; 1/3 is the softest."""
    original = edge_step(edge_image().astype(float))
    steps = [edge_step(corrupted("resolution", s)) for s in (1, 2, 3)]
    assert max(steps) < 0.5 * original and steps[2] == min(steps), (original, steps)


def test_resampling_up_and_down_keeps_the_image_nearly_unchanged():
    original = edge_image().astype(float)
    for severity in (1, 2, 3):
        assert corrupted("resample", severity).shape == original.shape
        assert np.abs(corrupted("resample", severity) - original).mean() < 8
        # sharper than the mildest blur leaves it
        assert edge_step(corrupted("resample", severity)) > 1.1 * edge_step(corrupted("blur", 1))


def test_grayscale_has_equal_channels():
    pixels = corrupted("grayscale", 1)
    assert np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 1], pixels[..., 2])
    assert not np.array_equal(edge_image()[..., 0], edge_image()[..., 2])


def test_saturation_moves_the_channels_towards_each_other():
    spread = [np.abs(edge_image()[..., 0].astype(float) - edge_image()[..., 2]).mean()]
    spread += [np.abs(corrupted("saturation", s)[..., 0] - corrupted("saturation", s)[..., 2]).mean()
               for s in (1, 2, 3)]
    assert all(later < earlier for earlier, later in zip(spread, spread[1:])), spread


def test_jpeg_changes_the_pixels_but_keeps_the_mean():
    original = edge_image().astype(float)
    for severity in (1, 2, 3):
        pixels = corrupted("jpeg", severity)
        assert np.abs(pixels - original).mean() > 2
        assert abs(pixels.mean() - original.mean()) < 1.5


@pytest.mark.parametrize("name, factors", [("darken", (0.8, 0.7, 0.5)), ("brighten", (1.2, 1.3, 1.5))])
def test_brightness_scales_the_mean(name, factors):
    original = edge_image().astype(float)
    for severity, factor in zip((1, 2, 3), factors):
        expected = np.clip(original * factor, 0, 255).mean()
        assert abs(corrupted(name, severity).mean() - expected) < 1.0


def test_contrast_shrinks_the_spread_and_keeps_the_mean():
    original = edge_image().astype(float)
    for severity, factor in zip((1, 2, 3), (0.8, 0.6, 0.4)):
        pixels = corrupted("contrast", severity)
        assert abs(pixels.std() / original.std() - factor) < 0.05
        assert abs(pixels.mean() - original.mean()) < 3


def test_crop_zoom_enlarges_the_centre():
    """A centred square of side 16: cropping to 70% and enlarging makes it 16 / 0.7 = 23 wide."""
    pixels = np.zeros((SIZE, SIZE, 3), dtype=np.uint8)
    pixels[24:40, 24:40] = 255
    width = (corrupted("crop_zoom", 3, pixels)[SIZE // 2, :, 0] > 127).sum()
    assert abs(width - 16 / 0.7) <= 1.5


def test_a_shift_moves_a_dot_by_the_severity_step_in_a_seeded_direction():
    pixels = np.zeros((SIZE, SIZE, 3), dtype=np.uint8)
    pixels[30, 30] = 255
    for severity, step in zip((1, 2, 3), (2, 4, 6)):
        moved = corrupted("shift", severity, pixels, seed=4)
        row, column = np.unravel_index(moved[..., 0].argmax(), moved.shape[:2])
        assert abs(row - 30) == step and abs(column - 30) == step
    directions = {tuple(np.sign(np.subtract(np.unravel_index(
        corrupted("shift", 1, pixels, seed=seed)[..., 0].argmax(), (SIZE, SIZE)), 30)))
        for seed in range(12)}
    assert len(directions) > 1, "every seed moved the dot the same way"


def test_corruptions_are_seeded_and_leave_the_input_alone():
    images = np.random.default_rng(1).integers(0, 256, (5, 3, SIZE, SIZE), dtype=np.uint8)
    before = images.copy()
    first = corrupt_images(images, "shift", 2, seed=7)
    assert np.array_equal(first, corrupt_images(images, "shift", 2, seed=7))
    assert not np.array_equal(first, corrupt_images(images, "shift", 2, seed=8))
    assert np.array_equal(images, before)


def test_corruption_levels_and_bad_names():
    levels = corruption_levels((1, 3))
    assert ("grayscale", 3) in levels and ("jpeg", 3) in levels and ("jpeg", 2) not in levels
    assert len(corruption_levels()) == 3 * len(CORRUPTIONS)
    with pytest.raises(ValueError, match="unknown corruption 'snow'"):
        corrupt_images(np.zeros((1, 3, 8, 8), np.uint8), "snow", 1)
    with pytest.raises(ValueError, match="grayscale has severities 1 to 3, got 4"):
        corrupt_image(Image.new("RGB", (8, 8)), "grayscale", 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match="severities must be among"):
        corruption_levels((4,))


# --- the command ----------------------------------------------------------------------------

def test_evaluate_corruptions_json_matches_its_table(tmp_path, capsys):
    from tests.test_cli import colour_dataset, make_trainer, write_class_folders

    data = colour_dataset()
    make_trainer(tmp_path / "run", epochs=1).fit(data.subset(np.arange(36)), data.subset(np.arange(36, 48)))
    write_class_folders(tmp_path / "test", per_class=4, seed=1)
    checkpoint = tmp_path / "run" / "best.npz"
    report_file, figure = tmp_path / "out" / "robustness.json", tmp_path / "out" / "robustness.png"
    assert minicnn_main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(tmp_path / "test"),
                         "--corruptions", "--severities", "1,3", "--json", str(report_file),
                         "--figure", str(figure), "--backend", "numpy"]) == 0
    table = capsys.readouterr().out
    report = json.loads(report_file.read_text())
    assert figure.stat().st_size > 0
    assert report["images"] == 12 and {row["severity"] for row in report["results"]} == {1, 3}
    assert len(report["results"]) == 2 * 11
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[2:-1]}
    assert rows["none"] == [f"{100 * report['clean']['accuracy']:.2f}%"]
    for row in report["results"]:
        column = 0 if row["severity"] == 1 else 1
        assert rows[row["corruption"]][column] == f"{100 * row['accuracy']:.2f}%"
    assert f"{100 * report['mean_accuracy']:.2f}%" in table.splitlines()[-1]
    assert report["mean_accuracy"] == pytest.approx(np.mean([row["accuracy"] for row in report["results"]]))
    # --json alone prints the same report, and nothing else, on stdout
    assert minicnn_main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(tmp_path / "test"),
                         "--corruptions", "--severities", "1,3", "--json", "--backend", "numpy"]) == 0
    assert json.loads(capsys.readouterr().out) == report


@pytest.mark.parametrize("arguments, message", [
    (["--corruptions", "--severities", "0,1"], "expected comma-separated severities among 1, 2, 3"),
    (["--figure", "f.png"], "--figure draws the robustness table: add --corruptions")])
def test_evaluate_refuses_bad_corruption_arguments(arguments, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        minicnn_main(["evaluate", "--checkpoint", "c.npz", "--data", "d", *arguments])
    assert stopped.value.code == 2
    assert re.search(re.escape(message), capsys.readouterr().err)


# --- degrade_batch: the degradations as training augmentation -------------------------------

def photo_batch(count=40, seed=2):
    """Edge images with a per-image brightness, so images differ."""
    base = edge_image().transpose(2, 0, 1).astype(np.int16)
    offsets = np.random.default_rng(seed).integers(-40, 41, count)[:, None, None, None]
    return np.clip(base[None] + offsets, 0, 255).astype(np.uint8)


def test_degrade_batch_is_seeded_and_leaves_its_input_alone():
    from minicnn.data.augmentation import degrade_batch
    images = photo_batch()
    before = images.copy()
    first = degrade_batch(images, np.random.default_rng(3), degrade=0.5, grayscale=0.2)
    assert np.array_equal(first, degrade_batch(images, np.random.default_rng(3), 0.5, 0.2))
    assert not np.array_equal(first, degrade_batch(images, np.random.default_rng(4), 0.5, 0.2))
    assert np.array_equal(images, before)
    assert np.array_equal(degrade_batch(images, np.random.default_rng(3)), images)


def test_degrade_batch_degrades_about_its_share_and_keeps_the_brightness():
    from minicnn.data.augmentation import degrade_batch
    images = photo_batch(200)
    out = degrade_batch(images, np.random.default_rng(0), degrade=0.5)
    changed = np.abs(out.astype(float) - images).mean(axis=(1, 2, 3)) > 0.5
    assert 70 <= changed.sum() <= 130, changed.sum()
    assert np.abs(out.mean(axis=(1, 2, 3)) - images.mean(axis=(1, 2, 3))).max() < 4
    # the edge of a degraded image is softer or blockier, never sharper than the original's
    assert max(edge_step(image.transpose(1, 2, 0).astype(float)) for image in out[changed]) \
        <= 1.05 * edge_step(edge_image().astype(float))


def test_grayscale_augmentation_grays_its_share_with_pillows_luminance():
    from minicnn.data.augmentation import degrade_batch
    images = photo_batch(200)
    out = degrade_batch(images, np.random.default_rng(0), grayscale=0.3)
    gray = (out[:, 0] == out[:, 1]).all(axis=(1, 2)) & (out[:, 1] == out[:, 2]).all(axis=(1, 2))
    assert 40 <= gray.sum() <= 80, gray.sum()
    index = np.flatnonzero(gray)[0]
    expected = np.asarray(Image.fromarray(images[index].transpose(1, 2, 0)).convert("L"))
    assert np.abs(out[index, 0].astype(int) - expected).max() <= 1
    assert np.array_equal(out[~gray], images[~gray])


@pytest.mark.parametrize("name, value", [("degrade", 1.5), ("grayscale", -0.1)])
def test_degrade_batch_refuses_a_bad_probability_naming_it(name, value):
    from minicnn.data.augmentation import degrade_batch
    with pytest.raises(ValueError, match=f"{name} must be .*got {value}"):
        degrade_batch(photo_batch(2), np.random.default_rng(0), **{name: value})
