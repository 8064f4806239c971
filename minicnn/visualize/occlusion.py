"""Occlusion sensitivity (Zeiler & Fergus 2014, section 4.2 and Figure 7).

Is the network really looking at the object, or at its surroundings? Slide a
grey square over the image and, for every position of the square, record

    p(true class)       where it drops, the covered part mattered for the answer
    the top label       what the network says instead
    one feature map     the total activation of the map that responds most
                        strongly to the unoccluded image (of a chosen layer)

"Grey" is the dataset's mean colour, which is 0 after normalization, so the
square carries no signal of its own. The maps are coarse (one value per
position of the square, ``stride`` pixels apart) and say nothing about
*how* the covered pixels are used, only whether hiding them changes the output.
"""
from dataclasses import dataclass

import numpy as np

from ..data import normalize
from ..functional.loss import softmax
from .deconv import feature_layers, forward_collect, layer_index, logits_index


@dataclass
class OcclusionMaps:
    """One value per position of the square; centres (rows, cols) are its centre pixels.

    probability (h, w) p(true class); top_label (h, w) the argmax class;
    feature (h, w) the summed activation of ``channel`` of ``layer``.
    """

    probability: np.ndarray
    top_label: np.ndarray
    feature: np.ndarray
    layer: int
    channel: int
    centres: tuple


def occluded_copies(x, size, stride):
    """x (3, H, W) normalized -> (P copies, each with one zero square; the top-left corners)."""
    _, height, width = x.shape
    corners = [(top, left) for top in range(0, height - size + 1, stride)
               for left in range(0, width - size + 1, stride)]
    copies = np.repeat(x[None], len(corners), axis=0)
    for copy, (top, left) in zip(copies, corners):
        copy[:, top:top + size, left:left + size] = 0.0
    return copies, corners


def occlusion_maps(model, image, label, mean, std, size=16, stride=4, layer=None, batch_size=64):
    """image (3, H, W) uint8, label its true class -> OcclusionMaps.

    ``layer``: the feature layer whose strongest map is followed (default: the last conv's).
    """
    backend = model.backend
    if layer is None:
        layer = list(feature_layers(model))[-1]
    feature_index = layer_index(model, layer)
    output_index = logits_index(model)
    x = normalize(image[None], mean, std)
    maps, _ = forward_collect(model, backend.to_device(x, backend.dtype),
                              [feature_index, output_index])
    channel = int(backend.to_host(maps[0].reshape(maps.shape[1], -1).max(axis=1).argmax()))

    copies, corners = occluded_copies(x[0], size, stride)
    probabilities, labels, features = [], [], []
    for start in range(0, len(copies), batch_size):
        batch = backend.to_device(copies[start:start + batch_size], backend.dtype)
        maps, logits = forward_collect(model, batch, [feature_index, output_index])
        probabilities.append(backend.to_host(softmax(logits)[:, label]))
        labels.append(backend.to_host(logits.argmax(axis=1)))
        features.append(backend.to_host(maps[:, channel].sum(axis=(1, 2))))
    rows = sorted({top for top, _ in corners})
    cols = sorted({left for _, left in corners})
    grid = (len(rows), len(cols))
    centres = (np.array(rows) + size // 2, np.array(cols) + size // 2)
    return OcclusionMaps(np.concatenate(probabilities).reshape(grid),
                         np.concatenate(labels).reshape(grid),
                         np.concatenate(features).reshape(grid), feature_index, channel, centres)
