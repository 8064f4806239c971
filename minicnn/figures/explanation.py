"""The figure of ``predict --explain``: a photo, its guided-backprop saliency and its occlusion map.

Drawn with matplotlib's object API (``matplotlib.figure.Figure``), so it touches
no global plotting state and needs no display.
"""
from matplotlib.figure import Figure

from ..visualize.images import signed_to_unit
from .files import write_figure


def plot_explanation(image, saliency, occlusion, class_name, probability, title, stride, path):
    """Write the three panels for ``image`` (3, H, W) uint8: ``saliency`` (3, H, W), the
    OcclusionMaps ``occlusion`` of cells ``stride`` pixels apart, for ``class_name``."""
    figure = Figure(figsize=(10, 3.6), layout="constrained")
    photo_axis, saliency_axis, occlusion_axis = figure.subplots(1, 3)
    photo = image.transpose(1, 2, 0)
    photo_axis.imshow(photo)
    photo_axis.set_title("the photo, as the network sees it", fontsize=9)
    saliency_axis.imshow(signed_to_unit(saliency[None])[0].transpose(1, 2, 0))
    saliency_axis.set_title(f"guided backprop for {class_name}", fontsize=9)
    occlusion_axis.imshow(photo)
    shown = occlusion_axis.imshow(occlusion.probability, vmin=0, vmax=1, cmap="viridis",
                                  alpha=0.65, extent=cell_extent(occlusion.centres, stride))
    occlusion_axis.set_title(f"p({class_name}) with that part hidden", fontsize=9)
    figure.colorbar(shown, ax=occlusion_axis, fraction=0.046)
    height, width = photo.shape[:2]
    for axis in (photo_axis, saliency_axis, occlusion_axis):
        axis.set_xlim(-0.5, width - 0.5)
        axis.set_ylim(height - 0.5, -0.5)
        axis.axis("off")
    figure.suptitle(f"{title}: {class_name} ({probability:.1%})", fontsize=10)
    write_figure(figure, path, dpi=100)


def cell_extent(centres, stride):
    """imshow's extent for occlusion cells: each cell is ``stride`` wide around its centre."""
    rows, cols = centres
    half = stride / 2
    return (cols[0] - half - 0.5, cols[-1] + half - 0.5, rows[-1] + half - 0.5, rows[0] - half - 0.5)
