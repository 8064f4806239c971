"""The cupy backend's table of operations: every name of minicnn.functional.OPERATIONS.

CUDA kernels (minicnn/kernels/cupy_kernels.py) for the convolution's im2col / col2im and for
max-pooling; everything else is the readable function, run by CuPy on the GPU
(the array module follows the arrays).
"""
from ..functional import OPERATIONS
from ..functional.batchnorm import (batchnorm_forward, batchnorm_input_gradient,
                                    batchnorm_parameter_gradients)
from ..functional.dense import (dense_forward, dense_input_gradient, dense_parameter_gradients,
                                flatten_backward, flatten_forward)
from ..functional.dropout import dropout_backward, dropout_forward
from ..functional.loss import softmax_cross_entropy_backward, softmax_cross_entropy_forward
from ..functional.pool import global_avg_pool_backward, global_avg_pool_forward
from ..functional.relu import relu_backward, relu_deconvnet, relu_forward, relu_guided
from ..kernels.cupy_kernels import (conv2d_forward, conv2d_parameter_gradients, conv2d_transpose,
                           maxpool_forward, unpool)

__all__ = list(OPERATIONS)
