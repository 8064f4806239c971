"""Writing a checkpoint to another tool, and checking right away that the file computes the same.

    agrees, text = export_onnx_checked(classifier, "ahe.onnx", flip_average=True)
    agrees, text = export_torch_checked(classifier, "ahe.pt")

Each file is run on CHECK_IMAGES seeded random images beside minicnn (in
onnxruntime, and as the reloaded PyTorch module); the verdict is ``agreement``'s
(compare.py): a largest-logit difference over 1e-4 of the largest logit disagrees.
onnx, onnxruntime and torch load on first use, as everywhere in minicnn.interop.
"""
import os

import numpy as np

from ..data import normalize
from ..evaluate import predict_logits
from ..predict.classifier import IMAGE_SIZE
from .compare import agreement, relative_difference
from .converters import MissingExtra, require

# random pixels on which an exported file is checked against minicnn itself
CHECK_IMAGES = 8


def check_pixels():
    """CHECK_IMAGES seeded random uint8 images (N, 3, 64, 64)."""
    return np.random.default_rng(0).integers(0, 256, (CHECK_IMAGES, 3, IMAGE_SIZE, IMAGE_SIZE),
                                             dtype=np.uint8)


def export_onnx_checked(classifier, path, flip_average):
    """Write the ONNX file; -> (agrees, what to tell the user), with onnxruntime's agreement
    when it is installed."""
    from .onnx_export import export_onnx, onnxruntime_logits

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


def export_torch_checked(classifier, path):
    """Write the PyTorch file; -> (agrees, what to tell the user), with the reloaded module's
    agreement."""
    torch = require("torch", "torch", "export --torch")
    from .torch_bridge import load_torch, save_torch

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
