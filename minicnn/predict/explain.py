"""Why did the classifier say that? One PNG per photo, three panels side by side:

    the photo          as the network saw it: 64x64, after decoding and resizing
    guided backprop    d S_c / d x with the guided ReLU rule (Springenberg et al. 2014),
                       for the predicted class c; grey is 0, each panel scaled on its
                       own (``minicnn.visualize.class_saliency``, ``images.signed_to_unit``)
    occlusion          p(c) when a mean-grey 16x16 square hides the part of the photo
                       under each cell, drawn over the photo: dark cells are where
                       hiding the photo hurts the answer (``minicnn.visualize.occlusion_maps``)

Both maps explain the photo itself, not its mirror image, even when the
checkpoint averages the two for its prediction. The figure is drawn by
minicnn/figures/explanation.py.
"""
import re
from pathlib import Path

import numpy as np
from ..data import normalize
from ..io.paths import file_identity, name_max, output_name
from ..figures.explanation import plot_explanation
from ..visualize import class_saliency, occlusion_maps

OCCLUSION_SQUARE = 16   # pixels: a quarter of the image side, big enough to hide a part
OCCLUSION_STRIDE = 4
COPY_ROOM = 8           # bytes kept free in a shortened name for a "-2" ... "-9999999"


def explanation_path(folder, shown, taken, inputs=frozenset()):
    """The PNG for the image the user named ``shown``: its path parts joined by "_", in ``folder``.

    "photos/apse.jpg" -> folder/photos_apse.jpg.png. Different paths can give the same name
    ("photos_apse.jpg", "../apse.jpg" and "apse.jpg"), so ``taken``, the set of names this run
    has used, gets the new one, and a clash becomes photos_apse.jpg-2.png, -3, ...; so does a
    name that is one of the ``inputs`` (the file_identity of each photo of this run). A name longer than the file
    system takes (a deep path) is shortened, with a hash of the whole (io.paths.output_name).
    """
    parts = [part for part in Path(shown).parts if part not in (".", "..", Path(shown).anchor)]
    stem = re.sub(r"[^\w.()-]+", "_", "_".join(parts)) or "image"
    limit = name_max(folder)
    name, copy = output_name(stem, ".png", limit, room=COPY_ROOM), 1
    while name in taken or file_identity(Path(folder) / name) in inputs:
        copy += 1
        name = output_name(stem, f"-{copy}.png", limit, room=COPY_ROOM)
    taken.add(name)
    return Path(folder) / name


def explain_prediction(classifier, image, label, probability, title, path):
    """Write the three-panel PNG for ``image`` (3, 64, 64) uint8 and its predicted class ``label``."""
    model = classifier.model
    backend = model.backend
    x = backend.to_device(normalize(image[None], classifier.mean, classifier.std))
    saliency = backend.to_host(class_saliency(model, x, np.array([label]), rule="guided"))
    occlusion = occlusion_maps(model, image, label, classifier.mean, classifier.std,
                               size=OCCLUSION_SQUARE, stride=OCCLUSION_STRIDE)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    plot_explanation(image, saliency[0], occlusion, classifier.class_names[label], probability,
                     title, OCCLUSION_STRIDE, path)
