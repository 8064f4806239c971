"""load_classifier: a checkpoint saved by the Trainer, as a model ready to predict, checked once.

    model, meta = load_classifier("runs/ahe/best.npz", backend="numba")

Every command that predicts with a checkpoint (the CLI, examples/generate_class_images.py,
examples/visualize_deconv.py) loads it here, so each makes the same checks and gives
the same clear errors:

* the file, its architecture and its weights (``Sequential.from_checkpoint``,
  minicnn/io/checkpoint_checks.py): NaN or infinite weights from a run that
  diverged are refused, not scored;
* the metadata a prediction needs: ``class_names`` (distinct strings),
  ``mean`` and ``std`` (3 finite numbers each, std > 0), ``flip_average``;
* one output of the model per class name.

Commands that take photos (evaluate, predict, export) want the metadata as arrays,
and a network that certainly maps 64x64 images to one logit per class:

    classifier = Classifier.load("runs/ahe/best.npz", backend="numba")
    classifier.model, classifier.class_names, classifier.mean, classifier.std, classifier.flip_average
"""
import math
from dataclasses import dataclass

import numpy as np

from ..evaluate import predict_logits
from ..io.checkpoint import read_checkpoint_meta
from ..io.checkpoint_checks import CheckpointError
from ..layers import Dense, ShapeError
from ..models import Sequential

# The side of the square images the networks are trained on (AHE Image64; the loader's default).
IMAGE_SIZE = 64


def load_classifier(path, backend=None):
    """-> (model in eval mode, meta with class_names, mean and std). Raises CheckpointError."""
    meta = read_checkpoint_meta(path)
    check_classifier_meta(meta, path)
    model = Sequential.from_checkpoint(path, backend=backend).eval()
    head = next((layer for layer in reversed(model.layers) if isinstance(layer, Dense)), None)
    if head is not None and head.out_features != len(meta["class_names"]):
        raise CheckpointError(f"{path} names {len(meta['class_names'])} classes but its model "
                              f"has {head.out_features} outputs")
    return model, meta


def check_classifier_meta(meta, path):
    """The metadata a prediction needs, as the Trainer writes it."""
    if "class_names" not in meta:
        raise CheckpointError(f"{path} holds no class names: it was not saved by the minicnn "
                              "Trainer")
    names = meta["class_names"]
    if (not isinstance(names, list) or not names
            or not all(isinstance(name, str) for name in names) or len(set(names)) != len(names)):
        raise CheckpointError(f"{path}: class_names must be a list of distinct strings, "
                              f"got {names!r}")
    for key in ("mean", "std"):
        values = meta.get(key)
        if not (isinstance(values, list) and len(values) == 3
                and all(isinstance(value, (int, float)) and math.isfinite(value) for value in values)):
            raise CheckpointError(f"{path}: {key} must be 3 finite numbers (one per colour "
                                  f"channel), got {values!r}")
    if not all(value > 0 for value in meta["std"]):
        raise CheckpointError(f"{path}: std must be positive, got {meta['std']!r}")
    if not isinstance(meta.get("flip_average", False), bool):
        raise CheckpointError(f"{path}: flip_average must be true or false, "
                              f"got {meta['flip_average']!r}")


@dataclass
class Classifier:
    """model: Sequential in eval mode; class_names: list of K names; mean, std: (3,) float32 on
    the 0-1 scale; flip_average: bool."""

    model: Sequential
    class_names: list
    mean: np.ndarray
    std: np.ndarray
    flip_average: bool

    @classmethod
    def load(cls, path, backend=None):
        """``load_classifier``, plus one forward pass that proves the network takes 64x64 images
        and gives one logit per class (``check_network``). Raises CheckpointError."""
        model, meta = load_classifier(path, backend=backend)
        check_network(model, meta["class_names"], path)
        return cls(model=model, class_names=list(meta["class_names"]),
                   mean=np.array(meta["mean"], dtype=np.float32),
                   std=np.array(meta["std"], dtype=np.float32),
                   flip_average=bool(meta.get("flip_average", False)))


def check_network(model, class_names, source="the network"):
    """CheckpointError unless ``model`` maps (N, 3, 64, 64) images to (N, len(class_names)) logits.

    One forward pass of a black image, in eval mode (running statistics untouched).
    """
    black = np.zeros((1, 3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    try:
        logits = predict_logits(model, black, mean=np.zeros(3), std=np.ones(3))
    except ShapeError as error:
        raise CheckpointError(f"{source}: the network does not take {IMAGE_SIZE}x{IMAGE_SIZE} "
                              f"RGB images ({error})") from None
    if logits.ndim != 2:
        raise CheckpointError(f"{source}: the network gives outputs of shape {logits.shape[1:]} "
                              f"per image, not one logit per class ({len(class_names)})")
    if logits.shape[1] != len(class_names):
        raise CheckpointError(f"{source}: the network gives {logits.shape[1]} logits per image, "
                              f"but there are {len(class_names)} class names")
