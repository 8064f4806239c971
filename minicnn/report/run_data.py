"""What a run folder holds, read for its report: every piece optional, each checked.

    run = read_run("runs/ahe")
    run.history, run.metrics, run.run_info, run.split, run.robustness   # None where absent
    run.predictions     # ValidationPredictions, or None
    run.figures         # [(heading, [path, ...]), ...] of the visualization PNGs found
    run.notes           # one sentence per piece that is there but cannot be read

A missing piece is normal (an old run, an unfinished one, a figure never
drawn): the page says so in its section. A piece that is there but corrupt
becomes a note at the top of the page, and its section is left out; only a
folder that is not a run folder at all raises ReportError.

validation_predictions.npz is written by the training run's report callback
(minicnn/report/live.py) whenever an epoch is the best so far, so it matches
best.npz:

    probabilities   (N, K) float32, softmax of the validation logits
    labels          (N,) int64, the true classes
    files           (N,) str, the images' paths relative to their split folder
    class_names     (K,) str
    epoch           () int, the epoch these predictions are from
    gallery_indices (M,) int64, the M misclassified images of largest loss, largest first
    gallery_images  (M, 3, H, W) uint8, those images (the report needs no data folder)
"""
import dataclasses
import glob
import json
import os
import zipfile

import numpy as np

from ..io.atomic import atomic_write

PREDICTIONS = "validation_predictions.npz"
# the files a report is made from (the figures aside)
PIECES = ("history.json", "metrics.json", "run.json", "split.json", "robustness.json",
          "robustness.png", PREDICTIONS)
GALLERY_SIZE = 30
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The figures of the visualization examples, by heading: the file patterns they write,
# looked for in the run folder and its sub-folders (visualize_deconv.py --run writes
# deconv/, generate_class_images.py --run writes class_images/).
FIGURES = (
    ("deconvnet: top-9 validation images and their projections, per feature", "top9_*.png"),
    ("gradient, deconvnet and guided backward rules", "rules.png"),
    ("occlusion maps", "occlusion.png"),
    ("feature evolution over the epochs", "evolution_*.png"),
    ("feature maps of one image", "feature_maps_*.png"),
    ("first-layer filters", "filters_conv1.png"),
    ("generated class images", os.path.join("class_images", "grid.png")),
    ("class-image generation: scores per step", os.path.join("class_images", "history.png")),
)


class ReportError(ValueError):
    """A folder that is not a run folder (missing, or holding none of a run's files)."""


@dataclasses.dataclass
class ValidationPredictions:
    """A run's validation predictions (the module docstring lists the arrays)."""
    probabilities: np.ndarray
    labels: np.ndarray
    files: list
    class_names: list
    epoch: int
    gallery_indices: np.ndarray
    gallery_images: np.ndarray

    @property
    def predictions(self):
        return self.probabilities.argmax(axis=1)

    def losses(self):
        """Each image's cross-entropy, -log p(true class) (N,)."""
        true = self.probabilities[np.arange(len(self.labels)), self.labels]
        return -np.log(np.maximum(true.astype(np.float64), np.finfo(np.float64).tiny))


@dataclasses.dataclass
class RunData:
    folder: str
    history: list = None
    metrics: dict = None
    run_info: dict = None
    split: dict = None
    robustness: dict = None
    robustness_png: str = None
    predictions: ValidationPredictions = None
    figures: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)

    @property
    def name(self):
        return os.path.basename(os.path.normpath(os.path.abspath(self.folder)))


