"""minicnn.visualize: look inside a trained network, and make it draw its classes.

    from minicnn.visualize import project, class_saliency, top_activations, generate_class_images

    model = Sequential.from_checkpoint("runs/ahe/best.npz")
    x = backend.to_device(normalize(images, mean, std))
    pixels = project(model, x, "conv5", channels, positions="max")        # deconvnet
    saliency = class_saliency(model, x, labels)                           # dS_c / dx
    top = top_activations(model, val_images, mean, std)                   # top-9 per feature
    result = generate_class_images(model, mean, std, config=REGULARIZED)  # one image per class

One module per idea:

    deconv.py     the backward walk with three ReLU rules (gradient, deconvnet, guided),
                  projections of activations, class saliency, receptive fields
    topk.py       the top-9 images of every feature map, their projections, feature evolution
    occlusion.py  occlusion sensitivity maps
    generate.py   class images by regularized gradient ascent on the input
    images.py     de-normalizing, uint8 and PNG round trips, mosaics
    plots.py      the figures (matplotlib) and the GIF (Pillow)

docs/visualization.md explains the maths and shows the figures; the examples
``examples/visualize_deconv.py`` and ``examples/generate_class_images.py`` make them.
"""
from .deconv import (backward_walk, class_saliency, feature_layers, forward_collect, forward_to,
                     layer_index, project, receptive_field)
from .generate import REGULARIZED, GenerationConfig, GenerationResult, generate_class_images
from .occlusion import OcclusionMaps, occlusion_maps
from .topk import (TopActivations, feature_evolution, select_channels, top_activations,
                   top_projections)

__all__ = ["backward_walk", "class_saliency", "feature_layers", "forward_collect", "forward_to",
           "layer_index", "project", "receptive_field", "REGULARIZED", "GenerationConfig",
           "GenerationResult", "generate_class_images", "OcclusionMaps", "occlusion_maps",
           "TopActivations", "feature_evolution", "select_channels", "top_activations",
           "top_projections"]
