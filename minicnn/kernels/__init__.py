"""Fast paths: Numba kernels for the hot loops, used by the ``numba`` backend.

Each kernel computes exactly what its readable NumPy twin computes, and
tests/test_kernels.py holds them equal:

    im2col_numba.im2col / col2im            twin of minicnn/layers/im2col.py
    pool_numba.maxpool_forward / _backward  twin of minicnn/layers/pool.py

The kernels loop over samples in parallel (``prange``) and are compiled once,
then cached on disk (``cache=True``).
"""
from .im2col_numba import col2im, im2col
from .pool_numba import maxpool_backward, maxpool_forward

__all__ = ["im2col", "col2im", "maxpool_forward", "maxpool_backward"]
