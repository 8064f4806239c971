"""Corruptions: the ways a photo from elsewhere differs from the training images, at fixed severities.

Robustness is reported the way Hendrycks & Dietterich (ICLR 2019, CIFAR-10-C and
ImageNet-C) report it: accuracy under a fixed list of corruption types, each at a
few severities, and the mean over all of them as the headline figure. The list
here is what a user's own photo goes through before it reaches the model:

    corruption    severity 1 / 2 / 3               what it does (Pillow)
    resolution    2/3, 1/2, 1/3 of the side        shrink (area average), then the decode
                                                   resize enlarges it back: a low-resolution photo
    resample      enlarged 2x, 3x, 4x              bicubic enlargement, then the decode resize
                                                   shrinks it back: a photo saved larger
    blur          radius 0.5, 1, 1.5 px            Gaussian blur: a soft or shaken photo
    jpeg          quality 50, 30, 15               a JPEG round trip: heavier compression
    darken        brightness x0.8, x0.7, x0.5      ImageEnhance.Brightness
    brighten      brightness x1.2, x1.3, x1.5
    contrast      x0.8, x0.6, x0.4                 ImageEnhance.Contrast (towards the mean grey)
    saturation    x0.6, x0.3, x0.15                ImageEnhance.Color (towards grey)
    grayscale     the same at every severity       the luminance in all three channels
    crop_zoom     centre 90%, 80%, 70%             a centre crop, enlarged back by the decode resize
    shift         1/32, 1/16, 1/10 of the side     content moved diagonally, in a seeded
                                                   direction per image, edge pixels repeated

Every corrupted image is handed to ``image_pixels`` (minicnn/data/decode.py),
the step every decoded file and every photo of ``python -m minicnn predict``
goes through, so a corrupted copy is resized exactly as a user's photo would
be. Only ``shift`` draws random numbers; they come from a Generator seeded by
(seed, image index, corruption, severity), so the same images get the same
corruptions for every model.

The library ``imagecorruptions`` (the ImageNet-C corruptions) was not used:
version 1.1.2, its last release (2020), requires scikit-image, opencv-python and
SciPy, and most of its 15 corruptions (snow, frost, glass blur, elastic) are
not what a user's photo goes through, while resampling, saturation, grayscale,
crop and shift are missing; every one here is one Pillow call.
"""
import io

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from .decode import image_pixels

# name -> the parameter of each severity (severity s is levels[s - 1])
CORRUPTIONS = {
    "resolution": (2 / 3, 1 / 2, 1 / 3),
    "resample": (2, 3, 4),
    "blur": (0.5, 1.0, 1.5),
    "jpeg": (50, 30, 15),
    "darken": (0.8, 0.7, 0.5),
    "brighten": (1.2, 1.3, 1.5),
    "contrast": (0.8, 0.6, 0.4),
    "saturation": (0.6, 0.3, 0.15),
    "grayscale": (None, None, None),   # no strength: scored once, reported at each severity
    "crop_zoom": (0.9, 0.8, 0.7),
    "shift": (1 / 32, 1 / 16, 1 / 10),
}
SEVERITIES = (1, 2, 3)


def corruption_levels(severities=SEVERITIES, names=None):
    """The (corruption, severity) pairs to score, in table order: every corruption of ``names``
    (default all) at each of ``severities``. ValueError for an unknown name or severity."""
    names = list(CORRUPTIONS) if names is None else list(names)
    unknown = [name for name in names if name not in CORRUPTIONS]
    if unknown:
        raise ValueError(f"unknown corruption {unknown[0]!r}; the corruptions are "
                         f"{', '.join(CORRUPTIONS)}")
    bad = [severity for severity in severities if severity not in SEVERITIES]
    if bad or not severities:
        raise ValueError(f"severities must be among {SEVERITIES}, got {list(severities)}")
    return [(name, severity) for name in names for severity in sorted(set(severities))]


def corrupt_image(image, corruption, severity, rng):
    """A Pillow RGB image -> a new Pillow image with the corruption at that severity applied
    (of any size: the decode resize brings it to the network's). rng: for ``shift``."""
    if corruption not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {corruption!r}; the corruptions are "
                         f"{', '.join(CORRUPTIONS)}")
    levels = CORRUPTIONS[corruption]
    if severity not in range(1, len(levels) + 1):
        raise ValueError(f"{corruption} has severities 1 to {len(levels)}, got {severity!r}")
    level = levels[severity - 1]
    width, height = image.size
    if corruption == "resolution":
        small = (max(1, round(width * level)), max(1, round(height * level)))
        return image.resize(small, Image.Resampling.BOX)
    if corruption == "resample":
        return image.resize((width * level, height * level), Image.Resampling.BICUBIC)
    if corruption == "blur":
        return image.filter(ImageFilter.GaussianBlur(level))
    if corruption == "jpeg":
        return jpeg_round_trip(image, level)
    if corruption in ("darken", "brighten"):
        return ImageEnhance.Brightness(image).enhance(level)
    if corruption == "contrast":
        return ImageEnhance.Contrast(image).enhance(level)
    if corruption == "saturation":
        return ImageEnhance.Color(image).enhance(level)
    if corruption == "grayscale":
        return image.convert("L").convert("RGB")
    if corruption == "crop_zoom":
        crop_width, crop_height = round(width * level), round(height * level)
        left, top = (width - crop_width) // 2, (height - crop_height) // 2
        return image.crop((left, top, left + crop_width, top + crop_height))
    return shifted(image, level, rng)


def jpeg_round_trip(image, quality):
    """A Pillow RGB image -> the same image saved as JPEG at ``quality`` and read back."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    with Image.open(io.BytesIO(buffer.getvalue())) as compressed:
        return compressed.convert("RGB")


def shifted(image, fraction, rng):
    """The content moved by ``fraction`` of the side in x and in y, each in a random direction;
    the uncovered border repeats the edge pixels (no black bars the model never saw)."""
    pixels = np.asarray(image)
    height, width = pixels.shape[:2]
    step_y, step_x = max(1, round(height * fraction)), max(1, round(width * fraction))
    sign_y, sign_x = rng.choice((-1, 1), size=2)
    padded = np.pad(pixels, ((step_y, step_y), (step_x, step_x), (0, 0)), mode="edge")
    # content moved down by step_y (sign +1) is read from step_y rows above
    top, left = step_y - sign_y * step_y, step_x - sign_x * step_x
    return Image.fromarray(np.ascontiguousarray(padded[top:top + height, left:left + width]))


def corrupt_images(images, corruption, severity, seed=0):
    """(N, 3, S, S) uint8 -> (N, 3, S, S) uint8: each image corrupted, then resized back to S by
    the decode path. Image i's random draws come from default_rng([seed, i, corruption index])."""
    if images.ndim != 4 or images.dtype != np.uint8 or images.shape[1] != 3:
        raise ValueError(f"corrupt_images needs (N, 3, S, S) uint8 images, got {images.dtype} "
                         f"with shape {images.shape}")
    corruption_levels([severity], [corruption])   # ValueError for an unknown one, before any work
    size = images.shape[2]
    which = list(CORRUPTIONS).index(corruption)
    corrupted = np.empty_like(images)
    for index, pixels in enumerate(images):
        rng = np.random.default_rng([seed, index, which, severity])
        image = Image.fromarray(np.ascontiguousarray(pixels.transpose(1, 2, 0)))
        corrupted[index] = image_pixels(corrupt_image(image, corruption, severity, rng), size)[0]
    return corrupted
