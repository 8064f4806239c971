"""load_dataset: one call from a folder or a .zip to an ImageDataset.

    dataset = load_dataset("data/ahe64")            # root with train/ (and maybe test/)
    dataset = load_dataset("data/ahe64", "test")    # the test/ split of the same root
    dataset = load_dataset("ahe64.zip")             # the Kaggle download, not extracted

The steps, each in its own module:

    sources.py  find the split folder (or the folder inside the zip) and list
                its class folders and files; DataError if there are none
    cache.py    if a cache file with the same fingerprint exists, return it
    decode.py   otherwise decode every file to (3, S, S) uint8 RGB, skipping
                (with a warning) the ones that are not images, then cache the result;
                entries that are not files (dangling links, FIFOs) are skipped and
                warned about the same way

Class indices follow the sorted class-folder names, so the same folders always
give the same labels, on any machine and in any file system order.
"""
import hashlib
import time
import warnings
from pathlib import Path

import numpy as np

from .cache import cache_path, default_cache_dir, fingerprint, read_cached_dataset, write_cached_dataset
from .dataset import ImageDataset, LoadReport, Skipped
from .decode import UNREADABLE_IMAGE_ERRORS, decode_image, describe_unreadable
from .errors import data_error
from .sources import open_image_source


class SkippedFileWarning(UserWarning):
    """A file of the dataset was skipped (``dataset.report.skipped`` lists them all)."""


def load_dataset(path, split="train", image_size=64, cache_dir=None, use_cache=True, verbose=True):
    """Load ``<path>/<split>/<class>/<image>`` (or a split folder, or a .zip) as an ImageDataset.

    path        a dataset root holding ``<split>/``, a split folder of class folders,
                or the Kaggle .zip
    split       which subfolder of a root to load ("train" or "test")
    image_size  images of another size are resized (bilinear) to image_size x image_size
    cache_dir   where decoded arrays are cached; default ``default_cache_dir()``
    use_cache   False to always decode (and never read or write a cache)
    verbose     print a one-line summary

    Returns images (N, 3, image_size, image_size) uint8 and labels (N,) int64,
    with ``dataset.report`` saying what was resized, converted, skipped or cached.
    Raises DataError if the data is missing or not laid out as class folders;
    warns once per file that is not a readable image, and skips it.
    """
    if not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size must be a positive int, got {image_size!r}")
    started = time.perf_counter()
    with open_image_source(path, split) as source:
        if use_cache:
            directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
            dataset = load_through_cache(source, image_size, directory)
        else:
            dataset = decode_source(source, image_size)
    for entry in dataset.report.skipped:
        warnings.warn(SkippedFileWarning(f"skipped {entry}"), stacklevel=2)
    dataset.report.seconds = time.perf_counter() - started
    if verbose:
        print(dataset.report)
    return dataset


def load_through_cache(source, image_size, cache_dir):
    """The cached dataset if it is up to date, else a freshly decoded one, then cached."""
    cache_file = cache_path(cache_dir, source, image_size)
    expected_fingerprint = fingerprint(source, image_size)
    dataset = read_cached_dataset(cache_file, expected_fingerprint)
    if dataset is None:
        dataset = decode_source(source, image_size)
        dataset.report.cache = "miss"
        write_cached_dataset(cache_file, dataset, expected_fingerprint)
    return dataset


def decode_source(source, image_size):
    """Decode every file of ``source`` into one ImageDataset (report.cache is "off")."""
    class_index = {name: index for index, name in enumerate(source.class_names)}
    images = np.empty((len(source.files), 3, image_size, image_size), dtype=np.uint8)
    labels, files, digests = [], [], []
    skipped = list(source.skipped)   # entries that were not files: dangling links, FIFOs, ...
    resized = converted_to_rgb = 0
    for file in source.files:
        try:
            data = source.read(file)
            pixels, was_resized, was_converted = decode_image(data, image_size)
        except UNREADABLE_IMAGE_ERRORS as error:
            skipped.append(Skipped(file.name, describe_unreadable(error)))
            continue
        images[len(labels)] = pixels
        labels.append(class_index[file.class_name])
        files.append(file.name)
        digests.append(hashlib.sha1(data).hexdigest())
        resized += was_resized
        converted_to_rgb += was_converted
    unreadable_classes = sorted(set(source.class_names) - {source.class_names[label] for label in labels})
    if unreadable_classes:
        folders = ", ".join(f"{source.description}/{name}" for name in unreadable_classes)
        raise data_error(f"no readable image in class folder(s) {folders}; skipped: {'; '.join(skipped)}.")
    report = LoadReport(source=source.description, images=len(labels),
                        classes=len(source.class_names), resized=resized,
                        converted_to_rgb=converted_to_rgb, skipped=skipped)
    return ImageDataset(images=images[:len(labels)], labels=np.array(labels, dtype=np.int64),
                        class_names=list(source.class_names), files=files, digests=digests,
                        source=source.description, report=report)
