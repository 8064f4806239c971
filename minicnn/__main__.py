"""Command line: ``python -m minicnn evaluate | predict | export | exercises | grade``.

    evaluate --checkpoint CKPT --data DIR [--split NAME] [--json]
        DIR is a folder of class folders (for example a ``test/`` split). A
        dataset root holding split folders (train/ and test/) needs ``--split``
        to say which one to score: scoring train/ by accident would report the
        images the model learned from. The report names the folder it scored.
    predict --checkpoint CKPT PATH... [--top K] [--json] [--explain OUT_DIR]
        the top classes of image files, or of every image in folders (searched
        recursively; minicnn/predict.py). Exit status 1 if one could not be read.
    export --checkpoint CKPT [--onnx OUT.onnx] [--torch OUT.pt]
        ONNX takes plain pixels, PyTorch normalised input (minicnn/interop/).
    exercises DIR [--force]
        write the course's exercises (minicnn.course): a skeleton of
        minicnn/functional, a README for students, their tests.
    grade DIR [--json] [--csv FILE] [--only NAME ...] [--timeout S]
        grade a student's functions, or a folder of submissions (one per subfolder).

Reports go to stdout; with ``--json`` stdout holds exactly one JSON value and
every progress message goes to stderr.
"""
import argparse
import json
import os
import pathlib
import sys

import numpy as np

from . import course
from .arguments import integer, number
from .atomic import atomic_write_text
from .backend import BACKEND_NAMES, BackendUnavailable, command_line_backend
from .data.sources import KNOWN_SPLIT_NAMES


