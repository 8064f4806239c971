"""Train the default AHE Image64 classifier end to end.

    python examples/train_ahe.py --download        # fetch the dataset from Kaggle first
    python examples/train_ahe.py --data ../shared/data/ahe64

The data is found at --data, else $AHE64_DIR, else data/ahe64; --download
fetches it with kagglehub into ~/.cache/kagglehub (once) and uses that copy.
A validation split (stratified, seeded, default 10%) is carved from train/; it
is the only thing the run is scored and tuned on. By default it is grouped
(--split grouped): Flickr upload bursts, byte-identical files and photos of one
building stay on one side (minicnn/data/split.py); --split random is the split
before issue 21, for comparison. When DIR/test exists, the
best checkpoint is also evaluated there, once, at the end.

Writes to runs/<name>/: best.npz, last.npz, history.json, curves.png,
confusion_matrix.png, misclassified.png, metrics.json, classification_report.txt,
split.json (how the split was made), robustness.json and robustness.png (the
validation split under every corruption of minicnn/data/corruptions.py; off with
--no-robustness), and epoch<E>.npz for each epoch E of --snapshot-epochs; run.json
(the command, configuration and machine) at the start; report.html (the run at a
glance, one self-contained page: python -m minicnn report) after every epoch and at
the end, and validation_predictions.npz, the best epoch's, for it.
Interrupt with Ctrl-C and continue with --resume.

A folder that already holds a run is never overwritten: without --resume the
command refuses it, naming --resume and a free folder (runs/ahe-2). While a
run trains, its folder is locked against a second run (minicnn/train/run_folder.py).
Every numeric option, and the output folder (not a file, not inside --data,
writable), is checked before any data loads. Exit status (minicnn/cli/exits.py):
0 done, 2 bad arguments or run folder, 3 training diverged, 4 bad data,
5 bad checkpoint, 6 I/O failure (a full disk: the checkpoints already written
are kept, continue with --resume), 130 interrupted.
"""
import argparse
import dataclasses
import json
import os
import sys
import time

import numpy as np

from minicnn.models import AHE_ARCHITECTURES, ahe_classifier
from minicnn.cli.arguments import integer, limited, number, severity_list
from minicnn.cli.exits import run_command
from minicnn.io.atomic import atomic_write_text
from minicnn.io.paths import check_output_folder
from minicnn.limits import LIMITS
from minicnn.backend import command_line_backend, get_backend
from minicnn.data import (channel_stats, download_ahe64, find_data_dir, list_splits,
                          load_dataset,
                          train_validation_split)
from minicnn.data.split import DEFAULT_GAP, SPLIT_METHODS, split_record
from minicnn.data.targets import MIXES
from minicnn.evaluate import classification_metrics, format_report, predict_logits
from minicnn.evaluate.robustness import format_robustness, robustness_report
from minicnn.figures.robustness import plot_robustness
from minicnn.figures.evaluation import plot_confusion_matrix, plot_misclassified
from minicnn.functional import softmax
from minicnn.train.run_folder import hold_run_folder
from minicnn.train import TrainConfig, Trainer
from minicnn.report import LiveReport, write_report_or_warn
from minicnn.train.run_info import command_line, machine_description, write_run_info

# Defaults: lr, weight decay, dropout and augmentation are those of the best trial of
# the random search in docs/tuning.md (trial 7). Width and epochs are set by the
# 20-minute budget on 2 cores: width 16 trains at 200-270 images/s, 23 epochs in 14-19 min
# (1,098 s measured; README.md).
# The residual network ties the VGG-style one (--architecture ahe) on validation over
# two seeds; the recipes compared are in docs/tuning.md, "Recipes compared over seeds".
DEFAULTS = dict(epochs=23, batch_size=64, lr=0.06, weight_decay=2.5e-4, width=16, dropout=0.2,
                max_shift=6, color_jitter=0.2, architecture="ahe-resnet", blocks=(1, 1, 1),
                zoom=0.0, label_smoothing=0.0, mix="none", mix_alpha=1.0, mix_probability=1.0)
QUICK = dict(epochs=2, width=16, images_per_class=120)
# issue 21: degradations of the photo itself (minicnn/data/augmentation.py, degrade_batch).
# Over two seeds of an 8-epoch proxy they cost 1.9 points of clean validation accuracy and gain
# 5.7 under corruption (docs/tuning.md, "Training for photos from elsewhere")
PHOTO_DEFAULTS = dict(degrade=0.5, grayscale=0.1)
IMAGE_SIZE = 64


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where the help text says it (default None)."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


