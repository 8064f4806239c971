"""ImageDataset: decoded images with their labels and provenance, in one object.

The images are kept as uint8 (1 byte per value) because that is 4x smaller
than float32: the 10,130 training images take 124 MB as uint8 and 498 MB as
float32. Conversion to float happens per batch, in ``normalize``.

Besides pixels and labels, a dataset remembers where every image came from:
``files`` names the file of each image and ``digests`` holds the SHA-1 of its
bytes. Two byte-identical files have the same digest, which is how
``stratified_split`` keeps duplicates on one side of the train/validation
split (otherwise the model is "validated" on images it trained on).

``LoadReport`` records how a load went (what was resized, converted or
skipped, whether the cache was used); ``load_dataset`` attaches one.
"""
from dataclasses import dataclass, field

import numpy as np


class Skipped(str):
    """One entry a load skipped, as text "apse/x.jpg (a FIFO)", with its parts as
    ``.file`` ("apse/x.jpg", relative to the split folder) and ``.reason`` ("a FIFO")."""

    def __new__(cls, file, reason):
        entry = super().__new__(cls, f"{file} ({reason})")
        entry.file, entry.reason = file, reason
        return entry


@dataclass
class LoadReport:
    """What happened while loading one dataset; ``str(report)`` is the one-line summary."""

    source: str
    images: int
    classes: int
    resized: int                 # images whose size was not image_size x image_size
    converted_to_rgb: int        # grayscale, CMYK, RGBA or palette images
    skipped: list = field(default_factory=list)   # a Skipped ("file (reason)") per entry skipped
    cache: str = "off"           # "hit", "miss" or "off"
    seconds: float = 0.0

    def __str__(self):
        return (f"loaded {self.images:,} images in {self.classes} classes from {self.source}: "
                f"{self.resized} resized, {self.converted_to_rgb} converted to RGB, "
                f"{len(self.skipped)} skipped, cache {self.cache}, {self.seconds:.2f} s")


@dataclass
class ImageDataset:
    """Images, labels and where each image came from.

    images       (N, 3, H, W) uint8, channels first (NCHW) like the layers expect
    labels       (N,) int64, index into class_names
    class_names  sorted class-folder names; a label is a position in this list
    files        N paths relative to the split folder, e.g. "apse/x.jpg"
    digests      N SHA-1 hex digests of the files' bytes (equal bytes, equal digest)
    source       where the images were loaded from
    report       how the load went; None for a dataset built by ``subset``
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list
    files: list
    digests: list
    source: str
    report: LoadReport | None = None

    def __post_init__(self):
        count = len(self.images)
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W) uint8, got {self.images.dtype} "
                             f"with shape {self.images.shape}")
        if not len(self.labels) == len(self.files) == len(self.digests) == count:
            raise ValueError(f"images, labels, files and digests differ in length: {count}, "
                             f"{len(self.labels)}, {len(self.files)}, {len(self.digests)}")

    def __len__(self):
        return len(self.images)

    def subset(self, indices):
        """A new ImageDataset of the samples at ``indices`` (integer array), in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        return ImageDataset(images=self.images[indices], labels=self.labels[indices],
                            class_names=list(self.class_names),
                            files=[self.files[i] for i in indices],
                            digests=[self.digests[i] for i in indices],
                            source=self.source)
