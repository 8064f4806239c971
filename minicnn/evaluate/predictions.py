"""Predictions: a model's logits for a set of uint8 images, batch by batch, in eval mode.

    logits = predict_logits(model, images, mean, std, flip_average=True)   # (N, K) NumPy
"""
import numpy as np

from ..data import normalize
from ..functional.loss import log_softmax


def predict_logits(model, images, mean, std, batch_size=256, flip_average=False):
    """Logits for uint8 images (N, 3, H, W), in eval mode, batch by batch -> (N, classes) NumPy.

    ``flip_average`` averages the logits of each image and its mirror image
    (test-time augmentation; the network was trained with random flips).
    """
    backend = model.backend
    outputs = []
    with model.evaluating():
        for start in range(0, len(images), batch_size):
            batch = backend.to_device(normalize(images[start:start + batch_size], mean, std))
            logits = model.forward(batch)
            if flip_average:
                logits = (logits + model.forward(batch[:, :, :, ::-1].copy())) / 2
            outputs.append(backend.to_host(logits))
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), dtype=np.float32)


def mean_cross_entropy(logits, labels):
    """Mean softmax cross-entropy of host logits, for reporting (float64)."""
    log_probs = log_softmax(logits.astype(np.float64))
    return float(-log_probs[np.arange(len(labels)), labels].mean())
