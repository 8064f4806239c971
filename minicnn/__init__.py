"""minicnn: a convolutional network engine written from scratch in NumPy.

    from minicnn import Sequential, functional, layers, optim, gradcheck

The packages, in the one direction their imports flow:

    functional   the maths: pure forward / backward pairs (readable NumPy, any array module)
    runtime      how the fast paths use the machine (threads, scratch buffers, allocator)
    kernels      the fast paths (Numba on the CPU, CUDA through CuPy)
    backend      which table of operations, array module, dtype and RNG a model uses
    layers       small classes around the functional pairs
    models       Sequential, checkpoints; architectures: ready-made networks
    train, evaluate, visualize, data     the main job
    __main__     the command line
"""
from . import functional, gradcheck, layers, optim
from .backend import Backend, BackendUnavailable, get_backend
from .layers import (BatchNorm2D, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool2D, MaxPool2D,
                     ReLU, Residual, SoftmaxCrossEntropy)
from .models import CheckpointError, Sequential

__version__ = "0.1.0"

__all__ = ["Sequential", "CheckpointError", "Backend", "BackendUnavailable", "get_backend",
           "functional", "layers", "optim", "gradcheck", "Conv2D", "MaxPool2D",
           "GlobalAvgPool2D", "ReLU", "Flatten", "Dense", "Dropout", "BatchNorm2D",
           "SoftmaxCrossEntropy", "Residual"]
