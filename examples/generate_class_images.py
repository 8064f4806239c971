"""Generate one image per class from a trained checkpoint, by regularized gradient ascent.

    python examples/generate_class_images.py --checkpoint runs/ahe/best.npz \
        --out runs/ahe/classes --json
    python examples/generate_class_images.py --run runs/ahe   # -> runs/ahe/class_images

--run RUN_DIR reads RUN_DIR/best.npz, writes to RUN_DIR/class_images and rebuilds
RUN_DIR/report.html, which shows grid.png and history.png.

Writes to --out: <class>.png for every class (64x64 RGB, named exactly like the
class folders), grid.png (labelled, 2x5 for 10 classes), history.png (S_c and
p(c) per step) and, with --animation, animation.gif (the optimization).

Every PNG is then re-loaded from disk, normalized with the checkpoint's mean and
std and classified: that, not the float image inside the optimizer, is the
reported p(c). With --second-checkpoint, a second model (trained with another
seed, say) classifies the same PNGs: images that only fool the first network
are not recognized by the second. With --json, stdout holds exactly one JSON
object; progress goes to stderr. The regularizers default to
minicnn.visualize.REGULARIZED; --no-regularization turns them all off.
See docs/visualization.md.
"""
import argparse
import dataclasses
import json
import os
import sys

import numpy as np

from minicnn.cli.arguments import add_run_argument, integer, number, resolve_run_argument
from minicnn.cli.exits import run_command
from minicnn.report import refresh_run_report
from minicnn.io.paths import check_output_folder, name_max, output_name
from minicnn.backend import command_line_backend
from minicnn.predict import load_classifier
from minicnn.evaluate import predict_logits
from minicnn.functional import softmax
from minicnn.visualize import REGULARIZED, generate_class_images
from minicnn.visualize.images import load_png, save_png
from minicnn.figures.visualization import plot_class_images, plot_generation_history, save_animation

FIGURES_FOLDER = "class_images"   # in the run folder, with --run
# each regularizer of GenerationConfig and the values it takes (0 turns it off)
REGULARIZER_TYPES = {"l2_decay": number(at_least=0, less_than=1), "blur_every": integer(at_least=0),
                     "blur_sigma": number(at_least=0), "jitter": integer(at_least=0),
                     "norm_percentile": number(at_least=0, at_most=100),
                     "contribution_percentile": number(at_least=0, at_most=100),
                     "tv_weight": number(at_least=0)}


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--checkpoint", help="a checkpoint from train_ahe.py")
    parser.add_argument("--out", help="output folder")
    add_run_argument(parser, FIGURES_FOLDER)
    parser.add_argument("--json", action="store_true", help="print one JSON report to stdout")
    parser.add_argument("--second-checkpoint", help="another model to classify the PNGs")
    parser.add_argument("--steps", type=integer(at_least=1), default=REGULARIZED.steps)
    parser.add_argument("--step-size", type=number(greater_than=0), default=REGULARIZED.step_size)
    parser.add_argument("--finish-steps", type=integer(at_least=0),
                        default=REGULARIZED.finish_steps,
                        help="log p(c) steps on the quantized image where p(c) is still low")
    for name, value_type in REGULARIZER_TYPES.items():
        parser.add_argument("--" + name.replace("_", "-"), type=value_type,
                            default=getattr(REGULARIZED, name))
    parser.add_argument("--no-regularization", action="store_true",
                        help="plain gradient ascent: every regularizer off")
    parser.add_argument("--image-size", type=integer(at_least=1), default=64)
    parser.add_argument("--seed", type=integer(at_least=0), default=0)
    parser.add_argument("--animation", action="store_true", help="also write animation.gif")
    parser.add_argument("--backend", default=command_line_backend(),
                        choices=["numpy", "numba", "cupy"])
    return resolve_run_argument(parser, parser.parse_args(argv), FIGURES_FOLDER)


