"""See inside a trained checkpoint: deconvnet top-9 per feature, occlusion, feature maps, filters,
and the three backward rules side by side (Zeiler & Fergus 2014).

    python examples/visualize_deconv.py --checkpoint runs/ahe/best.npz \
        --data ../shared/data/ahe64 --out runs/ahe/deconv
    python examples/visualize_deconv.py --run runs/ahe --data ../shared/data/ahe64

--run RUN_DIR reads RUN_DIR/best.npz, writes to RUN_DIR/deconv and rebuilds
RUN_DIR/report.html, which shows the figures (python -m minicnn report).

Loads train/ from --data and carves the validation split exactly as train_ahe.py
does without --quick (stratified, duplicate-aware, same --val-fraction and the
checkpoint's seed), then writes to --out:

    top9_<layer>.png          for every conv layer, --channels features (a seeded random
                              choice among those that fire): the 9 validation images
                              where each fires most, each activation projected alone
                              (deconvnet) and cropped to its receptive field, beside
                              the same patch of the image
    occlusion.png             p(true class), top label and the strongest last-layer feature
                              map under a sliding mean-grey square
    rules.png                 gradient, deconvnet and guided maps of the true class's score
    feature_maps_<layer>.png  every feature map of one image, first and last conv layer
    filters_conv1.png         the first-layer filters
    evolution_<layer>.png     with --snapshots (epoch checkpoints of train_ahe.py
                              --snapshot-epochs): the strongest activation's projection
                              of chosen features, epoch by epoch
    summary.json              what was shown: layers, channels, images, values
"""
import argparse
import json
import os
import sys

import numpy as np

from minicnn import Conv2D
from minicnn.cli.arguments import add_run_argument, integer, number, resolve_run_argument
from minicnn.cli.exits import run_command
from minicnn.report import refresh_run_report
from minicnn.io.atomic import atomic_write_text
from minicnn.io.paths import check_output_folder
from minicnn.predict import load_classifier
from minicnn.backend import command_line_backend
from minicnn.data import (DataError, find_data_dir, load_dataset, normalize,
                          train_validation_split)
from minicnn.visualize import (class_saliency, feature_evolution, feature_layers, forward_collect,
                               occlusion_maps, select_channels, top_activations, top_projections)
from minicnn.data.split import DEFAULT_GAP, checkpoint_split
from minicnn.figures.visualization import (plot_evolution, plot_feature_maps, plot_filters,
                                     plot_occlusion, plot_rule_comparison, plot_top_projections)

RULES = ("gradient", "deconvnet", "guided")
FIGURES_FOLDER = "deconv"   # in the run folder, with --run


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--checkpoint", help="a checkpoint from train_ahe.py")
    parser.add_argument("--data", help="dataset root (with train/); else $AHE64_DIR, "
                                       "else data/ahe64")
    parser.add_argument("--out", help="output folder")
    add_run_argument(parser, FIGURES_FOLDER)
    parser.add_argument("--val-fraction", type=number(greater_than=0, less_than=1), default=0.1,
                        help="as given to train_ahe.py (for a checkpoint without a split record)")
    parser.add_argument("--channels", type=integer(at_least=1), default=8,
                        help="features shown per conv layer")
    parser.add_argument("--images-per-class", type=integer(at_least=1), default=1,
                        help="validation images per class for occlusion and the rules")
    parser.add_argument("--max-classes", type=integer(at_least=1), default=None,
                        help="only the first N classes for occlusion and the rules")
    parser.add_argument("--occluder", type=integer(at_least=1), default=16,
                        help="side of the grey square, px")
    parser.add_argument("--occluder-stride", type=integer(at_least=1), default=4)
    parser.add_argument("--snapshots", default="",
                        help="comma-separated epoch checkpoints for the evolution figure")
    parser.add_argument("--image-size", type=integer(at_least=1), default=64)
    parser.add_argument("--backend", default=command_line_backend(),
                        choices=["numpy", "numba", "cupy"])
    return resolve_run_argument(parser, parser.parse_args(argv), FIGURES_FOLDER)


def validation_split(arguments, meta):
    """The validation split of train_ahe.py (its classes must be the checkpoint's)."""
    dataset = load_dataset(find_data_dir(arguments.data), split="train",
                           image_size=arguments.image_size, verbose=False)
    if dataset.class_names != meta["class_names"]:
        raise DataError(f"the data has classes {dataset.class_names}, the checkpoint "
                        f"{meta['class_names']}")
    # the split the checkpoint was trained under (its record), not today's default
    split = checkpoint_split(meta)
    _, val_set = train_validation_split(
        dataset, split.get("val_fraction", arguments.val_fraction),
        split.get("seed", meta.get("config", {}).get("seed", 0)), split["method"],
        split.get("gap") or DEFAULT_GAP)
    return val_set


