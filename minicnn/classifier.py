"""A trained classifier: the network plus what its checkpoint says about its input and output.

A checkpoint saved by the Trainer holds more than weights: the class names,
the per-channel mean and std the training images were normalised with, and
whether the model predicts by averaging each image's logits with its mirror
image's. Every command that answers questions about images (evaluate, predict,
export) needs all of it, so it is read in one place:

    classifier = load_classifier("runs/ahe/best.npz", backend="numba")
    classifier.model            # Sequential, in eval mode
    classifier.class_names      # ["altar", "apse", ...]
    classifier.mean, classifier.std, classifier.flip_average
"""
from dataclasses import dataclass

import numpy as np

from .evaluate import predict_logits
from .layers import ShapeError
from .models import CheckpointError, Sequential, read_checkpoint_meta

# The side of the square images the networks are trained on (AHE Image64; the loader's default).
IMAGE_SIZE = 64

# What a checkpoint's meta must hold to classify images.
CLASSIFIER_META_KEYS = ("class_names", "mean", "std")


@dataclass
class Classifier:
    """model: Sequential; class_names: list of K names; mean, std: (3,) float32 on the
    0-1 scale; flip_average: bool; source: where it was loaded from."""

    model: Sequential
    class_names: list
    mean: np.ndarray
    std: np.ndarray
    flip_average: bool
    source: str = ""


def load_classifier(path, backend=None):
    """The Classifier a Trainer checkpoint describes, its model in eval mode.

    Raises CheckpointError if the file is missing, corrupt, or was not saved by
    the Trainer (no class names or normalisation statistics in its meta), or if
    its network does not map 64x64 images to one logit per class (``check_network``).
    """
    meta = read_checkpoint_meta(path)
    missing = [key for key in CLASSIFIER_META_KEYS if key not in meta]
    if missing:
        raise CheckpointError(f"{path} holds no {', '.join(missing)}: it was not saved by the "
                              "minicnn Trainer")
    model = Sequential.from_checkpoint(path, backend=backend).eval()
    check_network(model, meta["class_names"], path)
    return Classifier(model=model, class_names=list(meta["class_names"]),
                      mean=np.array(meta["mean"], dtype=np.float32),
                      std=np.array(meta["std"], dtype=np.float32),
                      flip_average=bool(meta.get("flip_average", False)), source=str(path))


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
    if logits.shape[1] != len(class_names):
        raise CheckpointError(f"{source}: the network gives {logits.shape[1]} logits per image, "
                              f"but there are {len(class_names)} class names")
