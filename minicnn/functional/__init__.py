"""The maths of every layer, as pure functions: forward and backward side by side.

Each operation is a pair, in the style of CS231n's layers.py:

    out, cache = <op>_forward(x, *params, **settings)
    dx, *dparams = <op>_backward(dout, cache)

No state and no backend object: the array module follows the arrays
(``arrays.array_module``), so the same functions run on NumPy and on CuPy
arrays. One file per operation, forward and backward together:

    im2col.py     im2col / col2im: convolution as one matrix multiply
    conv.py       conv2d_forward / conv2d_backward, and conv2d_naive, the definition as loops
    pool.py       maxpool_forward / maxpool_backward (switches, unpool),
                  global_avg_pool_forward / global_avg_pool_backward
    relu.py       relu_forward / relu_backward, and the deconvnet and guided rules
    dense.py      dense_forward / dense_backward, flatten_forward / flatten_backward
    dropout.py    dropout_forward / dropout_backward
    batchnorm.py  batchnorm_forward / batchnorm_backward
    loss.py       softmax_cross_entropy_forward / softmax_cross_entropy_backward, log_softmax, softmax
    winograd.py   winograd_conv3x3_forward, _weight_gradient, _transpose: 3x3 convolutions with
                  2.25 times fewer multiplications (the readable twin of the numba fast path)

A layer with parameters splits its backward into the two halves that
``Layer.backward`` runs one after the other: ``*_parameter_gradients(dout,
cache)`` (dW, db, ...) and the input gradient (``*_input_gradient``,
``conv2d_transpose``, ``unpool``).

This package is also the numpy backend's *table of operations*: the layers
call ``self.ops.<name>`` for every name in OPERATIONS, and each backend
provides all of them, the numba backend from minicnn/backend/numba_ops.py and
the cupy backend from minicnn/backend/cupy_ops.py (tests/test_backend.py holds
the signatures equal).
"""
from .batchnorm import (batchnorm_backward, batchnorm_forward, batchnorm_input_gradient,
                        batchnorm_parameter_gradients, batchnorm_statistics)
from .conv import (conv2d_backward, conv2d_forward, conv2d_naive, conv2d_parameter_gradients,
                   conv2d_transpose)
from .dense import (dense_backward, dense_forward, dense_input_gradient,
                    dense_parameter_gradients, flatten_backward, flatten_forward)
from .dropout import dropout_backward, dropout_forward
from .im2col import col2im, conv_output_size, im2col
from .loss import (log_softmax, softmax, softmax_cross_entropy_backward,
                   softmax_cross_entropy_forward)
from .pool import (global_avg_pool_backward, global_avg_pool_forward, maxpool_backward,
                   maxpool_forward, pool_output_size, unpool)
from .relu import relu_backward, relu_deconvnet, relu_forward, relu_guided
from .winograd import (winograd_applies, winograd_conv3x3_forward, winograd_conv3x3_transpose,
                       winograd_conv3x3_weight_gradient)

# What a backend's table provides: every function a layer calls.
OPERATIONS = (
    "conv2d_forward", "conv2d_parameter_gradients", "conv2d_transpose",
    "maxpool_forward", "unpool",
    "global_avg_pool_forward", "global_avg_pool_backward",
    "relu_forward", "relu_backward", "relu_deconvnet", "relu_guided",
    "dense_forward", "dense_parameter_gradients", "dense_input_gradient",
    "flatten_forward", "flatten_backward",
    "dropout_forward", "dropout_backward",
    "batchnorm_forward", "batchnorm_parameter_gradients", "batchnorm_input_gradient",
    "softmax_cross_entropy_forward", "softmax_cross_entropy_backward",
)

__all__ = list(OPERATIONS) + [
    "OPERATIONS", "conv2d_backward", "conv2d_naive", "maxpool_backward", "dense_backward",
    "batchnorm_backward", "batchnorm_statistics", "im2col", "col2im", "conv_output_size",
    "pool_output_size", "log_softmax", "softmax", "winograd_applies", "winograd_conv3x3_forward",
    "winograd_conv3x3_weight_gradient", "winograd_conv3x3_transpose"]