def example_images(labels, per_class, max_classes):
    """Indices of the first ``per_class`` images of each class (in split order)."""
    classes = np.unique(labels)[:max_classes]
    return np.concatenate([np.flatnonzero(labels == label)[:per_class] for label in classes])


def main(argv=None):
    arguments = parse_arguments(argv)
    return run_command(lambda: draw(arguments), data_advice=True)


def draw(arguments):
    """Check everything, then write the figures; -> the exit status (errors: exits.py)."""
    model, meta = load_classifier(arguments.checkpoint, backend=arguments.backend)
    # every snapshot is checked now, not after the long figures
    snapshots = [load_classifier(path, backend=arguments.backend)
                 for path in arguments.snapshots.split(",") if path]
    val_set = validation_split(arguments, meta)
    check_output_folder("--out", arguments.out, inputs=[("--data", arguments.data)])
    backend = model.backend
    mean = np.array(meta["mean"], dtype=np.float32)
    std = np.array(meta["std"], dtype=np.float32)
    class_names = meta["class_names"]
    images, labels = val_set.images, val_set.labels
    out = arguments.out
    layers = feature_layers(model)
    summary = {"checkpoint": arguments.checkpoint, "validation_images": len(images),
               "feature_layers": layers, "top9": {}}

    print(f"top-9: streaming {len(images)} validation images through {len(layers)} conv layers",
          file=sys.stderr)
    top = top_activations(model, images, mean, std)
    for name, kept in top.items():
        channels = select_channels(kept, arguments.channels)
        projections, patches = top_projections(model, images, mean, std, kept, channels)
        plot_top_projections(projections, patches, channels, os.path.join(out, f"top9_{name}.png"),
                             f"{name} (layer {kept.layer}): top-9 validation activations of "
                             f"{len(channels)} randomly chosen features\ndeconvnet projections, "
                             f"cropped to the {patches.shape[-1]} px receptive field")
        summary["top9"][name] = {
            int(channel): {"images": [val_set.files[i] for i in kept.images[channel]],
                           "values": kept.values[channel].round(4).tolist()}
            for channel in channels}

    chosen = example_images(labels, arguments.images_per_class, arguments.max_classes)
    print(f"occlusion and rules for {len(chosen)} images", file=sys.stderr)
    occlusion_rows = [(images[i], int(labels[i]),
                       occlusion_maps(model, images[i], int(labels[i]), mean, std,
                                      arguments.occluder, arguments.occluder_stride))
                      for i in chosen]
    plot_occlusion(occlusion_rows, class_names, os.path.join(out, "occlusion.png"))
    summary["occlusion"] = {val_set.files[i]: {"min_p_true": float(maps.probability.min()),
                                               "max_p_true": float(maps.probability.max()),
                                               "strongest_channel": maps.channel}
                            for i, (_, _, maps) in zip(chosen, occlusion_rows)}

    x = backend.to_device(normalize(images[chosen], mean, std), backend.dtype)
    true_classes = backend.to_device(labels[chosen])
    maps_by_rule = {rule: backend.to_host(class_saliency(model, x, true_classes, rule))
                    for rule in RULES}
    plot_rule_comparison(images[chosen], maps_by_rule,
                         [f"{class_names[labels[i]]}" for i in chosen],
                         os.path.join(out, "rules.png"))

    first, last = list(layers)[0], list(layers)[-1]
    for name in (first, last):
        maps = backend.to_host(forward_collect(model, x[:1], [layers[name]])[0])[0]
        plot_feature_maps(images[chosen[0]], maps, os.path.join(out, f"feature_maps_{name}.png"),
                          f"{name}: every feature map of one "
                          f"{class_names[labels[chosen[0]]]} image")
    first_conv = next(layer for layer in model if isinstance(layer, Conv2D))
    plot_filters(backend.to_host(first_conv.params["W"]), os.path.join(out, "filters_conv1.png"),
                 f"conv1: the {first_conv.out_channels} first-layer filters")

    if snapshots:
        print(f"feature evolution over {len(snapshots)} snapshots", file=sys.stderr)
        models = [snapshot_model for snapshot_model, _ in snapshots]
        epochs = [snapshot_meta.get("epoch", "?") for _, snapshot_meta in snapshots]
        channels_by_layer = {name: select_channels(top[name], min(4, arguments.channels))
                             for name in (first, list(layers)[len(layers) // 2], last)}
        evolution = feature_evolution(models, images, mean, std, channels_by_layer)
        for name, projections in evolution.items():
            plot_evolution(projections, epochs, channels_by_layer[name],
                           os.path.join(out, f"evolution_{name}.png"),
                           f"{name}: the strongest validation activation\nof each feature, "
                           f"projected, by epoch")
        summary["evolution"] = {"epochs": epochs,
                                "channels": {name: channels.tolist()
                                             for name, channels in channels_by_layer.items()}}
    atomic_write_text(os.path.join(out, "summary.json"), json.dumps(summary, indent=2))
    print(f"figures in {out}/", file=sys.stderr)
    refresh_run_report(arguments.run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
