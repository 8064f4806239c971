"""The layers: small classes around the pure functions of minicnn/functional.

Each layer declares in ``__init__`` what its forward caches, calls its
functional pair through ``self.ops``, and keeps the contract of base.py.

    base.py        Layer: forward, parameter_gradients, input_gradient, backward
    conv.py        Conv2D (im2col + GEMM), conv_transpose
    pool.py        MaxPool2D (switches, unpool), GlobalAvgPool2D
    relu.py        ReLU and its three backward rules
    dense.py       Dense, Flatten
    dropout.py     Dropout (inverted)
    batchnorm.py   BatchNorm2D
    loss.py        SoftmaxCrossEntropy
    container.py   Container: a layer made of layers; pass_down, the one backward walk
    residual.py    Residual: y = body(x) + shortcut(x), the fork rule
    init.py        the initial weights: He-normal, drawn from the generator a layer is given

Sequential, the container that is also a model, is in minicnn/models/.
"""
from .base import Layer, ShapeError
from .container import Container, pass_down
from .batchnorm import BatchNorm2D
from .conv import Conv2D
from .dense import Dense, Flatten
from .dropout import Dropout
from .loss import SoftmaxCrossEntropy
from .pool import GlobalAvgPool2D, MaxPool2D
from .relu import RELU_RULES, ReLU
from .residual import Residual

# every layer an architecture description (and so a checkpoint) may name
LAYER_TYPES = (Conv2D, MaxPool2D, GlobalAvgPool2D, ReLU, Flatten, Dense, Dropout, BatchNorm2D,
               SoftmaxCrossEntropy, Residual)

__all__ = ["Container", "pass_down", "LAYER_TYPES", "Layer", "ShapeError", "Conv2D", "MaxPool2D", "GlobalAvgPool2D", "ReLU", "RELU_RULES",
           "Flatten", "Dense", "Dropout", "BatchNorm2D", "SoftmaxCrossEntropy", "Residual"]
