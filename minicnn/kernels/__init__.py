"""Fast paths: the same maths as minicnn/functional, faster. Each is tested equal to its readable twin.

The numba backend (CPU) takes its operations from ``numba_ops.py``:

    conv_numba.py       conv2d_forward / conv2d_parameter_gradients / conv2d_transpose,
                        in cache-sized chunks with one large GEMM each
    winograd_numba.py   the same three for 3x3, stride 1, padding 1 convolutions
                        (2.25 times fewer multiplications; equal up to rounding)
    direct_conv_numba.py  forward and dW of 3x3, stride-1 convolutions with at most 4
                        input channels (the stem) straight from the input rows, no im2col
    im2col_numba.py     im2col / col2im in the "side by side" layout the conv fast path multiplies with
    relu_numba.py       relu_forward / relu_backward in one pass
    pool_numba.py       maxpool_forward / unpool
    batchnorm_numba.py  batchnorm_forward / batchnorm_parameter_gradients / batchnorm_input_gradient,
                        8 passes over the tensor per training step (the cache keeps x, not x_hat)

tests/test_fastpaths.py holds each equal to minicnn/functional. The kernels are
serial Numba code that releases the GIL, compiled once and cached on disk
(``cache=True``); minicnn/runtime/ runs them on a pool of worker threads, a
chunk of the batch each.

The cupy backend (GPU) takes its operations from ``cupy_ops.py``, with the CUDA
kernels of ``cupy_kernels.py`` (im2col, col2im, max-pooling, unpooling),
tested by tests/test_cupy_kernels.py: with CuPy on a GPU, and on any machine
through a host emulation of CuPy's ElementwiseKernel (tests/cuda_host.py).

Importing this package imports nothing: each backend imports its own table.
"""
