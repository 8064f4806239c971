"""minicnn: a convolutional network engine written from scratch in NumPy.

    from minicnn import Sequential, layers, optim, gradcheck
"""
from . import gradcheck, layers, optim
from .backend import (Backend, BackendUnavailable, default_backend, get_backend,
                      set_default_backend)
from .layers import (BatchNorm2D, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool2D, MaxPool2D,
                     ReLU, SoftmaxCrossEntropy)
from .models import CheckpointError, Sequential

__version__ = "0.1.0"

__all__ = ["Sequential", "CheckpointError", "Backend", "BackendUnavailable", "get_backend", "default_backend",
           "set_default_backend", "layers", "optim", "gradcheck", "Conv2D", "MaxPool2D",
           "GlobalAvgPool2D", "ReLU", "Flatten", "Dense", "Dropout", "BatchNorm2D",
           "SoftmaxCrossEntropy"]
