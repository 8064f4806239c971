"""The numba backend's table of operations: every name of minicnn.functional.OPERATIONS.

A Numba fast path where one pays, each tested equal to its readable twin in
tests/test_fastpaths.py; the readable function itself where it does not (a
Dense product is already one BLAS call, a Flatten a reshape).
"""
from ..functional import OPERATIONS
from ..functional.dense import (dense_forward, dense_input_gradient, dense_parameter_gradients,
                                flatten_backward, flatten_forward)
from ..functional.dropout import dropout_backward, dropout_forward
from ..functional.loss import softmax_cross_entropy_backward, softmax_cross_entropy_forward
from ..functional.pool import global_avg_pool_backward, global_avg_pool_forward
from ..functional.relu import relu_deconvnet, relu_guided
from ..kernels.batchnorm_numba import (batchnorm_forward, batchnorm_input_gradient,
                              batchnorm_parameter_gradients)
from ..kernels.conv_numba import conv2d_forward, conv2d_parameter_gradients, conv2d_transpose
from ..kernels.pool_numba import maxpool_forward, unpool
from ..kernels.relu_numba import relu_backward, relu_forward

__all__ = list(OPERATIONS)