def read_run(folder):
    """Everything readable in ``folder`` -> RunData. Raises ReportError for a non-run folder."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise ReportError(f"{folder}: no such run folder")
    run = RunData(folder)
    run.history = read_json(run, "history.json", check_history)
    run.metrics = read_json(run, "metrics.json", check_metrics)
    run.run_info = read_json(run, "run.json", check_run_info)
    run.split = read_json(run, "split.json", check_mapping)
    run.robustness = read_json(run, "robustness.json", check_robustness)
    run.predictions = read_predictions(run)
    run.robustness_png = png_or_note(run, os.path.join(folder, "robustness.png"))
    run.figures = find_figures(run)
    found = [run.history, run.metrics, run.run_info, run.predictions]
    if all(piece is None for piece in found) and not run.notes:
        raise ReportError(f"{folder} is not a run folder: it holds none of history.json, "
                          f"metrics.json, run.json, {PREDICTIONS} (written by "
                          "examples/train_ahe.py)")
    return run


def read_json(run, name, check):
    """The JSON file ``name`` of the run, checked by ``check`` (raises ValueError); None when
    absent; a note and None when it cannot be read or is not what it should be."""
    path = os.path.join(run.folder, name)
    try:
        with open(path, encoding="utf-8") as file:
            value = json.load(file)
        check(value)
        return value
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError) as error:
        run.notes.append(f"{name} cannot be read ({error}); what it holds is left out")
        return None


def check_mapping(value):
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")


def check_fields(value, mappings=(), numbers=()):
    """A JSON object whose ``mappings`` keys, where present, hold objects, and ``numbers``
    keys numbers (or null)."""
    check_mapping(value)
    for key in mappings:
        if key in value and not isinstance(value[key], dict):
            raise ValueError(f"its {key!r} is {type(value[key]).__name__}, not an object")
    for key in numbers:
        number = value.get(key)
        if number is not None and (isinstance(number, bool) or
                                   not isinstance(number, (int, float))):
            raise ValueError(f"its {key!r} is {number!r}, not a number")


def check_metrics(value):
    check_fields(value, mappings=("validation", "test", "machine"),
                 numbers=("wall_seconds", "best_epoch", "epochs_run"))


def check_run_info(value):
    check_fields(value, mappings=("configuration", "machine"))


HISTORY_NUMBERS = ("epoch", "train_loss", "train_accuracy", "lr", "train_seconds",
                   "images_per_second", "val_loss", "val_accuracy", "val_macro_f1", "val_seconds")


def check_history(value):
    if not isinstance(value, list) or not all(isinstance(row, dict) and "epoch" in row
                                              for row in value):
        raise ValueError("expected a list of epoch rows, each with its 'epoch'")
    for row in value:
        check_fields(row, numbers=HISTORY_NUMBERS)


def check_robustness(value):
    """The keys the robustness table shows are there, and numbers where it formats numbers."""
    check_mapping(value)
    numbers = [value["clean"]["accuracy"], value["mean_accuracy"]]
    for row in value["results"]:
        if "corruption" not in row:
            raise ValueError(f"a result without its 'corruption': {row}")
        numbers += [row["accuracy"], row["severity"]]
    for number in numbers:
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise ValueError(f"expected a number, got {number!r}")


def read_predictions(run):
    """validation_predictions.npz -> ValidationPredictions; None when absent; a note when bad."""
    path = os.path.join(run.folder, PREDICTIONS)
    if not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as arrays:
            predictions = ValidationPredictions(
                probabilities=arrays["probabilities"].astype(np.float32),
                labels=arrays["labels"].astype(np.int64), files=arrays["files"].tolist(),
                class_names=arrays["class_names"].tolist(), epoch=int(arrays["epoch"]),
                gallery_indices=arrays["gallery_indices"].astype(np.int64),
                gallery_images=arrays["gallery_images"])
        check_predictions(predictions)
        return predictions
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        run.notes.append(f"{PREDICTIONS} cannot be read ({error}); the tables are made from "
                         "metrics.json where it has them")
        return None


def check_predictions(predictions):
    count, classes = len(predictions.labels), len(predictions.class_names)
    if predictions.probabilities.shape != (count, classes):
        raise ValueError(f"probabilities are {predictions.probabilities.shape}, expected "
                         f"({count}, {classes}) for {count} labels and {classes} classes")
    if len(predictions.files) != count:
        raise ValueError(f"{len(predictions.files)} file names for {count} labels")
    if count and (predictions.labels.min() < 0 or predictions.labels.max() >= classes):
        raise ValueError(f"labels outside 0..{classes - 1}")
    if len(predictions.gallery_images) != len(predictions.gallery_indices):
        raise ValueError("gallery_images and gallery_indices differ in length")
    if len(predictions.gallery_indices) and (predictions.gallery_indices.min() < 0 or
                                             predictions.gallery_indices.max() >= count):
        raise ValueError("gallery_indices outside the images")


def write_predictions(folder, val_set, probabilities, class_names, epoch,
                      gallery_size=GALLERY_SIZE):
    """Write ``folder``/validation_predictions.npz (atomically) -> its path."""
    labels = np.asarray(val_set.labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float32)
    true = probabilities[np.arange(len(labels)), labels].astype(np.float64)
    wrong = np.flatnonzero(probabilities.argmax(axis=1) != labels)
    # the largest losses -log p(true) are the smallest p(true); stable, so ties keep file order
    gallery = wrong[np.argsort(true[wrong], kind="stable")][:gallery_size]
    path = os.path.join(folder, PREDICTIONS)
    arrays = {"probabilities": probabilities, "labels": labels,
              "files": np.array(list(val_set.files), dtype=str),
              "class_names": np.array(list(class_names), dtype=str),
              "epoch": np.array(epoch, dtype=np.int64),
              "gallery_indices": gallery.astype(np.int64),
              "gallery_images": np.asarray(val_set.images)[gallery]}
    # compressed: the file names are fixed-width UTF-32, mostly padding
    atomic_write(path, lambda file: np.savez_compressed(file, **arrays))
    return path


def png_or_note(run, path):
    """``path`` if it is a PNG file, None if absent; a note and None if it is something else."""
    if not os.path.exists(path):
        return None
    try:
        with open(path, "rb") as file:
            if file.read(len(PNG_SIGNATURE)) == PNG_SIGNATURE:
                return path
    except OSError as error:
        run.notes.append(f"{os.path.relpath(path, run.folder)} cannot be read "
                         f"({error.strerror}); it is left out")
        return None
    run.notes.append(f"{os.path.relpath(path, run.folder)} is not a PNG image; it is left out")
    return None


def find_figures(run):
    """[(heading, [PNG paths])] for the FIGURES in the run folder and its sub-folders."""
    found = []
    for heading, pattern in FIGURES:
        paths = sorted(set(glob.glob(os.path.join(glob.escape(run.folder), pattern)) +
                           glob.glob(os.path.join(glob.escape(run.folder), "*", pattern))))
        paths = [path for path in paths if png_or_note(run, path)]
        if paths:
            found.append((heading, paths))
    return found
