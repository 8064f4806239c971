"""stratified_split: carve a validation set out of the training folder, fairly.

Three properties matter for a trustworthy validation score:

Stratified
    Every class keeps (to within one image) the same share in validation as
    in the whole set. A purely random 10 % of an imbalanced dataset could
    hold 30 flying buttresses or 50; stratifying removes that noise.
Seeded
    The same seed gives the same split, so runs can be compared and resumed.
Grouped
    Byte-identical files must not straddle the split, or the model is
    "validated" on images it trained on. Pass ``groups`` (e.g. the dataset's
    SHA-1 ``digests``) and all members of a group go to the same side.

How: each class gets a target, round(class size * val_fraction). Groups of
two or more samples are placed first, whole, in a seeded random order: each
goes to validation with probability val_fraction, but only if no class it
touches would pass its target. Then, class by class, randomly chosen
single samples fill validation up to the target. Without groups that second
step does everything, and every class hits its target exactly; with groups it
still does unless a class is made almost entirely of duplicates.
"""
import numpy as np

from .errors import DataError


def stratified_split(labels, val_fraction=0.1, seed=0, groups=None):
    """labels (N,) ints -> (train_indices, val_indices), sorted int64 arrays.

    The two index arrays are disjoint and together cover range(N), and neither is
    empty (DataError if the fraction leaves one so).
    groups: optional N hashable keys (e.g. file digests); equal keys land on the same side.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got {labels.dtype} with shape {labels.shape}")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be strictly between 0 and 1, got {val_fraction!r}")
    if groups is not None and len(groups) != len(labels):
        raise ValueError(f"groups has {len(groups)} entries but labels has {len(labels)}")
    rng = np.random.default_rng(seed)
    classes, class_of = np.unique(labels, return_inverse=True)
    val_target = np.round(np.bincount(class_of) * val_fraction).astype(np.int64)
    val_count = np.zeros(len(classes), dtype=np.int64)
    in_val = np.zeros(len(labels), dtype=bool)
    alone = np.ones(len(labels), dtype=bool)   # samples that share no group

    shared_groups = groups_with_several_members(groups) if groups is not None else []
    for group in rng.permutation(len(shared_groups)):
        members = shared_groups[group]
        alone[members] = False
        added = np.bincount(class_of[members], minlength=len(classes))
        if rng.random() < val_fraction and np.all(val_count + added <= val_target):
            in_val[members] = True
            val_count += added

    for class_index in range(len(classes)):
        candidates = rng.permutation(np.flatnonzero(alone & (class_of == class_index)))
        in_val[candidates[:max(val_target[class_index] - val_count[class_index], 0)]] = True
    if in_val.all() or not in_val.any():
        side = "training" if in_val.all() else "validation"
        raise DataError(f"a validation fraction of {val_fraction} of these {len(labels)} images "
                        f"leaves the {side} split empty (each class's share is rounded to whole "
                        "images): choose another --val-fraction, or use more images")
    return np.flatnonzero(~in_val).astype(np.int64), np.flatnonzero(in_val).astype(np.int64)


def groups_with_several_members(groups):
    """N group keys -> list of index arrays, one per key that occurs more than once."""
    _, group_of, sizes = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)
    order = np.argsort(group_of, kind="stable")   # members of each group side by side
    members = np.split(order, np.cumsum(sizes)[:-1])
    return [indices for indices, size in zip(members, sizes) if size > 1]


def train_validation_split(dataset, val_fraction=0.1, seed=0):
    """The examples' recipe: an ImageDataset -> (training part, validation part), stratified,
    seeded, and with byte-identical files (equal ``digests``) on one side."""
    train_indices, val_indices = stratified_split(dataset.labels, val_fraction, seed=seed,
                                                  groups=dataset.digests)
    return dataset.subset(train_indices), dataset.subset(val_indices)
