"""Fast path for batch normalisation (twin of minicnn/functional/batchnorm.py).

The NumPy version makes about ten passes over the activations (mean, var with
its temporaries, subtract, scale, shift, and as many in backward), each on one
core. Here each step is one or two fused passes per channel, the worker
threads of minicnn/runtime/threads.py taking a range of channels each. Sums are accumulated in
float64, so float32 statistics are at least as accurate as NumPy's.
"""
import numpy as np
from numba import njit

from ..functional.batchnorm import BatchNormCache
from ..runtime.threads import run_chunks, split


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
def _channel_sums(dout, x_hat, c):
    """(sum dout, sum dout * x_hat) over (N, H, W) of channel c, in float64."""
    N, _, H, W = dout.shape
    sum_dout = 0.0
    sum_dout_x_hat = 0.0
    for n in range(N):
        for i in range(H):
            for j in range(W):
                sum_dout += dout[n, c, i, j]
                sum_dout_x_hat += dout[n, c, i, j] * x_hat[n, c, i, j]
    return sum_dout, sum_dout_x_hat


@njit(nogil=True, cache=True, fastmath=True)
def _parameter_gradients_kernel(dout, x_hat, first, last, dgamma, dbeta):
    for c in range(first, last):
        dbeta[c], dgamma[c] = _channel_sums(dout, x_hat, c)


@njit(nogil=True, cache=True, fastmath=True)
def _input_gradient_kernel(dout, x_hat, gamma, inv_std, training, first, last, dx):
    N, _, H, W = dout.shape
    count = N * H * W
    for c in range(first, last):
        mean_dout, mean_dout_x_hat = 0.0, 0.0   # eval: the statistics are constants
        if training:
            sum_dout, sum_dout_x_hat = _channel_sums(dout, x_hat, c)
            mean_dout, mean_dout_x_hat = sum_dout / count, sum_dout_x_hat / count
        scale = gamma[c] * inv_std[c]
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


def batchnorm_forward(x, gamma, beta, eps=1e-5, mean=None, var=None):
    """x: (N, C, H, W) -> (out, cache); training mode when mean and var are None."""
    x = np.ascontiguousarray(x)
    training = mean is None
    if training:
        mean, var = batchnorm_statistics(x)
    inv_std = 1 / np.sqrt(var + eps)
    out = np.empty_like(x)
    x_hat = np.empty_like(x)
    _over_channels(lambda first, last: _normalize_kernel(
        x, mean, inv_std, gamma, beta, first, last, out, x_hat), x.shape[1])
    return out, BatchNormCache(x_hat, inv_std, gamma, training, mean, var)


def batchnorm_parameter_gradients(dout, cache):
    """dout: (N, C, H, W) -> (dgamma, dbeta), each (C,), in one pass."""
    dout = np.ascontiguousarray(dout)
    channels = dout.shape[1]
    dgamma = np.empty(channels, dtype=np.float64)
    dbeta = np.empty(channels, dtype=np.float64)
    _over_channels(lambda first, last: _parameter_gradients_kernel(
        dout, cache.x_hat, first, last, dgamma, dbeta), channels)
    return dgamma.astype(dout.dtype), dbeta.astype(dout.dtype)


def batchnorm_input_gradient(dout, cache):
    """dout: (N, C, H, W) -> dx, in two passes in training (the sums, then dx), one in eval."""
    dout = np.ascontiguousarray(dout)
    dx = np.empty_like(dout)
    _over_channels(lambda first, last: _input_gradient_kernel(
        dout, cache.x_hat, cache.gamma, cache.inv_std, cache.training, first, last, dx),
        dout.shape[1])
    return dx
