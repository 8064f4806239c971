"""Fast paths, used by the ``numba`` backend (and, in cupy_kernels.py, by the ``cupy`` backend).

Each one computes exactly what its readable NumPy twin computes, and
tests/test_kernels.py and tests/test_fastpaths.py hold them equal:

    conv_numba.conv2d_forward / conv2d_parameter_gradients / conv2d_transpose
                                            twins of minicnn/layers/conv.py
    winograd_numba.forward / weight_gradient / transpose
                                            the same three for 3x3, stride 1,
                                            padding 1 (fewer multiplications;
                                            equal up to rounding)
    im2col_numba.im2col_side_by_side / col2im_side_by_side
                                            twins of minicnn/layers/im2col.py, in the
                                            layout the conv fast path multiplies with
    activation_numba.relu_forward / relu_backward
                                            twins of minicnn/layers/activations.py
    pool_numba.maxpool_forward / maxpool_backward
                                            twins of minicnn/layers/pool.py
    batchnorm_numba.batchnorm_statistics / batchnorm_normalize / batchnorm_backward
                                            twins of minicnn/layers/batchnorm.py

The kernels are serial Numba code that releases the GIL, compiled once and
cached on disk (``cache=True``); ``threads.py`` runs them on a pool of worker
threads, a chunk of the batch each. ``allocator.py`` keeps freed large arrays
for reuse. ``scratch.py`` gives each worker thread reusable buffers.
cupy_kernels.py (CUDA, imported only by the cupy backend) is tested by
tests/test_cupy_kernels.py: with CuPy on a GPU, and on any machine through a host
emulation of CuPy's ElementwiseKernel (tests/cuda_host.py).
"""
from . import allocator, threads
from .activation_numba import relu_backward, relu_forward
from .batchnorm_numba import batchnorm_backward, batchnorm_normalize, batchnorm_statistics
from .conv_numba import conv2d_forward, conv2d_parameter_gradients, conv2d_transpose
from .im2col_numba import col2im_side_by_side, im2col_side_by_side
from .pool_numba import maxpool_backward, maxpool_forward

__all__ = ["conv2d_forward", "conv2d_parameter_gradients", "conv2d_transpose",
           "im2col_side_by_side", "col2im_side_by_side", "relu_forward", "relu_backward",
           "maxpool_forward", "maxpool_backward", "batchnorm_statistics", "batchnorm_normalize",
           "batchnorm_backward"]
