"""augment_batch: random flips, shifts and colour changes, a whole batch at a time.

With ~9,000 training images and a network with far more weights than that,
the model can memorise the training set. Augmentation shows it a slightly
different version of every image in every epoch, variations that do not
change the label: a bell tower mirrored left-right, or seen a few pixels to
the side, or on a duller day, is still a bell tower.

Each transform draws one random choice per sample from the ``rng`` it is
given, so the same Generator state gives the same batch (reproducible runs),
and is applied to the whole batch with array operations, never a Python loop
over pixels:

flip     mirror left-right with probability 1/2 (reversing the width axis)
shift    move the content by up to ``max_shift`` pixels in x and y, filling
         the uncovered border with zeros. The batch is padded once; then
         ``sliding_window_view`` sees every possible crop as a view, without
         copying, and one fancy-indexing step picks each sample's crop.
jitter   per-sample contrast factor c in [1 - j, 1 + j] around the sample's own
         mean, and a brightness offset in [-j, j]. The batch is already
         normalized, so the offset is in units of the dataset's standard
         deviation and zero (the padding value) is the dataset's mean colour.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def augment_batch(batch, rng, flip=True, max_shift=4, color_jitter=0.0):
    """batch: (N, C, H, W) normalized floats -> a new (N, C, H, W) float32 augmented array.

    rng: a ``numpy.random.Generator``; the input batch is never modified.
    """
    if batch.ndim != 4:
        raise ValueError(f"augment_batch needs an (N, C, H, W) batch, got shape {batch.shape}")
    if not isinstance(max_shift, (int, np.integer)) or max_shift < 0:
        raise ValueError(f"max_shift must be an int >= 0, got {max_shift!r}")
    if not 0 <= color_jitter < 1:
        raise ValueError(f"color_jitter must be in [0, 1), got {color_jitter!r}")
    augmented = np.array(batch, dtype=np.float32)   # a copy, so the caller's batch is untouched
    if flip:
        augmented = random_flip(augmented, rng)
    if max_shift:
        augmented = random_shift(augmented, rng, max_shift)
    if color_jitter:
        augmented = random_color_jitter(augmented, rng, color_jitter)
    return augmented


def random_flip(batch, rng):
    """Mirror a random half of the samples left-right, in place. batch: (N, C, H, W)."""
    flipped = rng.random(len(batch)) < 0.5
    batch[flipped] = batch[flipped][..., ::-1]
    return batch


def random_shift(batch, rng, max_shift):
    """(N, C, H, W) -> new (N, C, H, W), each sample moved by its own (dy, dx) in
    [-max_shift, max_shift], with zeros where the content moved away."""
    count, _, height, width = batch.shape
    shift_y, shift_x = rng.integers(-max_shift, max_shift + 1, size=(2, count))
    padding = ((0, 0), (0, 0), (max_shift, max_shift), (max_shift, max_shift))
    padded = np.pad(batch, padding)
    # crops[n, c, top, left] is the H x W window of padded[n, c] starting at (top, left):
    # shape (N, C, 2 * max_shift + 1, 2 * max_shift + 1, H, W), all views of `padded`
    crops = sliding_window_view(padded, (height, width), axis=(2, 3))
    # the crop starting at (max_shift, max_shift) is the original; indexing with
    # per-sample arrays on axes 0, 2 and 3 picks one crop per sample -> (N, C, H, W)
    return crops[np.arange(count), :, max_shift + shift_y, max_shift + shift_x]


def random_color_jitter(batch, rng, strength):
    """(N, C, H, W) -> new array with per-sample contrast in [1 - strength, 1 + strength]
    and brightness offset in [-strength, strength]."""
    per_sample = (len(batch), 1, 1, 1)
    contrast = rng.uniform(1 - strength, 1 + strength, len(batch)).astype(np.float32).reshape(per_sample)
    brightness = rng.uniform(-strength, strength, len(batch)).astype(np.float32).reshape(per_sample)
    sample_mean = batch.mean(axis=(1, 2, 3), keepdims=True)
    return (batch - sample_mean) * contrast + sample_mean + brightness