def build_parser():
    """The command line's options, each checked by its rule (minicnn/limits.py)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=DefaultsHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", help="dataset root (with train/) or split folder; "
                                       "else $AHE64_DIR, else data/ahe64")
    source.add_argument("--download", action="store_true",
                        help="fetch the dataset from Kaggle with kagglehub (pip install "
                             "\"minicnn[kaggle]\") into its cache, ~/.cache/kagglehub, and use it")
    parser.add_argument("--name", default=None, help="run name (default: ahe, or ahe-quick)")
    parser.add_argument("--out", default=None, help="output folder (default: runs/<name>)")
    parser.add_argument("--epochs", type=limited("epochs"), default=None,
                        help=f"default {DEFAULTS['epochs']} ({QUICK['epochs']} with --quick)")
    parser.add_argument("--batch-size", type=limited("batch_size"), default=DEFAULTS["batch_size"])
    parser.add_argument("--lr", type=limited("lr"), default=DEFAULTS["lr"],
                        help="peak learning rate")
    parser.add_argument("--weight-decay", type=limited("weight_decay"), default=DEFAULTS["weight_decay"])
    parser.add_argument("--width", type=integer(at_least=1), default=None,
                        help=f"default {DEFAULTS['width']}")
    parser.add_argument("--dropout", type=limited("dropout"),
                        default=DEFAULTS["dropout"])
    parser.add_argument("--max-shift", type=integer(at_least=LIMITS["max_shift"].at_least,
                                                       at_most=IMAGE_SIZE - 1),
                        default=DEFAULTS["max_shift"], help="random translation in pixels")
    parser.add_argument("--color-jitter", type=limited("color_jitter"),
                        default=DEFAULTS["color_jitter"])
    parser.add_argument("--zoom", type=limited("zoom"), default=DEFAULTS["zoom"],
                        help="random scale in [1 - zoom, 1 + zoom] about the centre")
    parser.add_argument("--degrade", type=limited("degrade"), default=PHOTO_DEFAULTS["degrade"],
                        help="share of the training images shrunk and enlarged back, blurred or "
                             "JPEG-compressed, at random strengths")
    parser.add_argument("--grayscale", type=limited("grayscale"),
                        default=PHOTO_DEFAULTS["grayscale"],
                        help="share of the training images turned gray")
    parser.add_argument("--architecture", default=DEFAULTS["architecture"],
                        choices=AHE_ARCHITECTURES,
                        help="ahe: VGG-style stages; ahe-resnet: residual blocks")
    parser.add_argument("--blocks", type=stage_blocks, default=DEFAULTS["blocks"],
                        help="ahe-resnet: residual blocks per stage, e.g. 1,1,1")
    parser.add_argument("--label-smoothing", type=limited("label_smoothing"),
                        default=DEFAULTS["label_smoothing"])
    parser.add_argument("--mix", default=DEFAULTS["mix"], choices=MIXES,
                        help="mix pairs of training images and their labels")
    parser.add_argument("--mix-alpha", type=limited("mix_alpha"), default=DEFAULTS["mix_alpha"],
                        help="the mixing weight is drawn from Beta(alpha, alpha)")
    parser.add_argument("--mix-probability", type=limited("mix_probability"),
                        default=DEFAULTS["mix_probability"],
                        help="share of the batches that are mixed")
    parser.add_argument("--schedule", default="onecycle",
                        choices=["onecycle", "cosine", "step", "constant"])
    parser.add_argument("--patience", type=limited("patience"), default=0,
                        help="early stopping (0: off)")
    parser.add_argument("--flip-average", action=argparse.BooleanOptionalAction, default=True,
                        help="predict with the mean logits of each image and its mirror")
    parser.add_argument("--val-fraction", type=number(greater_than=0, less_than=1), default=0.1)
    parser.add_argument("--split", default="grouped", choices=SPLIT_METHODS,
                        help="grouped: upload bursts, duplicates and same-building names kept on "
                             "one side; random: only duplicates (the split before issue 21)")
    parser.add_argument("--split-gap", type=integer(at_least=1), default=DEFAULT_GAP,
                        help="--split grouped: Flickr ids closer than this are one upload burst")
    parser.add_argument("--robustness", action=argparse.BooleanOptionalAction, default=True,
                        help="score best.npz on the validation split under every corruption "
                             "(robustness.json and .png)")
    # each severity costs one scoring of the validation split per corruption (11): about 1.5
    # minutes on 2 cores, so the run scores the middle one (README.md, "The default run")
    parser.add_argument("--robustness-severities", type=severity_list, default="2",
                        help="the corruption severities --robustness scores, e.g. 1,2,3")
    parser.add_argument("--seed", type=limited("seed"), default=0)
    parser.add_argument("--backend", default=command_line_backend(),
                        choices=["numpy", "numba", "cupy"])
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK['images_per_class']} images per class, "
                             f"{QUICK['epochs']} epochs, width {QUICK['width']} (1-2 minutes)")
    parser.add_argument("--resume", action="store_true", help="continue from <out>/last.npz")
    parser.add_argument("--snapshot-epochs", type=positive_integers, default=(),
                        help="also keep these epochs' checkpoints as epoch<E>.npz, e.g. 1,2,5,10 "
                             "(for the feature-evolution figure of examples/visualize_deconv.py)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def parse_arguments(argv=None):
    parser = build_parser()
    arguments = parser.parse_args(argv)
    epochs = arguments.epochs or (QUICK if arguments.quick else DEFAULTS)["epochs"]
    beyond = [epoch for epoch in arguments.snapshot_epochs if epoch > epochs]
    if beyond:
        parser.error(f"argument --snapshot-epochs: epoch {beyond[0]} is beyond the run's "
                     f"{epochs} epochs (--epochs), so it would never be written")
    return arguments


def stage_blocks(text):
    """--blocks: one count >= 1 per stage; each stage halves the image, so at most 6 stages."""
    values = positive_integers(text)
    most = int(np.log2(IMAGE_SIZE))
    if not 1 <= len(values) <= most:
        raise argparse.ArgumentTypeError(f"expected 1 to {most} stages (each halves the "
                                         f"{IMAGE_SIZE}x{IMAGE_SIZE} image), got {text!r}")
    return values


def positive_integers(text):
    """Parse "1,2,5,10" into (1, 2, 5, 10); each must be >= 1 (epochs count from 1)."""
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if any(value < 1 for value in values):
        raise argparse.ArgumentTypeError(f"each must be >= 1 (epochs and blocks count from 1), "
                                         f"got {text!r}")
    return values


def balanced_subset(dataset, per_class, seed):
    """The first ``per_class`` images of each class, in a seeded order (for --quick)."""
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(np.flatnonzero(dataset.labels == label))[:per_class]
            for label in range(len(dataset.class_names))]
    return dataset.subset(np.sort(np.concatenate(keep)))


def evaluate_split(model, dataset, mean, std, class_names, out_dir, tag, flip_average):
    """Metrics, report, confusion matrix and misclassified grid for one split."""
    logits = predict_logits(model, dataset.images, mean, std, flip_average=flip_average)
    predictions = logits.argmax(axis=1)
    metrics = classification_metrics(dataset.labels, predictions, class_names)
    probabilities = softmax(logits)
    suffix = "" if tag == "validation" else f"_{tag}"
    plot_confusion_matrix(metrics["confusion_matrix"], class_names,
                          os.path.join(out_dir, f"confusion_matrix{suffix}.png"),
                          title=f"{tag}: accuracy {metrics['accuracy']:.3f}, "
                                f"macro-F1 {metrics['macro_f1']:.3f}")
    plot_misclassified(dataset.images, dataset.labels, predictions, class_names,
                       os.path.join(out_dir, f"misclassified{suffix}.png"),
                       probabilities=probabilities)
    return metrics


def write_robustness(model, val_set, mean, std, class_names, out_dir, flip_average, seed,
                     severities):
    """best.npz on the validation split under every corruption -> robustness.json and .png;
    returns the report, with the seconds it took."""
    started = time.perf_counter()
    report = robustness_report(model, val_set.images, val_set.labels, mean, std, class_names,
                               severities, seed=seed, flip_average=flip_average,
                               checkpoint=os.path.join(out_dir, "best.npz"))
    atomic_write_text(os.path.join(out_dir, "robustness.json"), json.dumps(report, indent=2))
    plot_robustness(report, os.path.join(out_dir, "robustness.png"))
    return {**report, "seconds": round(time.perf_counter() - started, 1)}


def main(argv=None):
    arguments = parse_arguments(argv)
    started = time.perf_counter()
    name = arguments.name or ("ahe-quick" if arguments.quick else "ahe")
    out_dir = arguments.out or os.path.join("runs", name)
    return run_command(lambda: hold_and_train(arguments, out_dir, started), data_advice=True)


def hold_and_train(arguments, out_dir, started):
    """Check and hold the run folder, then train; -> the exit status (errors: exits.py)."""
    check_output_folder("--out", out_dir, inputs=[("--data", arguments.data)])
    # held before the data loads, so a busy or used folder is refused at once
    with hold_run_folder(out_dir, resume=arguments.resume) as held:
        for note in held.notes():
            print(note, file=sys.stderr)
        return train_and_report(arguments, out_dir, started)


def train_and_report(arguments, out_dir, started):
    """Load, split, train, then score best.npz and write the reports; returns the exit status."""
    preset = QUICK if arguments.quick else DEFAULTS
    epochs = preset["epochs"] if arguments.epochs is None else arguments.epochs
    width = preset["width"] if arguments.width is None else arguments.width
    backend = get_backend(arguments.backend, seed=arguments.seed)
    root = download_ahe64() if arguments.download else find_data_dir(arguments.data)
    dataset = load_dataset(root, split="train", image_size=IMAGE_SIZE)
    if arguments.quick:
        dataset = balanced_subset(dataset, QUICK["images_per_class"], arguments.seed)
    train_set, val_set = train_validation_split(dataset, arguments.val_fraction, arguments.seed,
                                                arguments.split, arguments.split_gap)
    split = split_record(arguments.split, arguments.split_gap, arguments.seed,
                         arguments.val_fraction, len(train_set), len(val_set))
    print(f"split: {split['description']}", file=sys.stderr)
    mean, std = channel_stats(train_set.images)
    class_names = dataset.class_names
    print(f"data: {len(train_set)} training and {len(val_set)} validation images, "
          f"{len(class_names)} classes, from {root}", file=sys.stderr)

    model = ahe_classifier(arguments.architecture, len(class_names), width=width,
                           dropout=arguments.dropout, blocks=arguments.blocks, backend=backend,
                           seed=arguments.seed)
    print(model.summary((1, 3, IMAGE_SIZE, IMAGE_SIZE)), file=sys.stderr)
    config = TrainConfig(epochs=epochs, batch_size=arguments.batch_size, lr=arguments.lr,
                         weight_decay=arguments.weight_decay, schedule=arguments.schedule,
                         max_shift=arguments.max_shift, color_jitter=arguments.color_jitter,
                         zoom=arguments.zoom,
                         degrade=arguments.degrade, grayscale=arguments.grayscale,
                         patience=arguments.patience, seed=arguments.seed,
                         flip_average=arguments.flip_average,
                         label_smoothing=arguments.label_smoothing, mix=arguments.mix,
                         mix_alpha=arguments.mix_alpha, mix_probability=arguments.mix_probability)
    trainer = Trainer(model, config, out_dir, class_names, mean, std,
                      progress=not arguments.no_progress,
                      snapshot_epochs=arguments.snapshot_epochs,
                      # report.html (and validation_predictions.npz) after every epoch
                      epoch_callbacks=[LiveReport(out_dir)],
                      extra_meta={"architecture_name": arguments.architecture, "width": width,
                                  "blocks": list(arguments.blocks), "dropout": arguments.dropout,
                                  "split": split})
    # run.json (command, configuration, machine) before the first epoch
    write_run_info(out_dir, command_line("examples/train_ahe.py"),
                   {**vars(arguments), **dataclasses.asdict(config), "width": width},
                   arguments.seed, arguments.backend)
    history = trainer.fit(train_set, val_set, resume=arguments.resume)
    # after fit: a resume that fit refuses (another split) leaves the run's own record as it is
    atomic_write_text(os.path.join(out_dir, "split.json"), json.dumps(split, indent=2))

    # the weights best.npz holds, and the epoch they are from, as the file itself says
    best_epoch = model.load(os.path.join(out_dir, "best.npz"))["epoch"]
    results = {"validation": evaluate_split(model, val_set, mean, std, class_names, out_dir,
                                            "validation", config.flip_average)}
    report = [f"split: {split['description']}",
              format_report(results["validation"], title=f"validation (best epoch {best_epoch})")]
    if arguments.robustness:
        robustness = write_robustness(model, val_set, mean, std, class_names, out_dir,
                                      config.flip_average, arguments.seed,
                                      arguments.robustness_severities)
        results["validation_corrupted"] = {key: robustness[key] for key in ("mean_accuracy",
                                                                             "seconds")}
        report.append(format_robustness(robustness))
    # the data source's own list of splits: a folder's test/ or the test split inside a .zip
    if "test" in list_splits(root) and not arguments.quick:
        test_set = load_dataset(root, split="test", image_size=IMAGE_SIZE)
        if test_set.class_names != class_names:
            print(f"warning: the test split of {root} has other classes than train; test skipped",
                  file=sys.stderr)
        else:
            results["test"] = evaluate_split(model, test_set, mean, std, class_names, out_dir, "test",
                                             config.flip_average)
            report.append(format_report(results["test"], title="test"))
    results.update(
        best_epoch=best_epoch, epochs_run=len(history),
        wall_seconds=round(time.perf_counter() - started, 1),
        command=command_line("examples/train_ahe.py"),
        machine=machine_description(arguments.backend),
        train_images=len(train_set), val_images=len(val_set), seed=arguments.seed,
        architecture=arguments.architecture, split=split)
    atomic_write_text(os.path.join(out_dir, "metrics.json"), json.dumps(results, indent=2))
    atomic_write_text(os.path.join(out_dir, "classification_report.txt"),
                      "\n\n".join(report) + "\n")
    print("\n\n".join(report))
    print(f"\nwall time {results['wall_seconds']:.0f} s; outputs in {out_dir}/")
    page = write_report_or_warn(out_dir)
    if page:
        print(f"report: {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
