"""``python -m minicnn predict``: the top classes of photos, files or whole folders.

    predict --checkpoint CKPT PATH... [--top K] [--json] [--explain OUT_DIR]

A folder is searched recursively (minicnn/predict/photos.py). Exit status 1 if
an input could not be read.
"""
import json
import sys

from ..io.paths import check_output_folder
from ..predict.classifier import Classifier
from ..predict.photos import format_result, predict_paths
from .exits import DONE, PARTLY_DONE
from .arguments import add_backend_argument, add_checkpoint_arguments, integer


def add_parser(commands):
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
    add_backend_argument(predict)
    predict.add_argument("--batch-size", type=integer(at_least=1), default=256,
                         help="images decoded and classified at a time")
    predict.set_defaults(run=run)


def run(arguments):
    classifier = Classifier.load(arguments.checkpoint, backend=arguments.backend)
    if arguments.explain:   # made now, so a bad checkpoint leaves no empty folder behind
        check_output_folder("--explain", arguments.explain)
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
        return PARTLY_DONE
    return DONE
