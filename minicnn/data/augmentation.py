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
zoom     scale each sample's content by its own factor in [1 - z, 1 + z] about
         the image centre (a photo taken nearer or farther), sampling with
         bilinear interpolation: one gather of the four neighbours of every
         output pixel, for the whole batch at once. Pixels that come from
         outside the image are zero, as for the shift.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image, ImageFilter

from ..limits import check
from .corruptions import jpeg_round_trip
from .decode import image_pixels


def augment_batch(batch, rng, flip=True, max_shift=4, color_jitter=0.0, zoom=0.0):
    """batch: (N, C, H, W) normalized floats -> a new (N, C, H, W) float32 augmented array.

    rng: a ``numpy.random.Generator``; the input batch is never modified.
    """
    if batch.ndim != 4:
        raise ValueError(f"augment_batch needs an (N, C, H, W) batch, got shape {batch.shape}")
    for name, value in (("max_shift", max_shift), ("color_jitter", color_jitter), ("zoom", zoom)):
        check(name, value, "augment_batch")
    augmented = np.array(batch, dtype=np.float32)   # a copy, so the caller's batch is untouched
    if flip:
        augmented = random_flip(augmented, rng)
    if zoom:
        augmented = random_zoom(augmented, rng, zoom)
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


def random_zoom(batch, rng, strength):
    """(N, C, H, W) -> new (N, C, H, W), each sample scaled by its own factor in
    [1 - strength, 1 + strength] about the centre (> 1 magnifies), bilinearly."""
    count, _, height, width = batch.shape
    scale = rng.uniform(1 - strength, 1 + strength, count).astype(np.float32)
    # output pixel (y, x) shows the input at centre + (y - centre) / scale
    rows = (np.arange(height, dtype=np.float32) - (height - 1) / 2)[None, :] / scale[:, None]
    cols = (np.arange(width, dtype=np.float32) - (width - 1) / 2)[None, :] / scale[:, None]
    rows, cols = rows + (height - 1) / 2, cols + (width - 1) / 2          # (N, H), (N, W)
    top, left = np.floor(rows), np.floor(cols)
    down, right = rows - top, cols - left                                # bilinear weights
    padded = np.pad(batch, ((0, 0), (0, 0), (1, 1), (1, 1)))              # zeros outside
    # the four neighbours' indices in the padded image (+1), clipped: outside points read zeros
    top, left = top.astype(np.int64) + 1, left.astype(np.int64) + 1
    bottom, far = np.clip(top + 1, 0, height + 1), np.clip(left + 1, 0, width + 1)
    top, left = np.clip(top, 0, height + 1), np.clip(left, 0, width + 1)
    samples = np.arange(count)[:, None, None, None]
    channels = np.arange(batch.shape[1])[None, :, None, None]

    def gather(row_index, col_index):
        return padded[samples, channels, row_index[:, None, :, None], col_index[:, None, None, :]]

    down, right = down[:, None, :, None], right[:, None, None, :]
    upper = gather(top, left) * (1 - right) + gather(top, far) * right
    lower = gather(bottom, left) * (1 - right) + gather(bottom, far) * right
    return (upper * (1 - down) + lower * down).astype(np.float32)


# --- degradations of the photo itself (issue 21), on uint8 images before normalize ----------

# the random ranges of degrade_batch, one kind drawn per degraded image
DEGRADE_SCALE = (1 / 3, 0.9)       # shrunk to this share of the side, then enlarged back
DEGRADE_BLUR_RADIUS = (0.3, 1.5)   # Gaussian blur, pixels
DEGRADE_JPEG_QUALITY = (15, 75)    # a JPEG round trip at this quality
DEGRADATIONS = ("resolution", "blur", "jpeg")
LUMINANCE = np.array([0.299, 0.587, 0.114], dtype=np.float32)   # ITU-R 601, as Pillow's "L"


def degrade_batch(images, rng, degrade=0.0, grayscale=0.0):
    """images (N, 3, H, W) uint8 -> a new (N, 3, H, W) uint8 batch in which each image is, with
    probability ``degrade``, shrunk and enlarged back, blurred or JPEG-compressed (one of the three,
    at a random strength), and with probability ``grayscale`` turned gray.

    What a photo from elsewhere goes through (minicnn/data/corruptions.py, where the same
    Pillow operations score a model), drawn at random strengths so that the network learns
    the shapes rather than the dataset's own texture and compression. The degradations run
    image by image in Pillow (a JPEG round trip has no array form, and Pillow's resize is the
    one the decode path uses); the draws for the whole batch come first, from ``rng``.
    """
    if images.ndim != 4 or images.dtype != np.uint8 or images.shape[1] != 3:
        raise ValueError(f"degrade_batch needs (N, 3, H, W) uint8 images, got {images.dtype} "
                         f"with shape {images.shape}")
    check("degrade", degrade, "degrade_batch")
    check("grayscale", grayscale, "degrade_batch")
    count, _, height, width = images.shape
    degraded = rng.random(count) < degrade
    kind = rng.integers(0, len(DEGRADATIONS), count)
    strength = rng.random(count)   # where in the kind's range, 0..1
    grayed = rng.random(count) < grayscale
    out = images.copy()
    for index in np.flatnonzero(degraded):
        image = Image.fromarray(np.ascontiguousarray(images[index].transpose(1, 2, 0)))
        low, high = (DEGRADE_SCALE, DEGRADE_BLUR_RADIUS, DEGRADE_JPEG_QUALITY)[kind[index]]
        amount = float(low + strength[index] * (high - low))
        if DEGRADATIONS[kind[index]] == "resolution":
            small = (max(1, round(width * amount)), max(1, round(height * amount)))
            image = image.resize(small, Image.Resampling.BOX)
        elif DEGRADATIONS[kind[index]] == "blur":
            image = image.filter(ImageFilter.GaussianBlur(amount))
        else:
            image = jpeg_round_trip(image, int(round(amount)))
        out[index] = image_pixels(image, height)[0]
    if grayed.any():   # the luminance in all three channels, for the whole batch at once
        grey = np.einsum("c,nchw->nhw", LUMINANCE, out[grayed].astype(np.float32))
        out[grayed] = np.clip(np.rint(grey), 0, 255).astype(np.uint8)[:, None]
    return out

