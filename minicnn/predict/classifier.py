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
* one output of the model per class name, and finite logits for a probe batch
  (``check_network``): weights that are each in their domain can still
  overflow together, and a model that gives NaN would be scored "class 0" for
  every image and print "nan%".

Commands that take photos (evaluate, predict, export) want the metadata as arrays,
and a network that certainly maps 64x64 images to one logit per class:

    classifier = Classifier.load("runs/ahe/best.npz", backend="numba")
    classifier.model, classifier.class_names, classifier.mean, classifier.std, classifier.flip_average
"""
import math
from dataclasses import dataclass

import numpy as np

from ..data import normalize
from ..evaluate import predict_logits
from ..io.checkpoint import read_checkpoint_meta
from ..io.checkpoint_checks import CheckpointError
from ..layers import Dense, ShapeError
from ..models import Sequential

# The side of the square images the networks are trained on (AHE Image64; the loader's default).
IMAGE_SIZE = 64
# Images of the probe batch every loaded classifier must give finite logits for.
PROBE_IMAGES = 8


def load_classifier(path, backend=None):
    """-> (model in eval mode, meta with class_names, mean and std). Raises CheckpointError."""
    meta = read_checkpoint_meta(path)
    check_classifier_meta(meta, path)
    model = Sequential.from_checkpoint(path, backend=backend).eval()
    head = next((layer for layer in reversed(model.layers) if isinstance(layer, Dense)), None)
    if head is not None and head.out_features != len(meta["class_names"]):
        raise CheckpointError(f"{path} names {len(meta['class_names'])} classes but its model "
                              f"has {head.out_features} outputs")
    check_network(model, meta["class_names"], f"checkpoint {path}",
                  np.array(meta["mean"], dtype=np.float32), np.array(meta["std"], dtype=np.float32))
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
        """``load_classifier``: a network checked to take 64x64 images and give one finite
        logit per class (``check_network``). Raises CheckpointError."""
        model, meta = load_classifier(path, backend=backend)
        return cls(model=model, class_names=list(meta["class_names"]),
                   mean=np.array(meta["mean"], dtype=np.float32),
                   std=np.array(meta["std"], dtype=np.float32),
                   flip_average=bool(meta.get("flip_average", False)))


def probe_images():
    """PROBE_IMAGES (N, 3, 64, 64) uint8: black, white, mid-grey, then seeded random pixels."""
    flat = [np.full((3, IMAGE_SIZE, IMAGE_SIZE), value, dtype=np.uint8) for value in (0, 255, 128)]
    noise = np.random.default_rng(0).integers(0, 256, (PROBE_IMAGES - len(flat), 3, IMAGE_SIZE,
                                                       IMAGE_SIZE), dtype=np.uint8)
    return np.concatenate([np.stack(flat), noise])


def check_network(model, class_names, source="the network", mean=None, std=None):
    """CheckpointError unless ``model`` maps (N, 3, 64, 64) images to (N, len(class_names))
    finite logits.

    One forward pass of the probe batch (``probe_images``), normalised with ``mean`` and
    ``std`` (default 0 and 1) as predictions are, in eval mode (running statistics
    untouched). Non-finite logits name the first layer whose output is not finite.
    """
    mean = np.zeros(3, dtype=np.float32) if mean is None else mean
    std = np.ones(3, dtype=np.float32) if std is None else std
    try:
        with np.errstate(over="ignore", invalid="ignore"):   # non-finite is what is checked
            logits = predict_logits(model, probe_images(), mean=mean, std=std)
    except ShapeError as error:
        raise CheckpointError(f"{source}: the network does not take {IMAGE_SIZE}x{IMAGE_SIZE} "
                              f"RGB images ({error})") from None
    if logits.ndim != 2:
        raise CheckpointError(f"{source}: the network gives outputs of shape {logits.shape[1:]} "
                              f"per image, not one logit per class ({len(class_names)})")
    if logits.shape[1] != len(class_names):
        raise CheckpointError(f"{source}: the network gives {logits.shape[1]} logits per image, "
                              f"but there are {len(class_names)} class names")
    if not np.all(np.isfinite(logits)):
        raise CheckpointError(f"{source}: the network gives non-finite logits (NaN or "
                              f"infinity) for a probe batch of {len(logits)} images; "
                              f"{first_non_finite_layer(model, mean, std)}")


def first_non_finite_layer(model, mean, std):
    """Which layer first gives a non-finite output on the probe batch, and the arrays it holds."""
    backend = model.backend
    x = backend.to_device(normalize(probe_images(), mean, std))
    with model.evaluating(), np.errstate(over="ignore", invalid="ignore"):
        for index, layer in enumerate(model.body):
            x = layer.forward(x)
            if not np.all(np.isfinite(backend.to_host(x))):
                arrays = [f"{prefix}.{key}" for prefix, store in (("param", model.params),
                                                                  ("buffer", model.buffers))
                          for key in store if key.split(".", 1)[0] == str(index)]
                return (f"the first is the output of layer {index} ({type(layer).__name__}"
                        + (f", holding {', '.join(arrays)})" if arrays else ")"))
    return "no single layer's output is non-finite on its own"
