"""minicnn.interop: take a trained minicnn network to ONNX and PyTorch, and back from PyTorch.

    from minicnn.interop import export_onnx, to_torch, from_torch

    export_onnx(model, "model.onnx", mean=mean, std=std, class_names=names)   # needs onnx
    module = to_torch(model)          # a torch.nn.Sequential computing the same function
    model = from_torch(module)        # and back: the same weights, bit for bit

One module per direction, each a table from layer type to converter:

    converters.py     the walk both share: a table per target, containers recurse
    onnx_export.py    minicnn -> ONNX graph (the onnx package's helper API, no PyTorch)
    torch_bridge.py   minicnn <-> torch.nn modules; save_torch / load_torch files
    compare.py        how close two sets of logits are

onnx, onnxruntime and torch are optional extras (``pip install "minicnn[onnx,torch]"``),
so the two converter modules load on first use: ``import minicnn.interop`` needs
neither, and a missing one is a clear MissingExtra error naming the pip command.
"""
import importlib

from .compare import AGREEMENT_TOLERANCE, agreement, relative_difference
from .converters import MissingExtra, UnsupportedLayer

# name -> the module that defines it, imported on first use (it imports onnx or torch)
LAZY_NAMES = {"export_onnx": "onnx_export", "onnx_model": "onnx_export",
              "onnxruntime_logits": "onnx_export",
              "to_torch": "torch_bridge", "from_torch": "torch_bridge",
              "save_torch": "torch_bridge", "load_torch": "torch_bridge",
              "load_torch_meta": "torch_bridge"}

__all__ = ["AGREEMENT_TOLERANCE", "MissingExtra", "UnsupportedLayer", "agreement",
           "relative_difference", *LAZY_NAMES]


def __getattr__(name):
    if name not in LAZY_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{LAZY_NAMES[name]}", __name__), name)
