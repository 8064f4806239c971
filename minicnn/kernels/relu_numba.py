"""Fast path for ReLU (twin of ``relu_forward`` / ``relu_backward`` in minicnn/functional/relu.py).

NumPy needs two passes over the activations for the forward (``x > 0``, then
``x * mask``) and runs each on one core. Here one pass reads x once and
writes both the output and the mask, and the worker threads of minicnn/runtime/threads.py
each take a slice. The arithmetic is the same multiply by the mask, so NaN
and -0.0 come out exactly as in NumPy.
"""
import numpy as np
from numba import njit

from ..runtime.threads import run_chunks, split


@njit(nogil=True, cache=True)
def _relu_forward_kernel(x, out, mask):
    for index in range(x.size):
        on = x[index] > 0
        mask[index] = on
        out[index] = x[index] * on


@njit(nogil=True, cache=True)
def _relu_backward_kernel(dout, mask, dx):
    for index in range(dout.size):
        dx[index] = dout[index] * mask[index]


def relu_forward(x):
    """x: any shape -> (out, cache): out = x * mask, and the cache is mask = (x > 0)."""
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    mask = np.empty(x.shape, dtype=np.bool_)
    flat_x, flat_out, flat_mask = x.reshape(-1), out.reshape(-1), mask.reshape(-1)

    def forward_slice(chunk):
        start, stop = chunk
        _relu_forward_kernel(flat_x[start:stop], flat_out[start:stop], flat_mask[start:stop])

    run_chunks(forward_slice, split(x.size))
    return out, mask


def relu_backward(dout, cache):
    """dx = dout * mask (the cache is the forward's mask)."""
    flat_dout = np.ascontiguousarray(dout).reshape(-1)
    flat_mask = np.ascontiguousarray(cache).reshape(-1)
    dx = np.empty(dout.shape, dtype=dout.dtype)
    flat_dx = dx.reshape(-1)

    def backward_slice(chunk):
        start, stop = chunk
        _relu_backward_kernel(flat_dout[start:stop], flat_mask[start:stop], flat_dx[start:stop])

    run_chunks(backward_slice, split(dout.size))
    return dx
