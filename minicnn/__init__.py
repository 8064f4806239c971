"""minicnn: a convolutional network engine written from scratch in NumPy.

    from minicnn import Sequential, functional, layers, optim, gradcheck

The packages, in the one direction their imports flow (each imports only the
ones above it):

    functional   the maths: pure forward / backward pairs (readable NumPy, any array module)
    limits       the valid range of every training hyperparameter
    runtime      how the fast paths use the machine (threads, scratch buffers, allocator)
    kernels      the fast paths (Numba on the CPU, CUDA through CuPy)
    backend      the backends and their tables of operations
    layers       small classes around the functional pairs; Residual; init
    optim        update rules, optimizers, learning-rate schedules
    gradcheck    numerical gradient checks
    io           atomic writes; the checkpoint file
    models       Sequential (a model, and a layer); ready-made architectures
    data         from image folders to batches
    evaluate     predictions and metrics
    visualize    deconvnet, saliency, occlusion, class images: the maths of seeing inside
    figures      every figure (matplotlib)
    train        train_step, and the Trainer around it
    predict      a checkpoint as a classifier, asked about photos
    interop      ONNX and PyTorch
    course       the coursework kit
    cli          the command line, one module per command (python -m minicnn)
"""
from . import functional, gradcheck, layers, optim
from .backend import Backend, BackendUnavailable, get_backend
from .io.checkpoint_checks import CheckpointError
from .layers import (BatchNorm2D, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool2D, MaxPool2D,
                     ReLU, Residual, SoftmaxCrossEntropy)
from .models import Sequential

__version__ = "0.1.0"

__all__ = ["Sequential", "CheckpointError", "Backend", "BackendUnavailable", "get_backend",
           "functional", "layers", "optim", "gradcheck", "Conv2D", "MaxPool2D",
           "GlobalAvgPool2D", "ReLU", "Flatten", "Dense", "Dropout", "BatchNorm2D",
           "SoftmaxCrossEntropy", "Residual"]
