"""The figures of the visualizations: matplotlib for plots, Pillow for the GIF.

Every function takes host arrays and a path, writes one file and returns nothing.
Each draws on its own ``Figure``: no pyplot state, no change of the matplotlib backend.
How signed maps are coloured is in ``images.signed_to_unit``: mid-grey is 0 and
each panel is scaled on its own.
"""
import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from PIL import Image

from ..io.atomic import atomic_write
from ..visualize.images import mosaic, signed_to_unit, to_unit
from .files import write_figure

RULE_TITLES = {"gradient": "gradient (saliency)", "deconvnet": "deconvnet",
               "guided": "guided backprop"}


def panel_grid(rows, columns, panel_size=1.6):
    """A figure of rows x columns axes with no ticks -> (figure, 2-d array of axes)."""
    figure = Figure(figsize=(columns * panel_size, rows * panel_size))
    axes = figure.subplots(rows, columns, squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    return figure, axes


def save(figure, path, title=None):
    """Lay out (leaving room for a two-line title), write the file, free the figure."""
    top = 1.0
    if title:
        figure.suptitle(title, fontsize=10)
        top = 1 - 0.5 / figure.get_figheight()
    figure.tight_layout(rect=(0, 0, 1, top))
    write_figure(figure, path, dpi=110)


def plot_top_projections(projections, patches, channels, path, title, features_per_row=2):
    """Zeiler & Fergus Figure 2: per channel a 3x3 grid of projections beside the 3x3 image patches.

    projections (m, 9, 3, s, s) float, patches (m, 9, 3, s, s) uint8.
    """
    count, per_channel = projections.shape[:2]
    side = int(round(np.sqrt(per_channel)))
    rows = -(-count // features_per_row)
    figure, axes = panel_grid(rows, 2 * features_per_row, panel_size=2.2)
    for position, channel in enumerate(channels):
        row, column = divmod(position, features_per_row)
        projection_axis, patch_axis = axes[row, 2 * column], axes[row, 2 * column + 1]
        projection_axis.imshow(mosaic(signed_to_unit(projections[position]), side))
        patch_axis.imshow(mosaic(patches[position], side, fill=255))
        projection_axis.set_title(f"channel {channel}: projections", fontsize=7)
        patch_axis.set_title(f"channel {channel}: image patches", fontsize=7)
    save(figure, path, title)


def plot_occlusion(rows, class_names, path):
    """Zeiler & Fergus Figure 7, one row per image.

    rows: (image (3, H, W) uint8, true label, OcclusionMaps). Columns: the image,
    p(true class), the top label, the strongest feature map's total activation.
    """
    figure, axes = panel_grid(len(rows), 4, panel_size=2.6)
    colours = matplotlib.colormaps["tab10"].resampled(len(class_names))
    for (image, label, maps), axis_row in zip(rows, axes):
        height, width = image.shape[1:]
        extent = (maps.centres[1][0] - 0.5, maps.centres[1][-1] + 0.5,
                  maps.centres[0][-1] + 0.5, maps.centres[0][0] - 0.5)
        axis_row[0].imshow(image.transpose(1, 2, 0))
        axis_row[0].set_title(f"true: {class_names[label]}", fontsize=8)
        shown = axis_row[1].imshow(maps.probability, vmin=0, vmax=1, cmap="viridis", extent=extent)
        axis_row[1].set_title(f"p({class_names[label]}) by square centre", fontsize=8)
        figure.colorbar(shown, ax=axis_row[1], fraction=0.046)
        axis_row[2].imshow(maps.top_label, cmap=colours, vmin=-0.5, vmax=len(class_names) - 0.5,
                           extent=extent)
        axis_row[2].set_title("top label by square centre", fontsize=8)
        axis_row[2].legend(handles=[Patch(color=colours(i), label=class_names[i])
                                    for i in np.unique(maps.top_label)],
                           fontsize=6, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2,
                           frameon=False)
        shown = axis_row[3].imshow(maps.feature, cmap="magma", extent=extent)
        axis_row[3].set_title(f"layer {maps.layer}, channel {maps.channel}: total activation",
                              fontsize=7)
        figure.colorbar(shown, ax=axis_row[3], fraction=0.046)
        for axis in axis_row[1:]:
            axis.set_xlim(-0.5, width - 0.5)
            axis.set_ylim(height - 0.5, -0.5)
    save(figure, path, "occlusion: a mean-grey square slid over each image")


def plot_feature_maps(image, maps, path, title, columns=16):
    """image (3, H, W) uint8 and its feature maps (C, h, w) of one layer, each scaled on its own."""
    count = len(maps)
    rows = 1 + -(-count // columns)
    figure, axes = panel_grid(rows, columns, panel_size=0.9)
    axes[0, 0].imshow(image.transpose(1, 2, 0))
    for channel, feature_map in enumerate(to_unit(maps)):
        axis = axes[1 + channel // columns, channel % columns]
        axis.imshow(feature_map, cmap="gray", vmin=0, vmax=1)
        axis.set_title(str(channel), fontsize=6)
    save(figure, path, title)


def plot_filters(weights, path, title="first-layer filters"):
    """weights (F, 3, k, k) -> a grid of RGB filters, each scaled symmetrically around grey."""
    columns = int(np.ceil(np.sqrt(len(weights))))
    figure = Figure(figsize=(6, 6))
    axis = figure.subplots()
    axis.imshow(mosaic(signed_to_unit(weights, percentile=100), columns), interpolation="nearest")
    axis.axis("off")
    save(figure, path, title)


def plot_rule_comparison(images, maps_by_rule, captions, path):
    """images (N, 3, H, W) uint8; maps_by_rule {rule: (N, 3, H, W)}: one row per image."""
    rules = list(maps_by_rule)
    figure, axes = panel_grid(len(images), 1 + len(rules), panel_size=2.0)
    for index, (image, caption) in enumerate(zip(images, captions)):
        axes[index, 0].imshow(image.transpose(1, 2, 0))
        axes[index, 0].set_title(caption, fontsize=7)
        for column, rule in enumerate(rules, start=1):
            axes[index, column].imshow(signed_to_unit(maps_by_rule[rule][index:index + 1])[0]
                                       .transpose(1, 2, 0))
            axes[index, column].set_title(RULE_TITLES[rule], fontsize=7)
    save(figure, path, "one backward walk, three ReLU rules (grey = 0)")


def plot_class_images(images, class_names, probabilities, path, columns=5, title=None):
    """images (K, 3, H, W) uint8 -> a labelled grid (2 x 5 for 10 classes)."""
    rows = -(-len(images) // columns)
    figure, axes = panel_grid(rows, columns, panel_size=2.2)
    for index, (image, name) in enumerate(zip(images, class_names)):
        axis = axes[index // columns, index % columns]
        axis.imshow(image.transpose(1, 2, 0))
        axis.set_title(f"{name}\np = {probabilities[index]:.3f}", fontsize=8)
    save(figure, path, title)


def plot_evolution(projections, epochs, channels, path, title):
    """projections (E, m, 3, H, W): one column per epoch, one row per channel (Z&F Figure 4)."""
    figure, axes = panel_grid(len(channels), len(epochs), panel_size=1.5)
    for column, epoch in enumerate(epochs):
        for row, channel in enumerate(channels):
            axes[row, column].imshow(signed_to_unit(projections[column, row:row + 1])[0]
                                     .transpose(1, 2, 0))
            axes[row, column].set_title(f"ch {channel}, epoch {epoch}", fontsize=6)
    save(figure, path, title)


def plot_generation_history(probabilities, scores, class_names, path):
    """probabilities, scores (steps, K): p(c) and S_c of each class image, step by step."""
    figure = Figure(figsize=(11, 4))
    score_axis, probability_axis = figure.subplots(1, 2)
    for index, name in enumerate(class_names):
        score_axis.plot(scores[:, index], label=name)
        probability_axis.plot(probabilities[:, index], label=name)
    score_axis.set(xlabel="step", ylabel="class score S_c", title="score")
    probability_axis.set(xlabel="step", ylabel="p(c)", title="softmax probability", ylim=(0, 1.02))
    probability_axis.legend(fontsize=7)
    save(figure, path)


def save_animation(frames, path, columns=5, scale=2, milliseconds=120):
    """frames: (K, 3, H, W) uint8 each -> an animated GIF of the K images side by side."""
    pictures = []
    for frame in frames:
        picture = Image.fromarray(mosaic(frame, columns, gap=2, fill=255))
        pictures.append(picture.resize((picture.width * scale, picture.height * scale),
                                       Image.NEAREST))
    atomic_write(path, lambda file: pictures[0].save(file, format="GIF", save_all=True,
                                                     append_images=pictures[1:],
                                                     duration=milliseconds, loop=0))
