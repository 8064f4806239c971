"""``python -m minicnn evaluate``: score a checkpoint on a folder of class folders.

    evaluate --checkpoint CKPT --data DIR [--split NAME] [--json [FILE]]
    evaluate --checkpoint CKPT --data DIR --corruptions [--severities 1,2,3] [--seed S]
             [--json [FILE]] [--figure FILE.png]

DIR is a folder of class folders (for example a ``test/`` split). A dataset
root holding split folders (train/ and test/) needs ``--split`` to say which
one to score: scoring train/ by accident would report the images the model
learned from. The report names the folder it scored.

--corruptions scores the images clean and under every corruption of
minicnn/data/corruptions.py at the severities asked for, and prints a table
with the mean accuracy under corruption (minicnn/evaluate/robustness.py).
The corruptions are seeded (--seed), so two checkpoints scored on the same
folder meet the same corrupted images. --json alone prints the report as one
JSON object instead of the table; --json FILE writes it there and prints the
table. --figure draws the table (minicnn/figures/robustness.py).
"""
import json

import numpy as np

from ..data import DataError, list_splits, load_dataset
from ..data.sources import KNOWN_SPLIT_NAMES
from ..data.corruptions import SEVERITIES
from ..evaluate import classification_metrics, format_report, predict_logits
from ..evaluate.robustness import format_robustness, robustness_report
from ..figures.robustness import plot_robustness
from ..io.atomic import atomic_write_text
from ..io.checkpoint_checks import CheckpointError
from ..io.paths import check_outputs
from ..predict.classifier import Classifier
from .arguments import (add_backend_argument, add_checkpoint_arguments, integer,
                        severity_list)


def add_parser(commands):
    evaluate = commands.add_parser("evaluate", help="evaluate a checkpoint on a folder of class folders",
                                   description=__doc__.split("\n\n", 2)[2].strip())
    add_checkpoint_arguments(evaluate)
    evaluate.add_argument("--data", required=True,
                          help="a folder of class folders, e.g. DIR/test; or a dataset root "
                               "(or .zip) of split folders, with --split")
    evaluate.add_argument("--split", default=None, choices=KNOWN_SPLIT_NAMES,
                          help="the split folder of --data to score, when --data holds several")
    evaluate.add_argument("--json", nargs="?", const=PRINT_JSON, default=None, metavar="FILE",
                          help="print one JSON object; with FILE, write it there and print the table")
    evaluate.add_argument("--corruptions", action="store_true",
                          help="also score every corruption of minicnn/data/corruptions.py")
    evaluate.add_argument("--severities", type=severity_list, default=SEVERITIES,
                          help="with --corruptions: which severities, e.g. 1,3 (default 1,2,3)")
    evaluate.add_argument("--seed", type=integer(at_least=0), default=0,
                          help="with --corruptions: the seed of the corruptions' random draws")
    evaluate.add_argument("--figure", default=None, metavar="FILE",
                          help="with --corruptions: draw accuracy per corruption and severity")
    add_backend_argument(evaluate)
    evaluate.add_argument("--batch-size", type=integer(at_least=1), default=256)
    evaluate.set_defaults(run=run)


# --json with no FILE: print the JSON on stdout
PRINT_JSON = "-"


def run(arguments):
    json_file = arguments.json if arguments.json not in (None, PRINT_JSON) else None
    check_outputs([("--json", json_file), ("--figure", arguments.figure)],
                  inputs=[("--checkpoint", arguments.checkpoint), ("--data", arguments.data)])
    printing_json = arguments.json == PRINT_JSON
    classifier = Classifier.load(arguments.checkpoint, backend=arguments.backend)
    dataset = load_dataset(arguments.data, split=choose_split(arguments), verbose=not printing_json)
    class_names = classifier.class_names
    unknown = sorted(set(dataset.class_names) - set(class_names))
    if unknown:
        raise DataError(f"{dataset.source} has class folders the model does not know: {unknown}; "
                        f"it was trained on {class_names}")
    # the data folder may hold a subset of the classes: map its indices onto the model's
    to_model_index = np.array([class_names.index(name) for name in dataset.class_names])
    # the checkpoint says how its model predicts; the command line may override it
    flip_average = (classifier.flip_average if arguments.flip_average is None
                    else arguments.flip_average)
    labels = to_model_index[dataset.labels]
    with np.errstate(over="ignore", invalid="ignore"):   # non-finite logits are refused below
        logits = predict_logits(classifier.model, dataset.images, classifier.mean, classifier.std,
                                arguments.batch_size, flip_average=flip_average)
    bad = int(np.size(logits) - np.count_nonzero(np.isfinite(logits)))
    if bad:   # the checkpoint passed its probe batch, yet these images overflow it
        raise CheckpointError(f"checkpoint {arguments.checkpoint}: its network gives {bad} "
                              f"non-finite logits on {dataset.source}; no accuracy is reported")
    if arguments.corruptions:
        return report_robustness(arguments, classifier, dataset, labels, flip_average, json_file)
    metrics = classification_metrics(labels, logits.argmax(axis=1), class_names)
    metrics["checkpoint"] = str(arguments.checkpoint)
    metrics["data"] = str(arguments.data)
    metrics["scored"] = dataset.source
    metrics["flip_average"] = bool(flip_average)
    metrics["skipped"] = [{"file": entry.file, "reason": entry.reason}
                          for entry in dataset.report.skipped]
    matrix = [f"  {name:<18}" + "".join(f"{count:>6}" for count in row)
              for name, row in zip(class_names, metrics["confusion_matrix"])]
    table = "\n".join([format_report(metrics, title=f"{arguments.checkpoint} on {dataset.source}"),
                       "\nconfusion matrix (rows: true, columns: predicted):", *matrix])
    return show(arguments, json_file, metrics, table)


def report_robustness(arguments, classifier, dataset, labels, flip_average, json_file):
    """--corruptions: the robustness report, printed as a table or JSON, and written where asked."""
    report = robustness_report(classifier.model, dataset.images, labels, classifier.mean,
                               classifier.std, classifier.class_names, arguments.severities,
                               seed=arguments.seed, flip_average=flip_average,
                               batch_size=arguments.batch_size, checkpoint=arguments.checkpoint)
    if arguments.figure is not None:
        plot_robustness(report, arguments.figure)
    return show(arguments, json_file, report, format_robustness(report))


def show(arguments, json_file, report, table):
    """The report written to --json FILE, then printed: as JSON for --json alone, else ``table``."""
    if json_file is not None:
        atomic_write_text(json_file, json.dumps(report, indent=2))
    print(json.dumps(report) if arguments.json == PRINT_JSON else table)
    return 0


def choose_split(arguments):
    """--split; without it, DataError for a dataset root of split folders."""
    if arguments.split is not None:
        return arguments.split
    splits = list_splits(arguments.data)
    if splits:
        example = "test" if "test" in splits else splits[0]
        raise DataError(f"{arguments.data} is a dataset root (split folders: {', '.join(splits)}): "
                        f"say which split to score with --split, e.g. --split {example}, or pass "
                        "the split folder itself as --data")
    return "train"   # --data is a split folder, which load_dataset reads whatever the name
