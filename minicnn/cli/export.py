"""``python -m minicnn export``: a checkpoint as an ONNX model and/or a PyTorch file, each checked.

    export --checkpoint CKPT [--onnx OUT.onnx] [--torch OUT.pt]

ONNX takes plain pixels, PyTorch normalised input (minicnn/interop/). Each file
written is run beside minicnn on random images (minicnn/interop/verify.py); a
disagreement is reported on stderr with exit status 1.
"""
import sys

from ..interop.verify import export_onnx_checked, export_torch_checked
from ..io.paths import check_outputs
from ..predict.classifier import Classifier
from .arguments import add_checkpoint_arguments
from .exits import DONE, PARTLY_DONE


def add_parser(commands):
    export = commands.add_parser(
        "export", help="write a checkpoint as an ONNX model and/or a PyTorch state_dict",
        description="ONNX: input pixels (N, 3, 64, 64) float32 RGB 0-255, normalisation inside, "
                    "output logits; needs the onnx extra. PyTorch: a state_dict, the architecture "
                    "as JSON and the meta, for minicnn.interop.load_torch; needs the torch extra.")
    add_checkpoint_arguments(export, "ONNX: average each image's logits with its mirror image's, "
                                     "inside the graph")
    export.add_argument("--onnx", metavar="OUT.onnx", help="write an ONNX model here")
    export.add_argument("--torch", metavar="OUT.pt", help="write a PyTorch file here")
    export.set_defaults(run=run)


def run(arguments):
    check_outputs([("--onnx", arguments.onnx), ("--torch", arguments.torch)],
                  inputs=[("--checkpoint", arguments.checkpoint)])
    classifier = Classifier.load(arguments.checkpoint, backend="numpy")
    reports = []   # (agrees with minicnn, what to tell the user) per file written
    if arguments.onnx:
        flip_average = (classifier.flip_average if arguments.flip_average is None
                        else arguments.flip_average)
        reports.append(export_onnx_checked(classifier, arguments.onnx, flip_average))
    if arguments.torch:
        reports.append(export_torch_checked(classifier, arguments.torch))
    for agrees, text in reports:
        print(text, file=sys.stdout if agrees else sys.stderr)
    return DONE if all(agrees for agrees, _ in reports) else PARTLY_DONE