def evaluate_command(arguments):
    from .classifier import Classifier
    from .data import DataError, load_dataset
    from .evaluate import classification_metrics, format_report, predict_logits
    from .models import CheckpointError

    try:
        classifier = Classifier.load(arguments.checkpoint, backend=arguments.backend)
        dataset = load_dataset(arguments.data, split=choose_split(arguments),
                               verbose=not arguments.json)
    except (BackendUnavailable, CheckpointError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    class_names = classifier.class_names
    unknown = sorted(set(dataset.class_names) - set(class_names))
    if unknown:
        print(f"error: {dataset.source} has class folders the model does not know: {unknown}; "
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


def exercises_command(arguments):
    try:
        written = course.write_kit(arguments.folder, force=arguments.force)
    except course.KitError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    folder = pathlib.Path(arguments.folder)
    skeleton = [path for path in written if path.parent.name == "functional"]
    print(f"wrote the exercises to {folder}: README.md, pytest.ini, test_exercises.py and "
          f"functional/ ({len(skeleton)} files; {len(course.EXERCISES)} functions to write, "
          f"{sum(exercise.points for exercise in course.EXERCISES):g} points)")
    print(f"students read {folder / 'README.md'} and check themselves with `pytest` in "
          f"{folder}; grade with `python -m minicnn grade {folder}`")
    return 0


def grade_command(arguments):
    try:
        submissions = course.find_submissions(arguments.folder)
    except course.SubmissionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    several = not course.is_submission(arguments.folder)
    exercises = [exercise for exercise in course.EXERCISES
                 if not arguments.only or exercise.function in arguments.only]
    graded = []
    for index, (name, package) in enumerate(submissions, start=1):
        if several:
            print(f"grading {name} ({index} of {len(submissions)})", file=sys.stderr, flush=True)
        results = course.grade(package, exercises, timeout=arguments.timeout)
        graded.append((name, results))
        if not arguments.json:
            print(course.text_report(name, results) + "\n", flush=True)
        if arguments.csv:   # rewritten after each submission: an interruption keeps the rest
            atomic_write_text(arguments.csv, course.csv_table(graded))
    if arguments.json and several:
        print(json.dumps({"submissions": [dict(name=name, **course.gradescope(results))
                                          for name, results in graded]}, indent=2))
    elif arguments.json:
        print(json.dumps(course.gradescope(graded[0][1]), indent=2))
    elif several:
        print(course.summary(graded))
    return 0


def predict_command(arguments):
    from .classifier import Classifier
    from .models import CheckpointError
    from .predict import format_result, predict_paths

    try:
        classifier = Classifier.load(arguments.checkpoint, backend=arguments.backend)
        if arguments.explain:
            os.makedirs(arguments.explain, exist_ok=True)
    except (BackendUnavailable, CheckpointError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    results = []
    for result in predict_paths(classifier, arguments.paths, top=arguments.top,
                                batch_size=arguments.batch_size,
                                flip_average=arguments.flip_average, explain_dir=arguments.explain):
        results.append(result)
        if not arguments.json:
            print(format_result(result), flush=True)
    if arguments.json:
        print(json.dumps(results))
    failed = sum("error" in result for result in results)
    if failed:
        print(f"{failed} of {len(results)} inputs could not be classified", file=sys.stderr)
        return 1
    return 0


def export_command(arguments):
    from .classifier import Classifier
    from .interop import MissingExtra, UnsupportedLayer
    from .models import CheckpointError

    reports = []   # (agrees with minicnn, what to tell the user) per file written
    try:
        classifier = Classifier.load(arguments.checkpoint, backend="numpy")
        if arguments.onnx:
            flip_average = (classifier.flip_average if arguments.flip_average is None
                            else arguments.flip_average)
            reports.append(export_onnx_file(classifier, arguments.onnx, flip_average))
        if arguments.torch:
            reports.append(export_torch_file(classifier, arguments.torch))
    except (CheckpointError, MissingExtra, UnsupportedLayer, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for agrees, text in reports:
        print(text, file=sys.stdout if agrees else sys.stderr)
    return 0 if all(agrees for agrees, _ in reports) else 1


# random pixels on which an exported file is checked against minicnn itself
CHECK_IMAGES = 8


def check_pixels():
    """CHECK_IMAGES seeded random uint8 images (N, 3, 64, 64)."""
    from .classifier import IMAGE_SIZE
    return np.random.default_rng(0).integers(0, 256, (CHECK_IMAGES, 3, IMAGE_SIZE, IMAGE_SIZE),
                                             dtype=np.uint8)


def export_onnx_file(classifier, path, flip_average):
    """Write the ONNX file; -> (agrees, what to tell the user), with onnxruntime's agreement
    when it is installed."""
    from .evaluate import predict_logits
    from .interop import (MissingExtra, agreement, export_onnx, onnxruntime_logits,
                          relative_difference)

    export_onnx(classifier.model, path, classifier.mean, classifier.std, classifier.class_names,
                flip_average=flip_average)
    lines = [f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB, onnx.checker passed): input "
             f"\"pixels\" float32 (N, 3, 64, 64), RGB 0-255; output \"logits\" (N, "
             f"{len(classifier.class_names)}); flip averaging {'on' if flip_average else 'off'}"]
    pixels = check_pixels()
    try:
        onnx_logits = onnxruntime_logits(path, pixels.astype(np.float32))
    except MissingExtra as error:
        return True, "\n".join(lines + [f"not run in onnxruntime: {error}"])
    reference = predict_logits(classifier.model, pixels, classifier.mean, classifier.std,
                               flip_average=flip_average)
    agrees, line = agreement("onnxruntime", relative_difference(onnx_logits, reference),
                             f"{CHECK_IMAGES} random images")
    return agrees, "\n".join(lines + [line])


def export_torch_file(classifier, path):
    """Write the PyTorch file; -> (agrees, what to tell the user), with the reloaded module's
    agreement."""
    from .data import normalize
    from .interop import agreement, load_torch, relative_difference, save_torch
    import torch

    meta = {"class_names": classifier.class_names, "mean": classifier.mean.tolist(),
            "std": classifier.std.tolist(), "flip_average": classifier.flip_average,
            "input": "float32 (N, 3, 64, 64), RGB, normalised: (pixels / 255 - mean) / std",
            "output": "logits (N, classes) in the order of class_names"}
    save_torch(classifier.model, path, meta=meta)
    x = normalize(check_pixels(), classifier.mean, classifier.std)
    with torch.no_grad():
        torch_logits = load_torch(path)(torch.from_numpy(x)).numpy()
    agrees, line = agreement("the reloaded module",
                             relative_difference(torch_logits, classifier.model.forward(x)),
                             f"{CHECK_IMAGES} random images, normalised input")
    return agrees, (f"wrote {path}: a state_dict, the architecture (JSON) and the meta; rebuild "
                    f"it with minicnn.interop.load_torch, or read it with torch.load(path, "
                    f"weights_only=True)\n{line}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m minicnn", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    evaluate = commands.add_parser("evaluate", help="evaluate a checkpoint on a folder of class folders")
    add_checkpoint_arguments(evaluate)
    evaluate.add_argument("--data", required=True,
                          help="a folder of class folders, e.g. DIR/test; or a dataset root "
                               "(or .zip) of split folders, with --split")
    evaluate.add_argument("--split", default=None, choices=KNOWN_SPLIT_NAMES,
                          help="the split folder of --data to score, when --data holds several")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--backend", default=command_line_backend(), choices=BACKEND_NAMES,
                          help="default: $MINICNN_BACKEND, else numba")
    evaluate.add_argument("--batch-size", type=integer(at_least=1), default=256)
    add_predict_parser(commands)
    add_export_parser(commands)
    exercises = commands.add_parser(
        "exercises", help="write the course's exercises: minicnn/functional with blanks, a "
                          "README and tests for students")
    exercises.add_argument("folder", metavar="DIR", help="a new or empty folder")
    exercises.add_argument("--force", action="store_true",
                           help="write into a folder that is not empty, overwriting the kit's "
                                "files there (a student's work in functional/ included)")
    grade = commands.add_parser(
        "grade", help="grade a student's functions, or a folder of submissions",
        description="Grade the functions of a submission on the standard sweeps of "
                    "minicnn.gradcheck, each beside minicnn's other function of its pair. "
                    "DIR is one submission (DIR/functional/*.py, or the files in DIR itself), "
                    "or a folder with one submission per subfolder. This runs the students' "
                    "code, as every autograder does, in a child process with a time limit per "
                    "function but with your rights: grade code you do not trust inside a "
                    "container or a virtual machine.")
    grade.add_argument("folder", metavar="DIR")
    grade.add_argument("--json", action="store_true",
                       help="print one JSON object: Gradescope's results.json for one "
                            "submission, {\"submissions\": [...]} for a folder")
    grade.add_argument("--csv", metavar="FILE", type=pathlib.Path,
                       help="also write a gradebook: one row per submission, each function's "
                            "points")
    grade.add_argument("--only", nargs="+", metavar="FUNCTION",
                       choices=[exercise.function for exercise in course.EXERCISES],
                       help="grade only these functions (default: all)")
    grade.add_argument("--timeout", type=number(greater_than=0), default=course.DEFAULT_TIMEOUT,
                       metavar="SECONDS",
                       help="the most a function's grading may take (default: %(default)g)")
    arguments = parser.parse_args(argv)
    if arguments.command == "export" and not (arguments.onnx or arguments.torch):
        parser.error("export needs --onnx OUT.onnx, --torch OUT.pt, or both")
    return {"evaluate": evaluate_command, "predict": predict_command, "export": export_command,
            "exercises": exercises_command, "grade": grade_command}[arguments.command](arguments)


def add_checkpoint_arguments(command, flip_average_help="average each image's logits with its "
                                                          "mirror image's"):
    """--checkpoint and --flip-average, which every command reading a checkpoint takes."""
    command.add_argument("--checkpoint", required=True, help="a .npz saved by the Trainer (best.npz)")
    command.add_argument("--flip-average", action=argparse.BooleanOptionalAction, default=None,
                         help=f"{flip_average_help} (default: as the checkpoint was trained to "
                              "predict)")


def add_predict_parser(commands):
    predict = commands.add_parser(
        "predict", help="the top classes of image files, or of every image in folders",
        description="Print the top classes of each image. PATH is an image file (JPEG, PNG, any "
                    "mode or size) or a folder, searched recursively for files with an image "
                    "extension. Exit status 1 if any input could not be read.")
    add_checkpoint_arguments(predict)
    predict.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    predict.add_argument("--top", type=integer(at_least=1), default=3, metavar="K",
                         help="how many classes to show per image (default 3; at most all of them)")
    predict.add_argument("--json", action="store_true",
                         help='print one JSON list: {"path", "top": [{"class", "probability"}]} '
                              'or {"path", "error"} per input')
    predict.add_argument("--explain", metavar="OUT_DIR",
                         help="also write per image a PNG: the photo, its guided-backprop saliency "
                              "and its occlusion map for the predicted class")
    predict.add_argument("--backend", default=command_line_backend(), choices=BACKEND_NAMES,
                         help="default: $MINICNN_BACKEND, else numba")
    predict.add_argument("--batch-size", type=integer(at_least=1), default=256,
                         help="images decoded and classified at a time")


def add_export_parser(commands):
    export = commands.add_parser(
        "export", help="write a checkpoint as an ONNX model and/or a PyTorch state_dict",
        description="ONNX: input pixels (N, 3, 64, 64) float32 RGB 0-255, normalisation inside, "
                    "output logits; needs the onnx extra. PyTorch: a state_dict, the architecture "
                    "as JSON and the meta, for minicnn.interop.load_torch; needs the torch extra.")
    add_checkpoint_arguments(export, "ONNX: average each image's logits with its mirror image's, "
                                     "inside the graph")
    export.add_argument("--onnx", metavar="OUT.onnx", help="write an ONNX model here")
    export.add_argument("--torch", metavar="OUT.pt", help="write a PyTorch file here")


if __name__ == "__main__":
    sys.exit(main())
