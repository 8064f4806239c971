"""Score a finished run's best.npz on its own validation split under the corruptions.

    python examples/run_robustness.py runs/ahe --data ../shared/data/ahe64
    python examples/run_robustness.py runs/ahe --data ../shared/data/ahe64 --severities 1,2,3

The run's split.json says how its validation split was made (method, gap, seed,
fraction), so the split is made again exactly and the model is scored on images
it never trained on, clean and under every corruption of
minicnn/data/corruptions.py (minicnn/evaluate/robustness.py). It prints the
table; --json writes the report. This is how docs/tuning.md scores the runs of
its A/B comparisons with one set of severities.
"""
import argparse
import json
import os
import sys

from minicnn.backend import command_line_backend
from minicnn.cli.arguments import severity_list
from minicnn.cli.exits import run_command
from minicnn.data import DataError, find_data_dir, load_dataset, train_validation_split
from minicnn.data.split import DEFAULT_GAP
from minicnn.evaluate.robustness import format_robustness, robustness_report
from minicnn.io.atomic import atomic_write_text
from minicnn.io.paths import check_outputs
from minicnn.predict.classifier import Classifier


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("run", help="a run folder of examples/train_ahe.py (with split.json)")
    parser.add_argument("--data", default=None, help="dataset root (with train/); else $AHE64_DIR")
    parser.add_argument("--severities", type=severity_list, default=(2,))
    parser.add_argument("--json", default=None, metavar="FILE", help="write the report here")
    parser.add_argument("--backend", default=command_line_backend(),
                        choices=["numpy", "numba", "cupy"])
    return parser


def score_run(arguments):
    split_file = os.path.join(arguments.run, "split.json")
    if not os.path.exists(split_file):
        raise DataError(f"{arguments.run} has no split.json: it was not made by "
                        "examples/train_ahe.py since issue 21, so its validation split is unknown")
    check_outputs([("--json", arguments.json)], inputs=[("run", split_file)])
    with open(split_file, encoding="utf-8") as file:
        split = json.load(file)
    dataset = load_dataset(find_data_dir(arguments.data), split="train", image_size=64,
                           verbose=False)
    if split["train_images"] + split["validation_images"] != len(dataset):
        raise DataError(f"{arguments.run} split {split['train_images'] + split['validation_images']:,} "
                        f"images, the data has {len(dataset):,}: it was trained on a subset "
                        "(--quick?) or on other data, so its validation split cannot be made again")
    _, val_set = train_validation_split(dataset, split["val_fraction"], split["seed"],
                                        split["method"], split["gap"] or DEFAULT_GAP)
    checkpoint = os.path.join(arguments.run, "best.npz")
    classifier = Classifier.load(checkpoint, backend=arguments.backend)
    report = robustness_report(classifier.model, val_set.images, val_set.labels, classifier.mean,
                               classifier.std, classifier.class_names, arguments.severities,
                               seed=split["seed"], flip_average=classifier.flip_average,
                               checkpoint=checkpoint)
    if arguments.json:
        atomic_write_text(arguments.json, json.dumps(report, indent=2))
    print(format_robustness(report))
    return 0


def main(argv=None):
    arguments = build_parser().parse_args(argv)
    return run_command(lambda: score_run(arguments), data_advice=True)


if __name__ == "__main__":
    sys.exit(main())
