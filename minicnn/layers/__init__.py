"""The layers. Each module holds one concept and its backward pass:

    conv.py         Conv2D (im2col + GEMM), conv2d_naive, conv_transpose
    im2col.py       im2col / col2im, the readable versions
    pool.py         MaxPool2D (switches, unpool), GlobalAvgPool2D
    activations.py  ReLU and its three backward rules
    dense.py        Dense, Flatten
    dropout.py      Dropout (inverted)
    batchnorm.py    BatchNorm2D
    loss.py         SoftmaxCrossEntropy
"""
from .activations import RELU_RULES, ReLU
from .base import Layer, ShapeError
from .batchnorm import BatchNorm2D
from .conv import Conv2D, conv2d_naive
from .dense import Dense, Flatten
from .dropout import Dropout
from .loss import SoftmaxCrossEntropy
from .pool import GlobalAvgPool2D, MaxPool2D

__all__ = ["Layer", "ShapeError", "Conv2D", "conv2d_naive", "MaxPool2D", "GlobalAvgPool2D",
           "ReLU", "RELU_RULES", "Flatten", "Dense", "Dropout", "BatchNorm2D",
           "SoftmaxCrossEntropy"]
