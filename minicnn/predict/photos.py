"""Predict: from image files on disk to a trained classifier's top-K classes.

    classifier = Classifier.load("runs/ahe/best.npz")
    for result in predict_paths(classifier, ["photo.jpg", "holiday/"], top=3):
        print(result)   # {"path": "photo.jpg", "top": [{"class": "apse", "probability": 0.93}, ...]}

Each photo is seen the way the training images were: decoded by the loader's
own ``decode_image`` (any mode, any size, EXIF orientation applied), resized to
64x64 (bilinear, stretched, not cropped), normalised with the mean and std
stored in the checkpoint, and, when the checkpoint says so, its logits are
averaged with its mirror image's, as ``evaluate`` does (``predict_logits``).

Inputs
    A file is always tried, whatever its name. A folder is searched
    recursively, in sorted order, for files whose extension Pillow can open
    (.jpg, .jpeg, .png, .webp, .tif, ...); hidden files and folders (names
    starting with ".") are skipped. A file that cannot be read, a path that
    does not exist and a folder without images each get a result with an
    ``"error"`` instead of ``"top"``; the other images are still answered.

Images are decoded and classified in chunks of ``batch_size``, so a folder of
any size needs memory for one chunk only, and results come as each chunk is done.
"""
import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.decode import UNREADABLE_IMAGE_ERRORS, decode_image, describe_unreadable
from ..data.sources import FILE, entry_kind, is_hidden
from ..evaluate import predict_logits
from ..functional import softmax
from ..io.paths import describe_unopenable, file_identity
from .classifier import IMAGE_SIZE


@functools.cache
def image_extensions():
    """The file extensions of the formats Pillow can open (not those it can only write).

    Asked only when a folder is searched: listing them loads every Pillow
    plugin, a quarter of a second that a single photo does not need.
    """
    return frozenset(extension for extension, format_name
                     in Image.registered_extensions().items() if format_name in Image.OPEN)


@dataclass
class ImageInput:
    """One image to classify: ``shown`` is its path as the user gave it (a folder's
    files: joined onto the folder as given); ``error`` says why it cannot be tried."""

    shown: str
    path: Path | None = None
    error: str | None = None


def expand_paths(paths):
    """Files and folders -> [ImageInput], in the order given, each folder's images sorted."""
    inputs = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = images_in_folder(path)
            inputs += [file_input(os.path.join(given, relative), path / relative)
                       for relative in found]
            if not found:
                inputs.append(ImageInput(str(given), error="a folder with no image files "
                                         "(.jpg, .png or another extension Pillow opens)"))
        elif path.exists():
            inputs.append(file_input(str(given), path))
        else:
            why = describe_unopenable(path) or "does not exist"
            inputs.append(ImageInput(str(given), error=f"no such file or folder: it {why}"))
    return inputs


def file_input(shown, path):
    """An ImageInput for a regular file; for anything else (a FIFO would block the read
    forever, a device would never end) one that says what it is."""
    kind = entry_kind(path)
    return ImageInput(shown, path) if kind == FILE else ImageInput(shown, error=f"not a file: {kind}")


def images_in_folder(folder):
    """Relative paths (str, sorted) of the image files under ``folder``, hidden entries skipped."""
    found = []
    for directory, subfolders, files in os.walk(folder):
        subfolders[:] = [name for name in subfolders if not is_hidden(name)]
        relative_directory = os.path.relpath(directory, folder)
        found += [os.path.normpath(os.path.join(relative_directory, name)) for name in files
                  if not is_hidden(name) and Path(name).suffix.lower() in image_extensions()]
    return sorted(found)


def read_image(path):
    """An image file -> (3, 64, 64) uint8 RGB, decoded as the training images were."""
    pixels, _, _ = decode_image(Path(path).read_bytes(), IMAGE_SIZE)
    return pixels


def top_classes(probabilities, class_names, top):
    """(K,) probabilities -> [{"class": name, "probability": p}, ...], the ``top`` largest first."""
    order = np.argsort(-probabilities, kind="stable")[:top]
    return [{"class": class_names[index], "probability": round(float(probabilities[index]), 6)}
            for index in order]


def predict_paths(classifier, paths, top=3, batch_size=256, flip_average=None, explain_dir=None):
    """Yield one result dict per image found in ``paths`` (files or folders), in order.

    A result is {"path", "top": [{"class", "probability"}, ...]} or {"path", "error"};
    with ``explain_dir`` it also names its "explanation" PNG (``minicnn.explain``).
    ``flip_average`` None follows the checkpoint.
    """
    if flip_average is None:
        flip_average = classifier.flip_average
    inputs = expand_paths(paths)
    # across chunks: no PNG may overwrite another, nor any input
    explanation_names = {"taken": set(), "inputs": {file_identity(item.path) for item in inputs
                                                    if item.path is not None}}
    for start in range(0, len(inputs), batch_size):
        yield from predict_chunk(classifier, inputs[start:start + batch_size], top, flip_average,
                                 explain_dir, explanation_names)


def predict_chunk(classifier, inputs, top, flip_average, explain_dir, explanation_names):
    """Decode and classify a list of ImageInputs -> yield their result dicts, in order, each
    as soon as it is done; with ``explain_dir``, each PNG's name is added to
    ``explanation_names["taken"]``, and none is one of ``explanation_names["inputs"]``."""
    results, decoded, positions = [], [], []
    for item in inputs:
        results.append({"path": item.shown})
        if item.error is not None:
            results[-1]["error"] = item.error
            continue
        try:
            decoded.append(read_image(item.path))
        except UNREADABLE_IMAGE_ERRORS as error:
            results[-1]["error"] = describe_unreadable(error)
            continue
        positions.append(len(results) - 1)
    if not decoded:
        yield from results
        return
    images = np.stack(decoded)
    with np.errstate(over="ignore", invalid="ignore"):   # a non-finite row is an error below
        logits = predict_logits(classifier.model, images, classifier.mean, classifier.std,
                                batch_size=len(images), flip_average=flip_average)
        probabilities = softmax(logits.astype(np.float64))
    explained = {}   # position in results -> (image, its probabilities), to explain
    for position, image, row in zip(positions, images, probabilities):
        if not np.all(np.isfinite(row)):   # never "nan%": the model overflowed on this image
            results[position]["error"] = ("the network's output for this image is not finite "
                                          "(NaN or infinity): its checkpoint cannot classify it")
            continue
        results[position]["top"] = top_classes(row, classifier.class_names, top)
        explained[position] = image, row
    if explain_dir is not None:
        # matplotlib loads only when asked for: plain predictions start faster without it
        from .explain import explain_prediction, explanation_path
    for position, result in enumerate(results):
        if explain_dir is not None and position in explained:
            image, row = explained[position]
            label = int(row.argmax())
            target = explanation_path(explain_dir, result["path"], explanation_names["taken"],
                                      explanation_names["inputs"])
            explain_prediction(classifier, image, label, row[label], result["path"], target)
            result["explanation"] = str(target)
        yield result


def format_result(result):
    """A result dict as text: the path, then one line per class (or the error)."""
    if "error" in result:
        return f"{result['path']}\n  error: {result['error']}"
    lines = [result["path"]]
    lines += [f"  {entry['probability']:>7.1%}  {entry['class']}" for entry in result["top"]]
    if "explanation" in result:
        lines.append(f"  explained in {result['explanation']}")
    return "\n".join(lines)
