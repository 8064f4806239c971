"""Command line: ``python -m minicnn evaluate --checkpoint CKPT --data DIR [--json]``.

DIR is a folder of class folders (for example a ``test/`` split). The report goes
to stdout; with ``--json`` stdout holds exactly one JSON object and every
progress message goes to stderr.
"""
import argparse
import json
import sys

import numpy as np


def evaluate_command(arguments):
    from .backend import BackendUnavailable
    from .classifier import load_classifier
    from .data import DataError, load_dataset
    from .evaluate import classification_metrics, format_report, predict_logits
    from .models import CheckpointError

    try:
        classifier = load_classifier(arguments.checkpoint, backend=arguments.backend)
        dataset = load_dataset(arguments.data, verbose=not arguments.json)
    except (BackendUnavailable, CheckpointError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    class_names = classifier.class_names
    unknown = sorted(set(dataset.class_names) - set(class_names))
    if unknown:
        print(f"error: {arguments.data} has class folders the model does not know: {unknown}; "
              f"it was trained on {class_names}", file=sys.stderr)
        return 2
    # the data folder may hold a subset of the classes: map its indices onto the model's
    to_model_index = np.array([class_names.index(name) for name in dataset.class_names])
    # the checkpoint says how its model predicts; the command line may override it
    flip_average = (classifier.flip_average if arguments.flip_average is None
                    else arguments.flip_average)
    labels = to_model_index[dataset.labels]
    logits = predict_logits(classifier.model, dataset.images, classifier.mean, classifier.std,
                            arguments.batch_size, flip_average=flip_average)
    metrics = classification_metrics(labels, logits.argmax(axis=1), class_names)
    metrics["checkpoint"] = str(arguments.checkpoint)
    metrics["data"] = str(arguments.data)
    metrics["flip_average"] = bool(flip_average)
    if arguments.json:
        print(json.dumps(metrics))
    else:
        print(format_report(metrics, title=f"{arguments.checkpoint} on {arguments.data}"))
        print("\nconfusion matrix (rows: true, columns: predicted):")
        for name, row in zip(class_names, metrics["confusion_matrix"]):
            print(f"  {name:<18}" + "".join(f"{count:>6}" for count in row))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m minicnn", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    evaluate = commands.add_parser("evaluate", help="evaluate a checkpoint on a folder of class folders")
    add_checkpoint_arguments(evaluate)
    evaluate.add_argument("--data", required=True, help="a folder of class folders, e.g. DIR/test")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--backend", default=None, help="numpy, numba or cupy (default: $MINICNN_BACKEND)")
    evaluate.add_argument("--batch-size", type=int, default=256)
    arguments = parser.parse_args(argv)
    if arguments.command == "evaluate":
        return evaluate_command(arguments)
    return 2


def add_checkpoint_arguments(command, flip_average_help="average each image's logits with its "
                                                          "mirror image's"):
    """--checkpoint and --flip-average, which every command reading a checkpoint takes."""
    command.add_argument("--checkpoint", required=True, help="a .npz saved by the Trainer (best.npz)")
    command.add_argument("--flip-average", action=argparse.BooleanOptionalAction, default=None,
                         help=f"{flip_average_help} (default: as the checkpoint was trained to "
                              "predict)")


if __name__ == "__main__":
    sys.exit(main())
