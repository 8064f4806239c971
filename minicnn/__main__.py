"""Command line: ``python -m minicnn evaluate --checkpoint CKPT --data DIR [--json]``.

DIR is a folder of class folders (for example a ``test/`` split). A dataset
root holding split folders (train/ and test/) needs ``--split`` to say which
one to score: scoring train/ by accident would report the images the model
learned from. The report goes to stdout and names the folder it scored; with
``--json`` stdout holds exactly one JSON object and every progress message
goes to stderr.
"""
import argparse
import json
import sys

import numpy as np

from .arguments import integer
from .backend import BACKEND_NAMES, BackendUnavailable, command_line_backend
from .data.sources import KNOWN_SPLIT_NAMES


def evaluate_command(arguments):
    from .classifier import load_classifier
    from .data import DataError, load_dataset
    from .evaluate import classification_metrics, format_report, predict_logits
    from .models import CheckpointError

    try:
        model, meta = load_classifier(arguments.checkpoint, backend=arguments.backend)
        dataset = load_dataset(arguments.data, split=choose_split(arguments),
                               verbose=not arguments.json)
    except (BackendUnavailable, CheckpointError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    class_names = meta["class_names"]
    unknown = sorted(set(dataset.class_names) - set(class_names))
    if unknown:
        print(f"error: {dataset.source} has class folders the model does not know: {unknown}; "
              f"it was trained on {class_names}", file=sys.stderr)
        return 2
    # the data folder may hold a subset of the classes: map its indices onto the model's
    to_model_index = np.array([class_names.index(name) for name in dataset.class_names])
    # the checkpoint says how its model predicts; the command line may override it
    flip_average = (meta.get("flip_average", False) if arguments.flip_average is None
                    else arguments.flip_average)
    labels = to_model_index[dataset.labels]
    logits = predict_logits(model, dataset.images, np.array(meta["mean"], dtype=np.float32),
                            np.array(meta["std"], dtype=np.float32), arguments.batch_size,
                            flip_average=flip_average)
    metrics = classification_metrics(labels, logits.argmax(axis=1), class_names)
    metrics["checkpoint"] = str(arguments.checkpoint)
    metrics["data"] = str(arguments.data)
    metrics["scored"] = dataset.source
    metrics["flip_average"] = bool(flip_average)
    if arguments.json:
        print(json.dumps(metrics))
    else:
        print(format_report(metrics, title=f"{arguments.checkpoint} on {dataset.source}"))
        print("\nconfusion matrix (rows: true, columns: predicted):")
        for name, row in zip(class_names, metrics["confusion_matrix"]):
            print(f"  {name:<18}" + "".join(f"{count:>6}" for count in row))
    return 0


def choose_split(arguments):
    """--split; without it, DataError for a dataset root of split folders."""
    from .data import DataError, list_splits

    if arguments.split is not None:
        return arguments.split
    splits = list_splits(arguments.data)
    if splits:
        example = "test" if "test" in splits else splits[0]
        raise DataError(f"{arguments.data} is a dataset root (split folders: {', '.join(splits)}): "
                        f"say which split to score with --split, e.g. --split {example}, or pass "
                        "the split folder itself as --data")
    return "train"   # --data is a split folder, which load_dataset reads whatever the name


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m minicnn", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    evaluate = commands.add_parser("evaluate", help="evaluate a checkpoint on a folder of class folders")
    evaluate.add_argument("--checkpoint", required=True, help="a .npz saved by the Trainer (best.npz)")
    evaluate.add_argument("--data", required=True,
                          help="a folder of class folders, e.g. DIR/test; or a dataset root "
                               "(or .zip) of split folders, with --split")
    evaluate.add_argument("--split", default=None, choices=KNOWN_SPLIT_NAMES,
                          help="the split folder of --data to score, when --data holds several")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--backend", default=command_line_backend(), choices=BACKEND_NAMES,
                          help="default: $MINICNN_BACKEND, else numba")
    evaluate.add_argument("--batch-size", type=integer(at_least=1), default=256)
    evaluate.add_argument("--flip-average", action=argparse.BooleanOptionalAction, default=None,
                          help="average each image's logits with its mirror image's "
                               "(default: as the checkpoint was trained to predict)")
    arguments = parser.parse_args(argv)
    if arguments.command == "evaluate":
        return evaluate_command(arguments)
    return 2


if __name__ == "__main__":
    sys.exit(main())
