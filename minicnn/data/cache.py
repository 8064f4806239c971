"""A cache of decoded images, so every load after the first is almost free.

Decoding 10,130 small JPEGs takes seconds; reading the same pixels back from
one uncompressed ``.npz`` file takes a fraction of a second. The cache holds
exactly what a load produces: images, labels, class names, file names,
digests, and the load report's counts.

Where
    ``$MINICNN_CACHE_DIR``, else ``$XDG_CACHE_HOME/minicnn``, else
    ``~/.cache/minicnn``. One file per (source, image size), named so you can
    tell what it holds: ``ahe64-train-64px-<hash of the source path>.npz``.
    Delete the folder at any time; it is rebuilt on the next load.

When it is stale
    Each cache file stores a *fingerprint*: a SHA-1 over every source file's
    relative name, size, modification time and status-change time (both in
    nanoseconds) and inode number (for a zip: each member's name, size and
    CRC-32, plus the zip's own size, times and inode), the entries skipped
    while listing (dangling links, FIFOs), the image size and the cache format
    version. Touch, add, remove, rename or rewrite one image and the fingerprint
    changes, so the next load decodes again and overwrites the file. The
    modification time alone is not enough: ``cp -p``, ``rsync -a`` and ``tar x``
    put the old time on new pixels, and a cache keyed on it served the old
    pixels. The status-change time is set by the kernel on every write and no
    program can set it back, so new pixels always bring a new ctime
    (``sources.file_stamp``). No pixels are read to check this: asking the file
    system for 10,000 stats is fast, reading 10,000 files is not (README,
    "The decoded-image cache", has both timings).

Why it is safe
    A cache is written to a temporary file in the same folder, then renamed
    over the old one with ``os.replace``, which is atomic: a crash or another
    process never sees half a file. A cache that cannot be read (truncated,
    hand-edited, from another version) gives a warning and is rebuilt, never a
    crash. Only plain arrays are stored (strings as NumPy unicode arrays) and
    they are loaded with ``allow_pickle=False``, so a cache file cannot run code.
"""
import hashlib
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_savez
from .dataset import ImageDataset, LoadReport, Skipped

# Bump when the stored arrays or the decoding change, so old caches are rebuilt.
# 2: 16-bit and float images decode at their true brightness; EXIF orientation is applied.
# 3: skipped files stored as (file, reason); files in folders inside class folders loaded.
# 4: images larger than the image size are shrunk with Lanczos, not bilinear (decode.py,
#    resize_to_square), so a cached copy of a folder of large photos would hold other pixels.
CACHE_FORMAT = 4


def default_cache_dir():
    """``$MINICNN_CACHE_DIR``, else ``$XDG_CACHE_HOME/minicnn``, else ``~/.cache/minicnn``."""
    if os.environ.get("MINICNN_CACHE_DIR"):
        return Path(os.environ["MINICNN_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "minicnn"
    return Path.home() / ".cache" / "minicnn"


def cache_path(cache_dir, source, image_size):
    """The cache file for one source (FolderSource or ZipSource) at one image size."""
    where = hashlib.sha1(source.description.encode("utf-8", "surrogateescape")).hexdigest()
    return Path(cache_dir) / f"{source.short_name}-{image_size}px-{where[:12]}.npz"


def fingerprint(source, image_size):
    """SHA-1 hex digest of everything that, when changed, makes the cache stale."""
    digest = hashlib.sha1(f"format {CACHE_FORMAT}\nimage size {image_size}\n"
                          f"{source.container_stamp}\n".encode())
    for file in source.files:
        # surrogateescape: a file name that is not valid UTF-8 still hashes, byte for byte
        digest.update(f"{file.name}\t{file.size}\t{file.stamp}\n".encode("utf-8", "surrogateescape"))
    for entry in source.skipped:   # the report lists them: a new dangling link is a new report
        digest.update(f"skipped\t{entry}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def read_cached_dataset(path, expected_fingerprint):
    """The ImageDataset stored at ``path``, or None if there is none, it is stale, or it is unreadable."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            if str(stored["fingerprint"]) != expected_fingerprint:
                return None
            class_names = stored["class_names"].tolist()
            images = stored["images"]
            source = str(stored["source"])
            report = LoadReport(source=source, images=len(images), classes=len(class_names),
                                resized=int(stored["resized"]),
                                converted_to_rgb=int(stored["converted_to_rgb"]),
                                skipped=[Skipped(file, reason) for file, reason in
                                         zip(stored["skipped_files"].tolist(),
                                             stored["skipped_reasons"].tolist())],
                                cache="hit")
            return ImageDataset(images=images, labels=stored["labels"], class_names=class_names,
                                files=stored["files"].tolist(), digests=stored["digests"].tolist(),
                                source=source, report=report)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        warnings.warn(f"ignoring unreadable cache file {path} ({type(error).__name__}: {error}); "
                      "decoding the images again", stacklevel=3)
        return None


def write_cached_dataset(path, dataset, fingerprint_value):
    """Store ``dataset`` (with its report's counts) at ``path``, atomically.

    A cache that cannot be written (read-only folder, full disk) is a warning,
    not an error: the data was loaded fine, only the next load will be slower.
    """
    report = dataset.report
    arrays = {"fingerprint": np.array(fingerprint_value),
              "images": dataset.images, "labels": dataset.labels,
              "class_names": np.array(dataset.class_names, dtype=str),
              "files": np.array(dataset.files, dtype=str),
              "digests": np.array(dataset.digests, dtype=str),
              "source": np.array(dataset.source),
              "resized": np.array(report.resized),
              "converted_to_rgb": np.array(report.converted_to_rgb),
              "skipped_files": np.array([entry.file for entry in report.skipped], dtype=str),
              "skipped_reasons": np.array([entry.reason for entry in report.skipped], dtype=str)}
    try:
        atomic_savez(path, arrays)
    except OSError as error:
        warnings.warn(f"could not write the cache file {path} ({error}); the next load will "
                      "decode the images again", stacklevel=3)
