"""Pooling: max-pooling with its argmax *switches*, and global average pooling.

Max-pool forward records, for every output, which element of its window won:
the switch, an index 0 .. k*k-1 (row-major within the window). Backward routes
each upstream gradient to its switch and nowhere else (``unpool``). A
deconvnet uses the very same switches to *unpool* (Zeiler & Fergus 2014,
section 2.1). docs/layers.md, section 3, derives both.

The numba backend's fast paths are in minicnn/kernels/pool_numba.py, the cupy
backend's in minicnn/kernels/cupy_kernels.py.
"""
from typing import NamedTuple

from .arrays import array_module


def pool_output_size(size, kernel_size, stride):
    """Output length along one axis (no padding): floor((size - kernel_size) / stride) + 1."""
    return (size - kernel_size) // stride + 1


class MaxPoolCache(NamedTuple):
    """What ``maxpool_forward`` keeps for backward."""
    switches: object    # (N, C, out_h, out_w) uint8: the winning offset i*k + j of each window
    x_shape: tuple      # (N, C, H, W)
    kernel_size: int
    stride: int


def maxpool_forward(x, kernel_size=2, stride=None):
    """x: (N, C, H, W) -> (out (N, C, out_h, out_w), cache); stride defaults to kernel_size.

    Stacks the k*k window offsets as strided slices, then takes the max and the
    argmax over them; ties go to the first offset in row-major order.
    """
    xp = array_module(x)
    stride = kernel_size if stride is None else stride
    N, C, H, W = x.shape
    k, s = kernel_size, stride
    out_h, out_w = pool_output_size(H, k, s), pool_output_size(W, k, s)
    windows = xp.empty((k * k, N, C, out_h, out_w), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            windows[i * k + j] = x[:, :, i:i + s * out_h:s, j:j + s * out_w:s]
    switches = windows.argmax(axis=0).astype(xp.uint8)
    return windows.max(axis=0), MaxPoolCache(switches, tuple(x.shape), k, s)


def maxpool_backward(dout, cache):
    """dout: (N, C, out_h, out_w) -> dx: (N, C, H, W): dout at the switches, 0 elsewhere."""
    return unpool(dout, cache.switches, cache.x_shape, cache.kernel_size, cache.stride)


def unpool(y, switches, x_shape, kernel_size, stride):
    """Place each value of y (N, C, out_h, out_w) at its switch -> (N, C, H, W).

    The input gradient of max-pooling, and the *unpooling* of a deconvnet.
    With overlapping windows (stride < k) one input can win several windows;
    ``+=`` per offset adds them all up.
    """
    xp = array_module(y)
    _, _, out_h, out_w = y.shape
    k, s = kernel_size, stride
    dx = xp.zeros(x_shape, dtype=y.dtype)
    for i in range(k):
        for j in range(k):
            routed = xp.where(switches == i * k + j, y, 0)
            dx[:, :, i:i + s * out_h:s, j:j + s * out_w:s] += routed
    return dx


def global_avg_pool_forward(x):
    """x: (N, C, H, W) -> (out (N, C), cache): the mean of each feature map; cache is x's shape."""
    return x.mean(axis=(2, 3)), tuple(x.shape)


def global_avg_pool_backward(dout, cache):
    """dout: (N, C) -> dx: (N, C, H, W) = dout / (H*W) at every position (each one weighs 1/(H*W))."""
    xp = array_module(dout)
    N, C, H, W = cache
    return xp.broadcast_to(dout[:, :, None, None] / (H * W), cache).copy()
