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

Which images belong together (``sibling_groups``, the default "grouped" split)
----------------------------------------------------------------------------
Byte-identical files are not the only leak. Most AHE64 files are Flickr photos
named ``<photo id>_<secret>[_size].jpg``, and Flickr ids are upload numbers: a
burst of uploads (one photographer, one building, one afternoon) has nearly
equal ids, and a model validated on one photo of a burst after training on its
siblings is scored on the building it has seen. So three rules link images,
and linked images form one group (connected components of the links):

burst       Flickr ids closer than ``gap`` (sorted ids, each linked to the next
            when the difference is below the gap)
duplicate   equal ``digests`` (byte-identical files)
name        other names (Wikimedia-style) with the same building key
            (``building_key``: size prefix such as ``120px-``, camera numbers,
            digits, punctuation and the extension removed, so
            ``120px-111ComoDuomo.jpg`` and ``120px-113ComoDuomo.jpg`` meet)

The gap is a measurement, not a guess: examples/split_siblings.py prints, for
a split, how many validation photos have a training photo within each id
distance, and how well a checkpoint does on each (docs/tuning.md has the table).
The "random" split keeps only the duplicate rule, as before issue 21.
"""
import os
import re

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .errors import DataError

SPLIT_METHODS = ("grouped", "random")
# ids closer than this are one upload burst: with it, no validation photo has a training photo
# within the gap (examples/split_siblings.py; docs/tuning.md, "The grouped split")
DEFAULT_GAP = 100_000

FLICKR_NAME = re.compile(r"^(\d+)_[0-9a-f]+(?:_[a-z])?\.jpe?g$", re.IGNORECASE)
SIZE_PREFIX = re.compile(r"^\d+px-", re.IGNORECASE)
CAMERA_NUMBER = re.compile(r"(?:img|dsc|dscn|dscf|p|pict|imgp)[_-]?\d+", re.IGNORECASE)
NOT_A_LETTER = re.compile(r"[\W\d_]+")


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




def flickr_id(file):
    """A file's Flickr photo id from its name ``<id>_<secret>[_size].jpg``; None for other names."""
    match = FLICKR_NAME.match(os.path.basename(file))
    return int(match.group(1)) if match else None


def building_key(file):
    """A non-Flickr name -> the words that name its subject, lower case ('' when none are left).

    "120px-Avila_-_Catedral,_exteriores_16.jpg" -> "avilacatedralexteriores"
    """
    stem = os.path.splitext(os.path.basename(file))[0]
    stem = CAMERA_NUMBER.sub("", SIZE_PREFIX.sub("", stem))
    return NOT_A_LETTER.sub("", stem).lower()


def sibling_groups(files, digests, gap=DEFAULT_GAP):
    """N file names and digests -> (N,) int64 group numbers: linked images share one
    (module docstring: bursts of Flickr ids closer than ``gap``, equal digests, equal
    building keys of other names)."""
    check_gap(gap)
    count = len(files)
    if len(digests) != count:
        raise ValueError(f"files has {count} entries but digests has {len(digests)}")
    ids = [flickr_id(file) for file in files]
    flickr = np.array([index for index, value in enumerate(ids) if value is not None], dtype=np.int64)
    sorted_flickr = flickr[np.argsort([ids[index] for index in flickr], kind="stable")]
    sorted_ids = np.array([ids[index] for index in sorted_flickr], dtype=np.int64)
    close = np.flatnonzero(np.diff(sorted_ids) < gap)
    links = [(sorted_flickr[close], sorted_flickr[close + 1])]
    keys = [building_key(file) if value is None else None for file, value in zip(files, ids)]
    for values in (list(digests), keys):
        links.append(links_between_equal(values))
    first = np.concatenate([pair[0] for pair in links]).astype(np.int64)
    second = np.concatenate([pair[1] for pair in links]).astype(np.int64)
    graph = coo_matrix((np.ones(len(first)), (first, second)), shape=(count, count))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def links_between_equal(values):
    """N values (None and '' link nothing) -> (first, second) index arrays chaining equal values."""
    first, second, last_seen = [], [], {}
    for index, value in enumerate(values):
        if value in (None, ""):
            continue
        if value in last_seen:
            first.append(last_seen[value])
            second.append(index)
        last_seen[value] = index
    return np.array(first, dtype=np.int64), np.array(second, dtype=np.int64)


