"""From file bytes to a (3, S, S) uint8 array, the same for every image.

A network needs every input to have the same shape and meaning, but image
files differ: most of AHE64 is 64x64 RGB, one image is grayscale ("L"), and
images from elsewhere may be CMYK, RGBA, palette ("P"), 16-bit or even float
images of any size. ``decode_image`` brings each of them to 8-bit RGB at
image_size x image_size and says what it had to change, so the loader can
report it. Training data (``load_dataset``) and the photos of
``python -m minicnn predict`` go through this one function, so a photo is
seen exactly as the training images were.

What "the same brightness" means for each mode (``to_rgb``):

    RGB, L, 1, P, YCbCr, HSV, CMYK, RGBX,  Pillow's own conversion to RGB
    LAB
    RGBA, LA, PA, P with transparency       the alpha channel is dropped; the
                                            colour under transparent pixels is
                                            whatever the file stored there
    RGBa, La (premultiplied alpha)          un-premultiplied first, then as above
    I;16, I;16B, I;16L, I;16N, I            16-bit grey: 0..65535 -> 0..255
                                            (value / 257, rounded; "I" is how
                                            Pillow may hand over a 16-bit PNG,
                                            so it is read on the same scale,
                                            out-of-range values clipped)
    F (32-bit float)                        0.0..1.0 -> 0..255, as NumPy,
                                            matplotlib and scikit-image read
                                            float images; clipped, NaN -> 0

Pillow's plain ``convert("RGB")`` gets the 16-bit and float modes wrong (it
clips 16-bit values at 255, so a mid-grey 16-bit photo comes out white, and
reads floats on the 0..255 scale); 16-bit RGB PNGs need nothing, since Pillow
already reads them as 8-bit RGB (the high byte of each value).

A photo's EXIF orientation tag is applied, so a phone picture taken upright
is seen upright. Non-square images are stretched to a square, not cropped, so
nothing at the borders is lost. A larger image is shrunk with a Lanczos filter,
a smaller one enlarged bilinearly (``resize_to_square``).
"""
import io
import warnings
import zipfile

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# What "this file is not a readable image" looks like: PIL raises OSError
# (UnidentifiedImageError, truncated data), SyntaxError (some broken headers),
# ValueError (odd modes) or DecompressionBombError; a damaged zip member raises
# BadZipFile when read. Anything else is a bug and should surface.
UNREADABLE_IMAGE_ERRORS = (OSError, SyntaxError, ValueError, zipfile.BadZipFile,
                           Image.DecompressionBombError, Image.DecompressionBombWarning)

# Modes whose pixel values are on the 16-bit scale 0..65535.
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")

# Premultiplied-alpha modes: Pillow converts them to RGB only through their straight-alpha twin.
STRAIGHT_ALPHA_MODE = {"La": "LA", "RGBa": "RGBA"}

# 65535 / 255: the 16-bit value of one 8-bit step.
SIXTEEN_BIT_STEP = 257.0


def decode_image(data, image_size):
    """bytes -> (pixels (3, image_size, image_size) uint8, was_resized, was_converted_to_rgb).

    Raises one of UNREADABLE_IMAGE_ERRORS if ``data`` is not a readable image.
    """
    with warnings.catch_warnings():
        # over Image.MAX_IMAGE_PIXELS Pillow only warns, and decodes gigabytes: refuse instead
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        original = Image.open(io.BytesIO(data))
    with original:
        original.load()   # decode now, so a truncated file fails here rather than later
        return image_pixels(original, image_size)


def image_pixels(image, image_size):
    """A loaded Pillow image -> (pixels (3, image_size, image_size) uint8, was_resized,
    was_converted_to_rgb): orientation, RGB and size as ``decode_image`` makes them (the
    corruptions of minicnn/data/corruptions.py hand their images over here too). The EXIF
    orientation is applied to ``image`` itself."""
    ImageOps.exif_transpose(image, in_place=True)
    was_converted = image.mode != "RGB"
    if was_converted:
        image = to_rgb(image)
    was_resized = image.size != (image_size, image_size)
    if was_resized:
        image = resize_to_square(image, image_size)
    pixels = np.asarray(image)   # (H, W, 3): PIL's layout, rows first
    return pixels.transpose(2, 0, 1), was_resized, was_converted


def resize_to_square(image, image_size):
    """Stretch ``image`` to image_size x image_size: Lanczos when it shrinks, bilinear when it grows.

    Shrinking averages over each output pixel's footprint. Lanczos keeps the edges of a photo
    that was itself made by enlarging a small one: 100 validation JPEGs enlarged 3x (bicubic)
    come back within 2.95 grey levels on average, against 4.84 with bilinear; box ties at 3x
    but misses by 4.70 at 1.5x, Lanczos by 2.99 (README.md, examples/predict_agreement.py).
    """
    shrinks = image.size[0] > image_size or image.size[1] > image_size
    method = Image.Resampling.LANCZOS if shrinks else Image.Resampling.BILINEAR
    return image.resize((image_size, image_size), method)


def to_rgb(image):
    """A Pillow image of any mode -> an 8-bit RGB image of the same size (module docstring)."""
    mode = image.mode
    if mode in SIXTEEN_BIT_MODES:
        values = np.clip(np.asarray(image, dtype=np.float64), 0, 65535) / SIXTEEN_BIT_STEP
        return grey_image(values)
    if mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=1.0, neginf=0.0)
        return grey_image(np.clip(values, 0.0, 1.0) * 255.0)
    if mode in STRAIGHT_ALPHA_MODE:
        image = image.convert(STRAIGHT_ALPHA_MODE[mode])
    elif mode == "P" and "transparency" in image.info:
        # Pillow warns when a palette image with transparency goes straight to RGB
        image = image.convert("RGBA")
    return image.convert("RGB")


def grey_image(values):
    """(H, W) floats on the 0..255 scale -> an RGB image with three equal channels."""
    grey = np.rint(values).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")


def describe_unreadable(error):
    """A short reason for a skipped file (PIL's own message names an anonymous BytesIO)."""
    if isinstance(error, UnidentifiedImageError):
        return "not an image format PIL can read"
    if isinstance(error, (Image.DecompressionBombWarning, Image.DecompressionBombError)):
        return f"too many pixels to decode safely ({error})"
    return f"{type(error).__name__}: {error}"
