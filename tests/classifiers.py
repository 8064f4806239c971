"""Small classifiers with random weights, and checkpoints written the way the Trainer writes them.

Tests of predict, export and the PyTorch bridge build their own networks here
instead of depending on a trained run: every parameter and every BatchNorm
buffer gets random values (a fresh network's running statistics are 0 and 1,
which would hide a mix-up of mean and variance), and the checkpoint carries
the Trainer's meta keys.
"""
import numpy as np

from minicnn import layers as layer_module
from minicnn.models import ahe_network, ahe_resnet, reference_network
from minicnn.layers import (BatchNorm2D, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool2D, Layer,
                            MaxPool2D, ReLU, Residual, SoftmaxCrossEntropy)
from minicnn.models import Sequential

CLASS_NAMES = ["altar", "apse", "bell_tower", "column", "dome(inner)", "dome(outer)",
               "flying_buttress", "gargoyle", "stained_glass", "vault"]
MEAN = np.array([0.44, 0.42, 0.39], dtype=np.float32)
STD = np.array([0.25, 0.25, 0.28], dtype=np.float32)


def every_layer_network(num_classes=10, backend="numpy", seed=0):
    """One network holding every layer type of minicnn.layers, with odd settings: a 5x5 conv of
    stride 2 with bias, an overlapping 3x3 pool of stride 2, a residual block with a
    1x1-conv shortcut and one with the identity shortcut, a conv without bias."""
    layers = [Conv2D(3, 6, 5, stride=2, padding=2), BatchNorm2D(6), ReLU(), MaxPool2D(3, stride=2),
              Residual([Conv2D(6, 8, 3, padding=1, bias=False), BatchNorm2D(8), ReLU(),
                        Conv2D(8, 8, 3, padding=1)],
                       shortcut=[Conv2D(6, 8, 1, bias=False), BatchNorm2D(8)]),
              ReLU(), Residual([Conv2D(8, 8, 3, padding=1, bias=False), ReLU()]),
              Dropout(0.3), GlobalAvgPool2D(), Flatten(), Dense(8, 12), ReLU(), Dropout(0.5),
              Dense(12, num_classes), SoftmaxCrossEntropy()]
    return Sequential(layers, backend=backend).reset_parameters(seed)


# name -> a function (backend, seed) -> a Sequential of 10 classes with random weights
NETWORKS = {
    "ahe": lambda backend="numpy", seed=0: randomized(ahe_network(10, backend=backend, seed=seed),
                                                        seed),
    "ahe_resnet": lambda backend="numpy", seed=0: randomized(
        ahe_resnet(10, backend=backend, seed=seed), seed),
    "reference": lambda backend="numpy", seed=0: randomized(
        reference_network(10, backend=backend, seed=seed), seed),
    "every_layer": lambda backend="numpy", seed=0: randomized(
        every_layer_network(10, backend=backend, seed=seed), seed),
}


def layer_types():
    """The names of every layer type of minicnn.layers (LAYER_TYPES; not the base classes)."""
    return {layer_class.__name__ for layer_class in layer_module.LAYER_TYPES}


def randomized(model, seed):
    """Give every bias and BatchNorm parameter and buffer random values (weights keep He init)."""
    rng = np.random.default_rng(seed + 1000)
    backend = model.backend
    for layer in (layer for _, layer in model.walk() if layer.holds_arrays):
        for store in (layer.params, layer.buffers):
            for key, value in store.items():
                if key in ("gamma", "running_var"):
                    new = rng.uniform(0.5, 2.0, value.shape)
                elif key in ("b", "beta", "running_mean"):
                    new = rng.normal(0.0, 0.2, value.shape)
                else:
                    continue
                store[key] = backend.to_device(new.astype(value.dtype))
    return model.eval()


def save_classifier(model, path, class_names=CLASS_NAMES, flip_average=True):
    """A checkpoint with the meta keys the Trainer writes (those a classifier needs)."""
    model.save(path, meta={"kind": "minicnn-classifier", "class_names": list(class_names),
                           "mean": MEAN.tolist(), "std": STD.tolist(),
                           "flip_average": flip_average, "epoch": 1})
    return path


def random_pixels(count, seed=0, size=64):
    """uint8 images (count, 3, size, size) with structure: a smooth gradient plus noise, left-right
    asymmetric, so a mirror image gives other logits."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 200, size)[None, None, None, :]
    noise = rng.integers(0, 56, (count, 3, size, size))
    return (ramp + noise).astype(np.uint8)


def real_photo_paths(count_per_class=2):
    """Paths of the first ``count_per_class`` photos of each class of the real training set
    (sorted names), or skip the test when the dataset is absent."""
    import pytest

    from .conftest import SHARED_DATA

    train = SHARED_DATA / "train"
    if not train.is_dir():
        pytest.skip(f"the AHE64 dataset is not at {SHARED_DATA}")
    return [path for folder in sorted(train.iterdir())
            for path in sorted(folder.iterdir())[:count_per_class]]


def real_photos(count_per_class=2):
    """(N, 3, 64, 64) uint8 real photos, decoded as the loader decodes them."""
    from minicnn.predict.photos import read_image

    return np.stack([read_image(path) for path in real_photo_paths(count_per_class)])