def check_gap(gap):
    if isinstance(gap, bool) or not isinstance(gap, (int, np.integer)) or gap < 1:
        raise ValueError(f"the split gap must be a whole number of Flickr ids >= 1, got {gap!r}")


def train_validation_split(dataset, val_fraction=0.1, seed=0, method="grouped", gap=DEFAULT_GAP):
    """The examples' recipe: an ImageDataset -> (training part, validation part), stratified, seeded.

    method "grouped" keeps upload bursts, byte-identical files and same-building names on one
    side (``sibling_groups``); "random" keeps only byte-identical files together (the split
    before issue 21; ``gap`` is then unused). ``split_record`` says how the split was made.
    """
    if method not in SPLIT_METHODS:
        raise ValueError(f"the split method must be one of {', '.join(SPLIT_METHODS)}, "
                         f"got {method!r}")
    groups = (sibling_groups(dataset.files, dataset.digests, gap) if method == "grouped"
              else dataset.digests)
    train_indices, val_indices = stratified_split(dataset.labels, val_fraction, seed=seed,
                                                  groups=groups)
    return dataset.subset(train_indices), dataset.subset(val_indices)


def checkpoint_split(meta):
    """A checkpoint's meta -> the split record it was trained under (``split_record``'s dict).
    A checkpoint with no record predates issue 21: it was trained under the random split."""
    saved = meta.get("split")
    return saved if isinstance(saved, dict) else {"method": "random", "gap": None}


def split_record(method, gap, seed, val_fraction, train_images, validation_images):
    """How a split was made, as runs/<name>/split.json, metrics.json and the checkpoints say it
    (gap None for the random split)."""
    gap = gap if method == "grouped" else None
    if method == "grouped":
        description = (f"stratified by class, seed {seed}: Flickr photos whose ids are closer than "
                       f"{gap:,} (one upload burst), byte-identical files and files naming the same "
                       "building are kept on one side")
    else:
        description = (f"stratified by class, seed {seed}: images drawn at random, only "
                       "byte-identical files kept on one side (upload bursts straddle it)")
    return {"method": method, "gap": gap, "seed": int(seed), "val_fraction": float(val_fraction),
            "train_images": int(train_images), "validation_images": int(validation_images),
            "description": description}


# the rows of the sibling-distance table (issue 21): upper bounds of the id distance
DISTANCE_BINS = (1_000, 100_000, 1_000_000, 10_000_000)


def nearest_training_sibling(train_files, val_files):
    """(M,) float64: each validation file's Flickr-id distance to the nearest training Flickr id
    (NaN for a name that is not a Flickr name, or when training holds no Flickr photo)."""
    train_ids = np.sort([value for value in map(flickr_id, train_files) if value is not None])
    distances = np.full(len(val_files), np.nan)
    if len(train_ids) == 0:
        return distances
    for row, file in enumerate(val_files):
        value = flickr_id(file)
        if value is None:
            continue
        place = np.searchsorted(train_ids, value)
        neighbours = train_ids[max(place - 1, 0):place + 1]
        distances[row] = np.min(np.abs(neighbours - value))
    return distances


def distance_bin_names(bins=DISTANCE_BINS):
    """The table's row names: 'under 1,000', '1,000 to 100,000', ..., 'further', 'not a Flickr name'."""
    names = [f"under {bins[0]:,}"]
    names += [f"{low:,} to {high:,}" for low, high in zip(bins[:-1], bins[1:])]
    return names + [f"{bins[-1]:,} or further", "not a Flickr name"]


def distance_bins(distances, bins=DISTANCE_BINS):
    """(M,) distances (NaN: no Flickr id) -> (M,) row numbers into ``distance_bin_names``."""
    distances = np.asarray(distances, dtype=np.float64)
    rows = np.searchsorted(np.asarray(bins, dtype=np.float64), distances, side="right")
    return np.where(np.isnan(distances), len(bins) + 1, rows)
