"""load_classifier: a checkpoint saved by the Trainer, as a model ready to predict, checked once.

    model, meta = load_classifier("runs/ahe/best.npz", backend="numba")

Every command that predicts with a checkpoint (``python -m minicnn evaluate``,
examples/generate_class_images.py, examples/visualize_deconv.py) loads it
here, so each makes the same checks and gives the same clear errors:

* the file, its architecture and its weights (``Sequential.from_checkpoint``,
  minicnn/checkpoint_checks.py): NaN or infinite weights from a run that
  diverged are refused, not scored;
* the metadata a prediction needs: ``class_names`` (distinct strings),
  ``mean`` and ``std`` (3 finite numbers each, std > 0), ``flip_average``;
* one output of the model per class name.
"""
import math

from .checkpoint_checks import CheckpointError
from .layers import Dense
from .models import Sequential, read_checkpoint_meta


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
