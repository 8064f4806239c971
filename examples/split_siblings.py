"""How near each validation photo's upload-burst siblings sit in the training part, for one split.

    python examples/split_siblings.py --data ../shared/data/ahe64                 # grouped split
    python examples/split_siblings.py --data ../shared/data/ahe64 --split random
    python examples/split_siblings.py --data ../shared/data/ahe64 --checkpoint runs/ahe/best.npz

Flickr ids are upload numbers, so a validation photo whose id is within a few
thousand of a training photo's is usually a sibling: the same photographer, the
same building, the same afternoon (minicnn/data/split.py). The table counts the
validation images by the id distance to their nearest training photo and, given
a checkpoint trained on this split, the accuracy in each row: accuracy that
falls with the distance is the leak the grouped split removes, and the gap at
which it stops falling is the gap to choose (docs/tuning.md, "The grouped split").
"""
import argparse
import sys

import numpy as np

from minicnn.backend import command_line_backend
from minicnn.cli.arguments import integer, number
from minicnn.cli.exits import run_command
from minicnn.data import find_data_dir, load_dataset, train_validation_split
from minicnn.data.split import (DEFAULT_GAP, SPLIT_METHODS, distance_bin_names, distance_bins,
                                nearest_training_sibling, sibling_groups)
from minicnn.evaluate import predict_logits
from minicnn.predict.classifier import Classifier


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", default=None, help="dataset root (with train/); else $AHE64_DIR")
    parser.add_argument("--split", default="grouped", choices=SPLIT_METHODS)
    parser.add_argument("--split-gap", type=integer(at_least=1), default=DEFAULT_GAP)
    parser.add_argument("--val-fraction", type=number(greater_than=0, less_than=1), default=0.1)
    parser.add_argument("--seed", type=integer(at_least=0), default=0)
    parser.add_argument("--checkpoint", default=None,
                        help="also give each row's accuracy, with this checkpoint (trained on "
                             "the same split: its validation images are never trained on)")
    parser.add_argument("--backend", default=command_line_backend(),
                        choices=["numpy", "numba", "cupy"])
    return parser


def sibling_table(arguments):
    """Print the table; -> 0."""
    dataset = load_dataset(find_data_dir(arguments.data), split="train", image_size=64,
                           verbose=False)
    train_set, val_set = train_validation_split(dataset, arguments.val_fraction, arguments.seed,
                                                arguments.split, arguments.split_gap)
    rows = distance_bins(nearest_training_sibling(train_set.files, val_set.files))
    correct = None
    if arguments.checkpoint:
        classifier = Classifier.load(arguments.checkpoint, backend=arguments.backend)
        logits = predict_logits(classifier.model, val_set.images, classifier.mean, classifier.std,
                                flip_average=classifier.flip_average)
        correct = logits.argmax(axis=1) == val_set.labels
    gap = f", gap {arguments.split_gap:,}" if arguments.split == "grouped" else ""
    print(f"{arguments.split} split{gap}, seed {arguments.seed}: {len(val_set)} validation "
          f"and {len(train_set)} training images")
    if arguments.split == "grouped":
        sizes = np.bincount(sibling_groups(dataset.files, dataset.digests, arguments.split_gap))
        print(f"{int((sizes > 1).sum())} groups of 2 or more images hold {int(sizes[sizes > 1].sum())} "
              f"of the {len(dataset)} images; the largest has {int(sizes.max())}")
    print("| nearest training id | images |" + (" validation accuracy |" if correct is not None
                                                  else ""))
    print("|---|---|" + ("---|" if correct is not None else ""))
    for row, name in enumerate(distance_bin_names()):
        members = rows == row
        line = f"| {name} | {int(members.sum())} |"
        if correct is not None:
            line += f" {100 * correct[members].mean():.1f}% |" if members.any() else " - |"
        print(line)
    if correct is not None:
        print(f"| all | {len(val_set)} | {100 * correct.mean():.1f}% |")
    return 0


def main(argv=None):
    arguments = build_parser().parse_args(argv)
    return run_command(lambda: sibling_table(arguments), data_advice=True)


if __name__ == "__main__":
    sys.exit(main())
