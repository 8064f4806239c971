"""Fast path for BatchNorm2D (twin of minicnn/layers/batchnorm.py).

The NumPy version makes about ten passes over the activations (mean, var with
its temporaries, subtract, scale, shift, and as many in backward), each on one
core. Here each step is one or two fused passes per channel, the worker
threads of threads.py taking a range of channels each. Sums are accumulated in
float64, so float32 statistics are at least as accurate as NumPy's.
"""
import numpy as np
from numba import njit

from .threads import run_chunks, split


# fastmath lets the reductions use SIMD lanes; the order is fixed, so results are repeatable
@njit(nogil=True, cache=True, fastmath=True)
def _statistics_kernel(x, first, last, mean, var):
    N, _, H, W = x.shape
    count = N * H * W
    for c in range(first, last):
        total = 0.0
        for n in range(N):
            for i in range(H):
                for j in range(W):
                    total += x[n, c, i, j]
        channel_mean = total / count
        squares = 0.0  # second pass around the mean: no cancellation
        for n in range(N):
            for i in range(H):
                for j in range(W):
                    deviation = x[n, c, i, j] - channel_mean
                    squares += deviation * deviation
        mean[c] = channel_mean
        var[c] = squares / count


@njit(nogil=True, cache=True)
def _normalize_kernel(x, mean, inv_std, gamma, beta, first, last, out, x_hat):
    N, _, H, W = x.shape
    for c in range(first, last):
        for n in range(N):
            for i in range(H):
                for j in range(W):
                    normalized = (x[n, c, i, j] - mean[c]) * inv_std[c]
                    x_hat[n, c, i, j] = normalized
                    out[n, c, i, j] = gamma[c] * normalized + beta[c]


@njit(nogil=True, cache=True, fastmath=True)
def _backward_kernel(dout, x_hat, gamma, inv_std, training, first, last, dx, dgamma, dbeta):
    N, _, H, W = dout.shape
    count = N * H * W
    for c in range(first, last):
        sum_dout = 0.0
        sum_dout_x_hat = 0.0
        for n in range(N):
            for i in range(H):
                for j in range(W):
                    sum_dout += dout[n, c, i, j]
                    sum_dout_x_hat += dout[n, c, i, j] * x_hat[n, c, i, j]
        dbeta[c] = sum_dout
        dgamma[c] = sum_dout_x_hat
        scale = gamma[c] * inv_std[c]
        mean_dout = sum_dout / count if training else 0.0
        mean_dout_x_hat = sum_dout_x_hat / count if training else 0.0
        for n in range(N):
            for i in range(H):
                for j in range(W):
                    dx[n, c, i, j] = scale * (dout[n, c, i, j] - mean_dout
                                              - x_hat[n, c, i, j] * mean_dout_x_hat)


def _over_channels(kernel_call, channels):
    run_chunks(lambda chunk: kernel_call(*chunk), split(channels, pieces_per_thread=2))


def batchnorm_statistics(x):
    """x: (N, C, H, W) -> per-channel mean and biased variance, (C,) each, in x's dtype."""
    x = np.ascontiguousarray(x)
    channels = x.shape[1]
    mean = np.empty(channels, dtype=np.float64)
    var = np.empty(channels, dtype=np.float64)
    _over_channels(lambda first, last: _statistics_kernel(x, first, last, mean, var), channels)
    return mean.astype(x.dtype), var.astype(x.dtype)


def batchnorm_normalize(x, mean, inv_std, gamma, beta):
    """-> (out, x_hat), both shaped like x."""
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    x_hat = np.empty_like(x)
    _over_channels(lambda first, last: _normalize_kernel(
        x, mean, inv_std, gamma, beta, first, last, out, x_hat), x.shape[1])
    return out, x_hat


def batchnorm_backward(dout, x_hat, gamma, inv_std, training):
    """-> (dx, dgamma, dbeta); the formulas are in minicnn/layers/batchnorm.py."""
    dout = np.ascontiguousarray(dout)
    x_hat = np.ascontiguousarray(x_hat)
    channels = dout.shape[1]
    dx = np.empty_like(dout)
    dgamma = np.empty(channels, dtype=np.float64)
    dbeta = np.empty(channels, dtype=np.float64)
    _over_channels(lambda first, last: _backward_kernel(
        dout, x_hat, gamma, inv_std, training, first, last, dx, dgamma, dbeta), channels)
    return dx, dgamma.astype(dout.dtype), dbeta.astype(dout.dtype)
