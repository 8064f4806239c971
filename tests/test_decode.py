"""decode_image: every mode Pillow opens comes out as 8-bit RGB at the brightness the file means.

Each test writes a tiny image in one mode and format, decodes it and compares
the pixels with the colour the file stands for, worked out by hand from the
mode's definition (16-bit values / 257, CMYK as subtractive ink, LAB L* = 50 as
the sRGB grey 119, ...), never from Pillow's own conversion.
"""
import io
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from minicnn.data import load_dataset
from minicnn.data.decode import decode_image, resize_to_square, to_rgb

SIZE = 8


def encoded(image, format_name, **options):
    buffer = io.BytesIO()
    image.save(buffer, format=format_name, **options)
    return buffer.getvalue()


def flat(mode, value, size=(SIZE, SIZE)):
    return Image.new(mode, size, value)


def sixteen_bit_grey(value, size=(SIZE, SIZE)):
    """A 16-bit greyscale image (mode I;16) filled with ``value`` (0..65535)."""
    return Image.fromarray(np.full(size[::-1], value, dtype=np.uint16))


def png_16_bit_rgb(colour, size=(SIZE, SIZE)):
    """The bytes of a 48-bit RGB PNG (Pillow cannot write one), every pixel ``colour`` (0..65535)."""
    width, height = size
    row = b"\x00" + np.tile(np.array(colour, dtype=">u2"), width).tobytes()   # filter 0, then pixels

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)   # 16 bits, colour type RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


def palette_image(translucent_first_entry=False):
    """A P image of palette colour 1 = (200, 100, 50); entry 0 may be half transparent.

    A partly transparent entry makes PNG keep the transparency as a bytes table,
    the case in which Pillow warns on a direct conversion to RGB.
    """
    image = flat("P", 1)
    image.putpalette([0, 0, 0, 200, 100, 50] + [0] * (256 * 3 - 6))
    if translucent_first_entry:
        image.info["transparency"] = bytes([128, 255])
    return image


def grey(value):
    return (value, value, value)


# (case, file bytes, the RGB colour every pixel must decode to, tolerance in levels)
FILE_CASES = [
    ("RGB JPEG", lambda: encoded(flat("RGB", (200, 40, 90)), "JPEG", quality=95), (200, 40, 90), 4),
    ("RGB PNG", lambda: encoded(flat("RGB", (200, 40, 90)), "PNG"), (200, 40, 90), 0),
    ("L JPEG", lambda: encoded(flat("L", 77), "JPEG", quality=95), grey(77), 2),
    ("1 PNG", lambda: encoded(flat("1", 1), "PNG"), grey(255), 0),
    ("P PNG", lambda: encoded(palette_image(), "PNG"), (200, 100, 50), 0),
    ("P PNG with transparency", lambda: encoded(palette_image(True), "PNG"), (200, 100, 50), 0),
    ("P GIF", lambda: encoded(palette_image(), "GIF"), (200, 100, 50), 0),
    ("RGBA PNG", lambda: encoded(flat("RGBA", (10, 20, 30, 0)), "PNG"), (10, 20, 30), 0),
    ("LA PNG", lambda: encoded(flat("LA", (100, 50)), "PNG"), grey(100), 0),
    ("I;16 PNG mid-grey", lambda: encoded(sixteen_bit_grey(32768), "PNG"), grey(128), 0),
    ("I;16 PNG white", lambda: encoded(sixteen_bit_grey(65535), "PNG"), grey(255), 0),
    ("I;16 PNG 100 steps", lambda: encoded(sixteen_bit_grey(257 * 100), "PNG"), grey(100), 0),
    ("I;16 PNG dark", lambda: encoded(sixteen_bit_grey(1000), "PNG"), grey(4), 0),
    ("I;16 TIFF", lambda: encoded(sixteen_bit_grey(257 * 60), "TIFF"), grey(60), 0),
    ("I;16B TIFF", lambda: encoded(flat("I;16B", 257 * 30), "TIFF"), grey(30), 0),
    ("I TIFF (32-bit)", lambda: encoded(Image.fromarray(np.full((SIZE, SIZE), 257 * 200, np.int32)),
                                        "TIFF"), grey(200), 0),
    ("F TIFF (float 0..1)", lambda: encoded(Image.fromarray(np.full((SIZE, SIZE), 0.25, np.float32)),
                                            "TIFF"), grey(64), 0),
    ("RGB PNG, 16 bits per channel", lambda: png_16_bit_rgb((65535, 32768, 257 * 7)), (255, 128, 7), 0),
    ("CMYK JPEG", lambda: encoded(flat("CMYK", (0, 255, 255, 0)), "JPEG", quality=95), (255, 0, 0), 4),
    ("CMYK TIFF black ink at half", lambda: encoded(flat("CMYK", (0, 0, 0, 128)), "TIFF"), grey(127), 0),
    ("LAB TIFF, L* = 50", lambda: encoded(flat("LAB", (128, 128, 128)), "TIFF"), grey(119), 1),
]


@pytest.mark.parametrize("case, make_bytes, colour, tolerance", FILE_CASES,
                         ids=[case[0] for case in FILE_CASES])
def test_each_mode_decodes_to_its_colour(case, make_bytes, colour, tolerance):
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no mode may need a warning to decode
        pixels, was_resized, _ = decode_image(make_bytes(), SIZE)
    assert pixels.shape == (3, SIZE, SIZE) and pixels.dtype == np.uint8
    assert not was_resized
    difference = np.abs(pixels.astype(int) - np.array(colour).reshape(3, 1, 1))
    assert difference.max() <= tolerance, f"{case}: got {pixels[:, 0, 0]}, expected {colour}"


