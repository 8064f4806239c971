"""Soft targets: label smoothing, mixup and cutmix, a whole batch at a time.

The loss (minicnn/functional/loss.py) takes (N, K) target probabilities q as
well as integer labels: L = -(1/N) sum q log p, with gradient (p - q) / N.

label smoothing   q = (1 - e) onehot(y) + e / K: the model is never pushed to
                  infinite confidence (Szegedy et al. 2016).
mixup             x = lam x + (1 - lam) x[perm],  q = lam q + (1 - lam) q[perm],
                  lam ~ Beta(a, a) once per batch (Zhang et al. 2018).
cutmix            paste a box of x[perm] into x, covering 1 - lam of the image;
                  q mixes by the area actually pasted (Yun et al. 2019).

Each draws from the ``rng`` it is given, so a seeded run stays reproducible,
and works on whole arrays.
"""
import numpy as np

from ..limits import check

MIXES = ("none", "mixup", "cutmix")


def one_hot(labels, num_classes):
    """labels (N,) ints -> (N, num_classes) float32 with a 1 at each label."""
    targets = np.zeros((len(labels), num_classes), dtype=np.float32)
    targets[np.arange(len(labels)), labels] = 1.0
    return targets


def smooth(targets, smoothing):
    """(N, K) target probabilities -> (1 - smoothing) * targets + smoothing / K."""
    check("label_smoothing", smoothing, "smooth")
    return (1 - smoothing) * targets + np.float32(smoothing / targets.shape[1])


def mixup(images, targets, rng, alpha):
    """(N, C, H, W) images, (N, K) targets -> mixed copies: each sample blended with a random partner."""
    lam = np.float32(rng.beta(alpha, alpha))
    partner = rng.permutation(len(images))
    return (lam * images + (1 - lam) * images[partner],
            lam * targets + (1 - lam) * targets[partner])


def cutmix(images, targets, rng, alpha):
    """(N, C, H, W) images, (N, K) targets -> copies with one box (the same for the whole batch)
    of each sample replaced by its partner's, and targets mixed by the box's area."""
    count, _, height, width = images.shape
    lam = rng.beta(alpha, alpha)
    partner = rng.permutation(count)
    # a box of about (1 - lam) of the area, centred anywhere, clipped to the image
    box_height, box_width = int(height * np.sqrt(1 - lam)), int(width * np.sqrt(1 - lam))
    centre_y, centre_x = rng.integers(height), rng.integers(width)
    top, bottom = max(centre_y - box_height // 2, 0), min(centre_y + box_height // 2, height)
    left, right = max(centre_x - box_width // 2, 0), min(centre_x + box_width // 2, width)
    mixed = images.copy()
    mixed[:, :, top:bottom, left:right] = images[partner, :, top:bottom, left:right]
    kept = np.float32(1 - (bottom - top) * (right - left) / (height * width))
    return mixed, kept * targets + (1 - kept) * targets[partner]


def soft_targets(images, labels, num_classes, rng, smoothing=0.0, mix="none", alpha=1.0,
                 probability=1.0):
    """The training batch with soft targets: images (N, C, H, W) float32, labels (N,) ints
    -> (images, targets (N, K) float32). ``mix`` (one of MIXES) is applied to a batch with
    ``probability``; smoothing to every batch."""
    if mix not in MIXES:
        raise ValueError(f"unknown mix {mix!r}: choose one of {MIXES}")
    check("mix_alpha", alpha, "soft_targets")
    check("mix_probability", probability, "soft_targets")
    targets = smooth(one_hot(labels, num_classes), smoothing)
    if mix != "none" and rng.random() < probability:
        images, targets = (mixup if mix == "mixup" else cutmix)(images, targets, rng, alpha)
    return images.astype(np.float32, copy=False), targets.astype(np.float32, copy=False)
