"""From file bytes to a (3, S, S) uint8 array, the same for every image.

A network needs every input to have the same shape and meaning, but image
files differ: most of AHE64 is 64x64 RGB, one image is grayscale ("L"), and
images from elsewhere may be CMYK, RGBA or palette ("P") images of any size.
``decode_image`` brings each of them to RGB at image_size x image_size and
says what it had to change, so the loader can report it.

RGBA is flattened by dropping the alpha channel; the colour under transparent
pixels is whatever the file stored there. Non-square images are stretched to
a square, not cropped, so nothing at the borders is lost.
"""
import io
import zipfile

import numpy as np
from PIL import Image, UnidentifiedImageError

# What "this file is not a readable image" looks like: PIL raises OSError
# (UnidentifiedImageError, truncated data), SyntaxError (some broken headers),
# ValueError (odd modes) or DecompressionBombError; a damaged zip member raises
# BadZipFile when read. Anything else is a bug and should surface.
UNREADABLE_IMAGE_ERRORS = (OSError, SyntaxError, ValueError, zipfile.BadZipFile,
                           Image.DecompressionBombError)


def decode_image(data, image_size):
    """bytes -> (pixels (3, image_size, image_size) uint8, was_resized, was_converted_to_rgb).

    Raises one of UNREADABLE_IMAGE_ERRORS if ``data`` is not a readable image.
    """
    with Image.open(io.BytesIO(data)) as original:
        original.load()   # decode now, so a truncated file fails here rather than later
        was_converted = original.mode != "RGB"
        image = original.convert("RGB") if was_converted else original
        was_resized = image.size != (image_size, image_size)
        if was_resized:
            image = image.resize((image_size, image_size), Image.Resampling.BILINEAR)
        pixels = np.asarray(image)   # (H, W, 3): PIL's layout, rows first
    return pixels.transpose(2, 0, 1), was_resized, was_converted


def describe_unreadable(error):
    """A short reason for a skipped file (PIL's own message names an anonymous BytesIO)."""
    if isinstance(error, UnidentifiedImageError):
        return "not an image format PIL can read"
    return f"{type(error).__name__}: {error}"