# modes no file format hands over, but an image built in memory can have
MEMORY_CASES = [
    ("RGBa premultiplied", flat("RGBa", (10, 20, 30, 128)), (20, 40, 60), 1),
    ("La premultiplied", flat("La", (50, 128)), grey(100), 1),
    ("PA", flat("PA", (1, 128)), (0, 0, 0), 0),
    ("HSV pure red", flat("HSV", (0, 255, 255)), (255, 0, 0), 0),
    ("YCbCr mid-grey", flat("YCbCr", (128, 128, 128)), grey(128), 0),
    ("RGBX", flat("RGBX", (1, 2, 3, 4)), (1, 2, 3), 0),
    ("I;16L", flat("I;16L", 257 * 9), grey(9), 0),
    ("I;16N", flat("I;16N", 257 * 11), grey(11), 0),
    ("I negative clips to black", Image.fromarray(np.full((SIZE, SIZE), -5, np.int32)), grey(0), 0),
    ("F above 1 clips to white", Image.fromarray(np.full((SIZE, SIZE), 3.0, np.float32)), grey(255), 0),
    ("F NaN is black", Image.fromarray(np.full((SIZE, SIZE), np.nan, np.float32)), grey(0), 0),
]


@pytest.mark.parametrize("case, image, colour, tolerance", MEMORY_CASES,
                         ids=[case[0] for case in MEMORY_CASES])
def test_to_rgb_of_in_memory_modes(case, image, colour, tolerance):
    rgb = to_rgb(image)
    assert rgb.mode == "RGB" and rgb.size == image.size
    difference = np.abs(np.asarray(rgb).astype(int) - np.array(colour))
    assert difference.max() <= tolerance, f"{case}: got {np.asarray(rgb)[0, 0]}, expected {colour}"


def test_sixteen_bit_gradient_keeps_its_shape_through_the_resize():
    """A 16-bit ramp, resized 16x8 -> 8x8, is the 8-bit ramp resized the same way (decode.py)."""
    ramp = np.tile(np.linspace(0, 65535, 16).astype(np.uint16), (8, 1))
    pixels, was_resized, was_converted = decode_image(encoded(Image.fromarray(ramp), "PNG"), SIZE)
    assert was_resized and was_converted
    eight_bit = Image.fromarray(np.rint(ramp / 257).astype(np.uint8)).convert("RGB")
    expected = np.asarray(resize_to_square(eight_bit, SIZE))   # the resize every image gets
    np.testing.assert_array_equal(pixels.transpose(1, 2, 0), expected)
    assert pixels[0, 0, 0] < 40 and pixels[0, 0, -1] > 215   # dark to bright, not all white


def test_exif_orientation_is_applied():
    """Left half red, right half blue, stored with "rotate 90 degrees clockwise to view"."""
    image = flat("RGB", (255, 0, 0), size=(16, 8))
    image.paste((0, 0, 255), (8, 0, 16, 8))
    exif = Image.Exif()
    exif[0x0112] = 6
    pixels, _, _ = decode_image(encoded(image, "PNG", exif=exif), 8)
    np.testing.assert_array_equal(pixels[:, 0, :].T, np.tile([255, 0, 0], (8, 1)))   # top: red
    np.testing.assert_array_equal(pixels[:, -1, :].T, np.tile([0, 0, 255], (8, 1)))  # bottom: blue


def test_the_loader_decodes_16_bit_images_at_their_brightness(tmp_path, monkeypatch):
    monkeypatch.setenv("MINICNN_CACHE_DIR", str(tmp_path / "cache"))
    for class_name, value in (("dark", 257 * 40), ("light", 257 * 210)):
        (tmp_path / "train" / class_name).mkdir(parents=True)
        sixteen_bit_grey(value).save(tmp_path / "train" / class_name / "a.png")
    dataset = load_dataset(tmp_path, image_size=SIZE, verbose=False)
    assert dataset.report.converted_to_rgb == 2
    np.testing.assert_array_equal(dataset.images[dataset.labels == 0], 40)
    np.testing.assert_array_equal(dataset.images[dataset.labels == 1], 210)


def test_a_photo_enlarged_3x_decodes_to_nearly_the_original():
    """Issue 21: a user's photo is often a small one enlarged; predict must see what the
    original's pixels were. The shrink filter decides it: here Lanczos comes back within 2.86 grey
    levels on average, bilinear (the filter before issue 21) within 3.50."""
    rng = np.random.default_rng(0)
    # a 64 x 64 photo-like image: smooth shading plus edges (random blocks of 8 x 8 pixels)
    blocks = np.kron(rng.integers(0, 256, (8, 8, 3)), np.ones((8, 8, 1)))
    shade = np.linspace(0, 60, 64)[None, :, None]
    original = np.clip(blocks * 0.7 + shade, 0, 255).astype(np.uint8)
    enlarged = Image.fromarray(original).resize((192, 192), Image.Resampling.BICUBIC)
    pixels, was_resized, _ = decode_image(encoded(enlarged, "PNG"), 64)
    assert was_resized
    error = np.abs(pixels.transpose(1, 2, 0).astype(float) - original).mean()
    assert error < 3.0, f"mean difference {error:.2f} grey levels"
