"""Command line: ``python -m minicnn evaluate --checkpoint CKPT --data DIR [--json]``.

DIR is a folder of class folders (for example a ``test/`` split). The report goes
to stdout; with ``--json`` stdout holds exactly one JSON object and every
progress message goes to stderr.
"""
import argparse
import json
import sys

import numpy as np

from .backend import BACKEND_NAMES, BackendUnavailable, command_line_backend


def evaluate_command(arguments):
    from .data import DataError, load_dataset
    from .evaluate import classification_metrics, format_report, predict_logits
    from .models import CheckpointError, Sequential, read_checkpoint_meta

    try:
        meta = read_checkpoint_meta(arguments.checkpoint)
        if "class_names" not in meta:
            raise CheckpointError(f"{arguments.checkpoint} holds no class names: it was not "
                                  "saved by the minicnn Trainer")
        model = Sequential.from_checkpoint(arguments.checkpoint, backend=arguments.backend)
        dataset = load_dataset(arguments.data, verbose=not arguments.json)
    except (BackendUnavailable, CheckpointError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    class_names = meta["class_names"]
    unknown = sorted(set(dataset.class_names) - set(class_names))
    if unknown:
        print(f"error: {arguments.data} has class folders the model does not know: {unknown}; "
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
    evaluate.add_argument("--checkpoint", required=True, help="a .npz saved by the Trainer (best.npz)")
    evaluate.add_argument("--data", required=True, help="a folder of class folders, e.g. DIR/test")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--backend", default=command_line_backend(), choices=BACKEND_NAMES,
                          help="default: $MINICNN_BACKEND, else numba")
    evaluate.add_argument("--batch-size", type=int, default=256)
    evaluate.add_argument("--flip-average", action=argparse.BooleanOptionalAction, default=None,
                          help="average each image's logits with its mirror image's "
                               "(default: as the checkpoint was trained to predict)")
    arguments = parser.parse_args(argv)
    if arguments.command == "evaluate":
        return evaluate_command(arguments)
    return 2


if __name__ == "__main__":
    sys.exit(main())
