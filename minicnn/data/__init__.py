"""minicnn.data: from image folders to normalized, augmented mini-batches.

    from minicnn.data import (find_data_dir, load_dataset, train_validation_split,
                              channel_stats, normalize, augment_batch, iterate_batches)

    dataset = load_dataset(find_data_dir(args.data))          # uint8 (N, 3, 64, 64)
    train, val = train_validation_split(dataset, 0.1, seed=0)  # stratified, upload bursts together
    mean, std = channel_stats(train.images)                   # training images only
    for indices in iterate_batches(len(train), 64, rng):      # one epoch
        x = augment_batch(normalize(train.images[indices], mean, std), rng)
        y = train.labels[indices]

One module per step:

    locate.py         find_data_dir: --data, else $AHE64_DIR, else data/ahe64
    sources.py        the folder or .zip layout: split folder, class folders, files;
                      list_splits: which splits a dataset root holds
    decode.py         file bytes -> (3, S, S) uint8 RGB
    cache.py          decoded arrays cached as .npz, invalidated when files change
    loader.py         load_dataset, tying the above together
    dataset.py        ImageDataset (and the LoadReport of a load)
    split.py          stratified_split: seeded, per class, groups kept together;
                      train_validation_split, the examples' recipe: grouped by default
                      (Flickr upload bursts, duplicates, same-building names)
    preprocessing.py  channel_stats and normalize
    augmentation.py   augment_batch: flips, shifts, colour jitter, zoom, per batch;
                      degrade_batch: shrink, blur, JPEG, grayscale of the uint8 photos
    corruptions.py    the fixed corruptions a model's robustness is scored under
    batches.py        iterate_batches: a fresh permutation per epoch
    errors.py         DataError, which always says how to get the dataset
    download.py       download_ahe64: the dataset from Kaggle, with kagglehub
"""
from .augmentation import augment_batch
from .batches import iterate_batches
from .cache import default_cache_dir
from .dataset import ImageDataset, LoadReport
from .download import download_ahe64
from .errors import DataError
from .loader import load_dataset
from .locate import find_data_dir
from .preprocessing import channel_stats, normalize
from .sources import list_splits
from .split import stratified_split, train_validation_split

__all__ = ["ImageDataset", "LoadReport", "DataError", "load_dataset", "find_data_dir",
           "default_cache_dir", "list_splits", "stratified_split", "train_validation_split",
           "channel_stats", "normalize",
           "augment_batch", "iterate_batches", "download_ahe64"]
