"""From network tensors to pictures and back: de-normalizing, quantizing, PNG files, mosaics.

The network sees normalized images, x = (pixel / 255 - mean) / std per channel
(``minicnn.data.normalize``). A picture is the inverse, pixel = 255 * (x * std +
mean), rounded to uint8. So the valid pixel range 0..255 is, in the network's
units, the box [(0 - mean) / std, (1 - mean) / std] per channel, and normalized
0 is the mean colour (the "grey" of occlusion and of the generator's decay).

Signed maps (projections, saliency) have no natural colours: ``signed_to_unit``
shows 0 as mid-grey and scales each image on its own, so that its 99.5th
percentile of |value| reaches full contrast (the few larger values saturate).
Brightness therefore means "large for this panel": panels are not comparable
in absolute terms.
"""
import numpy as np
from PIL import Image

from ..io.atomic import atomic_write


def pixel_bounds(mean, std):
    """-> (low, high), each (3, 1, 1): the normalized values of pixel 0 and pixel 255."""
    mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
    return -mean / std, (1 - mean) / std


def to_uint8(x, mean, std):
    """Normalized images (..., 3, H, W), host floats -> uint8 pixels, rounded and clipped."""
    mean = np.asarray(mean, dtype=np.float64).reshape(-1, 1, 1)
    std = np.asarray(std, dtype=np.float64).reshape(-1, 1, 1)
    pixels = np.rint((np.asarray(x, dtype=np.float64) * std + mean) * 255)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def save_png(image, path):
    """image: (3, H, W) uint8 -> an RGB PNG file, written atomically."""
    picture = Image.fromarray(np.ascontiguousarray(image.transpose(1, 2, 0)))
    atomic_write(path, lambda file: picture.save(file, format="PNG"))


def load_png(path):
    """An image file -> (3, H, W) uint8 RGB."""
    with Image.open(path) as picture:
        return np.asarray(picture.convert("RGB")).transpose(2, 0, 1).copy()


def signed_to_unit(maps, percentile=99.5):
    """(N, ...) signed values -> [0, 1], 0 -> 0.5, each map scaled by its percentile of |value|."""
    maps = np.asarray(maps, dtype=np.float64)
    scale = np.percentile(np.abs(maps).reshape(len(maps), -1), percentile, axis=1)
    scale = np.where(scale > 0, scale, 1.0).reshape((-1,) + (1,) * (maps.ndim - 1))
    return np.clip(0.5 + 0.5 * maps / scale, 0.0, 1.0)


def to_unit(maps):
    """(N, ...) values -> [0, 1], each map min-max scaled on its own (constant maps -> 0)."""
    maps = np.asarray(maps, dtype=np.float64)
    axes = tuple(range(1, maps.ndim))
    low = maps.min(axis=axes, keepdims=True)
    spread = maps.max(axis=axes, keepdims=True) - low
    return (maps - low) / np.where(spread > 0, spread, 1.0)


def crop(image, box, fill):
    """image (C, H, W), box (top, bottom, left, right) that may reach past the border ->
    (C, bottom - top, right - left), the outside filled with ``fill``."""
    top, bottom, left, right = (int(value) for value in box)
    channels, height, width = image.shape
    out = np.full((channels, bottom - top, right - left), fill, dtype=image.dtype)
    inside_top, inside_left = max(top, 0), max(left, 0)
    inside_bottom, inside_right = min(bottom, height), min(right, width)
    if inside_top < inside_bottom and inside_left < inside_right:
        out[:, inside_top - top:inside_bottom - top, inside_left - left:inside_right - left] = \
            image[:, inside_top:inside_bottom, inside_left:inside_right]
    return out


def mosaic(images, columns, gap=1, fill=1.0):
    """(N, C, h, w) images -> one (rows*h + gaps, columns*w + gaps, C) picture, row-major."""
    images = np.asarray(images)
    count, channels, height, width = images.shape
    rows = -(-count // columns)
    canvas = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap, channels), fill,
                     dtype=images.dtype)
    for position, image in enumerate(images):
        row, column = divmod(position, columns)
        top, left = row * (height + gap), column * (width + gap)
        canvas[top:top + height, left:left + width] = image.transpose(1, 2, 0)
    return canvas
