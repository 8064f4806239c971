"""A synthetic run folder, as examples/train_ahe.py leaves one, for the report's tests.

    folder = synthetic_run(tmp_path / "run", epochs=3)

Every piece a real run writes (history.json, run.json, metrics.json,
validation_predictions.npz), with made-up but consistent values: seeded
random images and probabilities, so a test knows what the page must show.
"""
import json
import os
from types import SimpleNamespace

import numpy as np

from minicnn.evaluate import classification_metrics
from minicnn.report import write_predictions

CLASS_NAMES = ["apse", "bell_tower", "column", "dome(inner)"]


def synthetic_run(folder, epochs=3, images=40, class_names=CLASS_NAMES, seed=0, finished=True):
    """Write a run folder with ``epochs`` epochs of history -> its path (a str)."""
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    classes = len(class_names)
    history = [{"epoch": epoch, "train_loss": 2.0 / epoch, "train_accuracy": 1 - 0.5 / epoch,
                "lr": 0.06 * (1 - epoch / (epochs + 1)), "train_seconds": 10.0,
                "images_per_second": 250.0 + epoch, "val_loss": 2.2 / epoch,
                "val_accuracy": 1 - 0.6 / epoch, "val_macro_f1": 1 - 0.65 / epoch,
                "val_seconds": 1.0} for epoch in range(1, epochs + 1)]
    with open(os.path.join(folder, "history.json"), "w", encoding="utf-8") as file:
        json.dump(history, file)
    with open(os.path.join(folder, "run.json"), "w", encoding="utf-8") as file:
        json.dump({"command": "python examples/train_ahe.py --epochs 3", "seed": seed,
                   "configuration": {"epochs": epochs, "lr": 0.06},
                   "machine": {"platform": "Linux", "cpu_count": 2, "python": "3.11",
                               "numpy": np.__version__, "minicnn": "0.1.0",
                               "backend": "numpy"}}, file)
    labels = np.arange(images) % classes
    logits = rng.normal(size=(images, classes)) + 1.5 * np.eye(classes)[labels]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    val_set = SimpleNamespace(labels=labels, files=[f"{class_names[label]}/{index}.jpg"
                                                    for index, label in enumerate(labels)],
                              images=rng.integers(0, 256, (images, 3, 64, 64), dtype=np.uint8))
    write_predictions(folder, val_set, probabilities, class_names, epoch=epochs)
    if finished:
        predictions = probabilities.argmax(axis=1)
        metrics = {"validation": classification_metrics(labels, predictions, class_names),
                   "best_epoch": epochs, "epochs_run": epochs, "wall_seconds": 33.0,
                   "seed": seed}
        with open(os.path.join(folder, "metrics.json"), "w", encoding="utf-8") as file:
            json.dump(metrics, file)
    return folder


def trained_run(folder, epochs=2):
    """A real run folder: examples/train_ahe.py for ``epochs`` epochs on 30 small JPEGs of
    three colours (written beside it) -> (its path, the completed process)."""
    import pathlib
    import subprocess
    import sys

    from .conftest import REPO_ROOT
    from .test_train import write_class_folders

    folder = os.fspath(folder)
    data = os.path.join(os.path.dirname(folder), os.path.basename(folder) + "-data")
    write_class_folders(pathlib.Path(data) / "train", per_class=10)
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "train_ahe.py"), "--data", data,
         "--out", folder, "--epochs", str(epochs), "--width", "4", "--blocks", "1",
         "--val-fraction", "0.3", "--backend", "numpy", "--no-progress"],
        capture_output=True, text=True, env={**os.environ, "AHE64_DIR": ""})
    return folder, result