def classify(model, meta, images):
    """uint8 images (N, 3, H, W) -> softmax probabilities (N, classes), as the model sees files."""
    mean = np.array(meta["mean"], dtype=np.float32)
    std = np.array(meta["std"], dtype=np.float32)
    return softmax(predict_logits(model, images, mean, std).astype(np.float64))


def main(argv=None):
    arguments = parse_arguments(argv)
    return run_command(lambda: generate(arguments))


def generate(arguments):
    """Check everything, then generate and write; -> the exit status (errors: exits.py)."""
    model, meta = load_classifier(arguments.checkpoint, arguments.backend)
    second = (load_classifier(arguments.second_checkpoint, arguments.backend)
              if arguments.second_checkpoint else None)
    check_output_folder("--out", arguments.out)
    class_names = meta["class_names"]
    regularizers = {name: (0 if arguments.no_regularization else getattr(arguments, name))
                    for name in REGULARIZER_TYPES}
    frame_every = max(1, arguments.steps // 40) if arguments.animation else 0
    config = dataclasses.replace(REGULARIZED, steps=arguments.steps, step_size=arguments.step_size,
                                 finish_steps=arguments.finish_steps, seed=arguments.seed,
                                 frame_every=frame_every, **regularizers)
    print(f"generating {len(class_names)} class images: {config}", file=sys.stderr)
    result = generate_class_images(model, meta["mean"], meta["std"], config=config,
                                   image_size=arguments.image_size)

    # a class folder's name may be 255 bytes, too long once ".png" is added: shortened
    limit = name_max(arguments.out)
    png_paths = [os.path.join(arguments.out, output_name(name, ".png", limit))
                 for name in class_names]
    for image, path in zip(result.images, png_paths):
        save_png(image, path)
    # the verdict is on the files, re-loaded exactly as another program would read them
    reloaded = np.stack([load_png(path) for path in png_paths])
    probabilities = classify(model, meta, reloaded)
    indices = np.arange(len(class_names))
    plot_class_images(reloaded, class_names, probabilities[indices, indices],
                      os.path.join(arguments.out, "grid.png"),
                      title=f"generated class images, p(c) under {arguments.checkpoint}")
    plot_generation_history(result.probabilities, result.scores, class_names,
                            os.path.join(arguments.out, "history.png"))
    if arguments.animation:
        save_animation(result.frames, os.path.join(arguments.out, "animation.gif"))

    report = {"checkpoint": arguments.checkpoint, "config": dataclasses.asdict(config),
              "classes": {}}
    for index, name in enumerate(class_names):
        report["classes"][name] = {
            "probability": float(probabilities[index, index]),
            "predicted": class_names[int(probabilities[index].argmax())],
            "first_argmax_step": int(result.first_argmax_step[index])}
    report["all_classified"] = bool(np.all(probabilities.argmax(axis=1) == indices))
    report["min_probability"] = float(probabilities[indices, indices].min())
    if second is not None:
        second_model, second_meta = second
        second_probabilities = classify(second_model, second_meta, reloaded)
        order = [second_meta["class_names"].index(name) for name in class_names]
        second_predictions = [second_meta["class_names"][i] for i in second_probabilities.argmax(1)]
        report["second_model"] = {
            "checkpoint": arguments.second_checkpoint,
            "agreement": int(sum(p == name for p, name in zip(second_predictions, class_names))),
            "predicted": dict(zip(class_names, second_predictions)),
            "probability": {name: float(second_probabilities[index, order[index]])
                            for index, name in enumerate(class_names)}}
    if arguments.json:
        print(json.dumps(report, indent=2))
    else:
        for name, row in report["classes"].items():
            print(f"{name:<18} p(c) {row['probability']:.4f}  predicted {row['predicted']:<18}"
                  f" first argmax at step {row['first_argmax_step']}")
        if second is not None:
            print(f"second model agrees on {report['second_model']['agreement']} of "
                  f"{len(class_names)}")
        print(f"outputs in {arguments.out}/")
    refresh_run_report(arguments.run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
