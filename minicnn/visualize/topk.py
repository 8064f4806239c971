"""The top-9 images of every feature map and their deconvnet projections (Zeiler & Fergus, Fig. 2).

For every conv layer L and channel c, stream a set of images once and keep the
k images whose feature map c reaches the largest spatial maximum, with where
that maximum sits:

    peak[n, c] = max_{y, x} a_L[n, c, y, x]           position = first argmax, row-major

Ties are broken deterministically: a larger peak first, then the smaller image
index (a stable sort, and batches arrive in index order). Memory stays at one
batch of activations plus (C, k) numbers per layer.

Each kept activation is then projected alone to pixel space with the
deconvnet, cropped to that unit's receptive field (``receptive_field``), and
shown beside the same crop of the image: what in the patch made the unit fire.
"""
from dataclasses import dataclass

import numpy as np

from ..data import normalize
from .deconv import feature_layers, forward_collect, layer_index, project, receptive_field
from .images import crop

PROJECTION_FILL = 0.0   # outside the image a projection is zero
PATCH_FILL = 255        # outside the image a patch shows white


@dataclass
class TopActivations:
    """The k strongest images of every channel of one layer, best first.

    values (C, k) peak activations, images (C, k) image indices,
    rows, cols (C, k) where in the feature map each peak sits.
    """

    layer: int
    values: np.ndarray
    images: np.ndarray
    rows: np.ndarray
    cols: np.ndarray


def top_activations(model, images, mean, std, layers=None, k=9, batch_size=64):
    """Stream uint8 images (N, 3, H, W) once -> {layer name: TopActivations}, every feature layer.

    ``layers``: names or indices to keep (default: every conv layer's feature map).
    """
    backend = model.backend
    named = feature_layers(model)
    chosen = list(named) if layers is None else list(layers)
    indices = [layer_index(model, layer) for layer in chosen]
    best = [None] * len(chosen)
    for start in range(0, len(images), batch_size):
        batch = backend.to_device(normalize(images[start:start + batch_size], mean, std),
                                  backend.dtype)
        outputs = forward_collect(model, batch, indices)
        image_numbers = np.arange(start, start + len(batch))
        for slot, maps in enumerate(outputs):
            count, channels, _, width = maps.shape
            flat = maps.reshape(count, channels, -1)
            peaks = backend.to_host(flat.max(axis=2)).T                       # (C, B)
            where = backend.to_host(flat.argmax(axis=2)).T
            best[slot] = merge_top(best[slot], peaks, np.broadcast_to(image_numbers, peaks.shape),
                                   where // width, where % width, k)
    return {str(name): TopActivations(index, *arrays)
            for name, index, arrays in zip(chosen, indices, best)}


def merge_top(current, values, images, rows, cols, k):
    """Keep the k largest values per row of (current, new), ties to the earlier column."""
    new = (values, images, rows, cols)
    if current is None:
        merged = new
    else:
        merged = [np.concatenate(pair, axis=1) for pair in zip(current, new)]
    order = np.argsort(-merged[0], axis=1, kind="stable")[:, :k]
    return [np.take_along_axis(array, order, axis=1) for array in merged]


def select_channels(top, count, seed=0):
    """A seeded random subset of ``count`` channels among those that fire at all, sorted.

    Random, as in Zeiler & Fergus's Figure 2: choosing the strongest channels
    instead would show a flattering, and often redundant, selection.
    """
    live = np.flatnonzero(top.values[:, 0] > 0)
    chosen = np.random.default_rng(seed).choice(live, min(count, len(live)), replace=False)
    return np.sort(chosen)


def top_projections(model, images, mean, std, top, channels, rule="deconvnet"):
    """Project each kept activation of the chosen channels alone, cropped to its receptive field.

    -> (projections (m, k, 3, s, s) float, patches (m, k, 3, s, s) uint8), s the
    receptive-field size; m = len(channels). One forward and one walk for all m*k.
    """
    backend = model.backend
    channels = np.asarray(channels)
    image_numbers = top.images[channels].ravel()
    rows, cols = top.rows[channels].ravel(), top.cols[channels].ravel()
    per_pair = np.repeat(channels, top.images.shape[1])
    batch = backend.to_device(normalize(images[image_numbers], mean, std), backend.dtype)
    projections = backend.to_host(project(model, batch, top.layer, backend.to_device(per_pair),
                                          (backend.to_device(rows), backend.to_device(cols)), rule))
    boxes = np.stack(receptive_field(model, top.layer, rows, cols), axis=1)
    projection_crops = np.stack([crop(projection, box, PROJECTION_FILL)
                                 for projection, box in zip(projections, boxes)])
    patches = np.stack([crop(images[number], box, PATCH_FILL)
                        for number, box in zip(image_numbers, boxes)])
    shape = (len(channels), -1) + projection_crops.shape[1:]
    return projection_crops.reshape(shape), patches.reshape(shape)


def feature_evolution(models, images, mean, std, channels_by_layer, rule="deconvnet"):
    """Zeiler & Fergus Figure 4: for each model (say one per training epoch), layer and chosen
    channel, the projection of the channel's strongest activation over ``images``, cropped to
    its receptive field.

    channels_by_layer {layer: channels} -> {layer: (len(models), len(channels), 3, s, s)} host
    floats. One pass over the images per model.
    """
    rows = {layer: [] for layer in channels_by_layer}
    for model in models:
        backend = model.backend
        strongest = top_activations(model, images, mean, std, list(channels_by_layer), k=1)
        for layer, channels in channels_by_layer.items():
            kept, channels = strongest[str(layer)], np.asarray(channels)
            peak_rows, peak_cols = kept.rows[channels, 0], kept.cols[channels, 0]
            batch = backend.to_device(normalize(images[kept.images[channels, 0]], mean, std),
                                      backend.dtype)
            projections = backend.to_host(project(
                model, batch, layer, backend.to_device(channels),
                (backend.to_device(peak_rows), backend.to_device(peak_cols)), rule))
            boxes = np.stack(receptive_field(model, layer, peak_rows, peak_cols), axis=1)
            rows[layer].append(np.stack([crop(projection, box, PROJECTION_FILL)
                                         for projection, box in zip(projections, boxes)]))
    return {layer: np.stack(projections) for layer, projections in rows.items()}
