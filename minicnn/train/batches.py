"""TrainingBatches: the training set, one epoch at a time, as batches ready for ``train_step``.

Per batch: pick the samples of a fresh random order (``iterate_batches``),
degrade some of the photos (``degrade_batch``: shrunk, blurred, JPEG-compressed
or made gray, when the config asks for it), normalize them with the training
set's mean and std, augment them (``augment_batch``), give them their targets
(integer labels, or soft targets for label smoothing, mixup and cutmix:
minicnn/data/targets.py), and move them to the model's backend. Every random
choice comes from one seeded generator, ``rng``, which a checkpoint saves: a
resumed run draws the very same batches.
"""
from typing import NamedTuple

import numpy as np

from ..data import augment_batch, iterate_batches, normalize
from ..data.augmentation import degrade_batch
from ..data.targets import soft_targets


class Batch(NamedTuple):
    """One training batch, on the model's backend."""
    index: int          # 1, 2, ... within the epoch
    images: object      # (N, C, H, W) float32, normalized and augmented
    targets: object     # (N,) integer labels, or (N, K) target probabilities
    labels: object      # (N,) the class each image is scored as: its label, or under
    #                     mixup / cutmix the class with the largest share of its target
    size: int           # N


class TrainingBatches:
    """The batches of one training run: ``len()`` per epoch; ``epoch()`` iterates one epoch."""

    def __init__(self, dataset, config, mean, std, num_classes, backend, rng):
        self.dataset = dataset
        self.config = config
        self.mean, self.std = mean, std
        self.num_classes = num_classes
        self.backend = backend
        self.rng = rng

    def __len__(self):
        return -(-len(self.dataset) // self.config.batch_size)

    def epoch(self):
        """Batch after batch of one epoch, in a fresh random order."""
        for index, indices in enumerate(iterate_batches(len(self.dataset), self.config.batch_size,
                                                        rng=self.rng, shuffle=True), start=1):
            yield self.batch(index, indices)

    def batch(self, index, indices):
        """The Batch of the samples at ``indices``."""
        config, labels = self.config, self.dataset.labels[indices]
        pixels = self.dataset.images[indices]
        if config.degrade or config.grayscale:   # on the uint8 photo, as a real one is degraded
            pixels = degrade_batch(pixels, self.rng, config.degrade, config.grayscale)
        images = augment_batch(normalize(pixels, self.mean, self.std),
                               self.rng, flip=config.flip, max_shift=config.max_shift,
                               color_jitter=config.color_jitter, zoom=config.zoom)
        targets = labels
        if config.label_smoothing or config.mix != "none":
            images, targets = soft_targets(images, labels, self.num_classes, self.rng,
                                           config.label_smoothing, config.mix, config.mix_alpha,
                                           config.mix_probability)
            labels = targets.argmax(axis=1)
        to_device = self.backend.to_device
        return Batch(index, to_device(images), to_device(targets), to_device(labels),
                     len(indices))
