"""Soft targets: label smoothing, mixup and cutmix (minicnn/data/targets.py)."""
import numpy as np
import pytest

from minicnn.data.targets import cutmix, mixup, one_hot, smooth, soft_targets


def batch(rng, count=6, classes=4):
    return (rng.standard_normal((count, 3, 8, 8)).astype(np.float32),
            rng.integers(0, classes, count))


def test_smoothing_keeps_rows_distributions():
    targets = smooth(one_hot(np.array([2, 0]), 4), 0.1)
    np.testing.assert_allclose(targets, [[0.025, 0.025, 0.925, 0.025],
                                         [0.925, 0.025, 0.025, 0.025]], rtol=1e-6)
    with pytest.raises(ValueError, match="label_smoothing must be a finite number >= 0 and < 1, got"):
        smooth(targets, 1.0)


def test_mixup_blends_images_and_targets_with_the_same_weight(rng):
    images, labels = batch(rng)
    mixed, targets = mixup(images, one_hot(labels, 4), np.random.default_rng(3), alpha=0.4)
    generator = np.random.default_rng(3)
    lam, partner = generator.beta(0.4, 0.4), generator.permutation(len(images))
    np.testing.assert_allclose(mixed, lam * images + (1 - lam) * images[partner], rtol=1e-5,
                               atol=1e-6)
    hot = one_hot(labels, 4)
    np.testing.assert_allclose(targets, lam * hot + (1 - lam) * hot[partner], rtol=1e-6)


def test_cutmix_targets_follow_the_pasted_area(rng):
    images, labels = batch(rng, count=8)
    mixed, targets = cutmix(images, one_hot(labels, 4), np.random.default_rng(1), alpha=1.0)
    pasted = np.any(mixed != images, axis=(0, 1))     # the box (where partners differ)
    generator = np.random.default_rng(1)
    generator.beta(1.0, 1.0)
    partner = generator.permutation(8)
    box_area = pasted.sum() / pasted.size
    assert 0 < box_area < 1
    rows, cols = np.nonzero(pasted)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    np.testing.assert_array_equal(mixed[:, :, box[0], box[1]], images[partner][:, :, box[0], box[1]])
    differs = labels != labels[partner]
    np.testing.assert_allclose(targets[np.arange(8), labels[partner]][differs], box_area,
                               rtol=1e-6)


def test_soft_targets_are_seeded_and_mix_only_with_their_probability(rng):
    images, labels = batch(rng)
    first = soft_targets(images, labels, 4, np.random.default_rng(7), 0.1, "cutmix", 1.0, 0.5)
    again = soft_targets(images, labels, 4, np.random.default_rng(7), 0.1, "cutmix", 1.0, 0.5)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    plain_images, plain = soft_targets(images, labels, 4, np.random.default_rng(7), 0.1, "mixup",
                                       1.0, 0.0)
    np.testing.assert_array_equal(plain_images, images)
    np.testing.assert_allclose(plain, smooth(one_hot(labels, 4), 0.1))
    assert first[1].dtype == np.float32 and first[0].dtype == np.float32
    with pytest.raises(ValueError, match="unknown mix 'blend'"):
        soft_targets(images, labels, 4, rng, mix="blend")
