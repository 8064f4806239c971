"""Fast path for batch normalisation (twin of minicnn/functional/batchnorm.py).

The NumPy version makes about ten passes over the activations (mean, var with
its temporaries, subtract, scale, shift, and as many in backward), each on one
core. Here a training step reads or writes an (N, C, H, W) tensor 8 times:

    forward    1 read of x for both statistics (shifted sums, in float64), then
               1 read of x and 1 write of out = (x - mean) * (gamma * inv_std) + beta
    backward   parameter_gradients: 1 read each of dout and x for both sums;
               input_gradient reuses those sums: 1 read each of dout and x, 1 write of dx

The cache keeps x itself instead of x_hat: backward recomputes x_hat = (x - mean) * inv_std
as it reads x, so forward writes one tensor fewer and holds the same memory (x_hat was
a tensor of x's size). The worker threads of minicnn/runtime/threads.py take a range
of channels each; sums are accumulated in float64, so float32 statistics are at
least as accurate as NumPy's.
"""
import numpy as np
from numba import njit

from ..runtime.threads import run_chunks, split


class NumbaBatchNormCache:
    """What the fast forward keeps for backward: BatchNormCache's fields, with x for x_hat.

    x : (N, C, H, W)       the input (x_hat is (x - mean) * inv_std, recomputed where read)
    inv_std, gamma, mean, var : (C,) in x's dtype;  training : bool
    sums : (sum dout, sum dout * x_hat), (C,) float64 each, from parameter_gradients,
           for input_gradient to reuse when it is given the same dout (``sums_of``)
    """

    def __init__(self, x, inv_std, gamma, training, mean, var):
        self.x = x
        self.inv_std = inv_std
        self.gamma = gamma
        self.training = training
        self.mean = mean
        self.var = var
        self.sums = None
        self.sums_of = None

    @property
    def x_hat(self):
        """The normalised input, as the readable cache holds it (for tests and readers)."""
        return (self.x - self.mean[:, None, None]) * self.inv_std[:, None, None]


# fastmath lets the reductions use SIMD lanes; the order is fixed, so results are repeatable
@njit(nogil=True, cache=True, fastmath=True)
def _statistics_kernel(x, first, last, mean, var):
    """mean and biased var of channels [first, last) in one read of x: sums of d = x - shift,
    with shift one value of the channel, so that var = E[d^2] - E[d]^2 does not cancel."""
    N, _, P = x.shape
    count = N * P
    for c in range(first, last):
        shift = np.float64(x[0, c, 0])
        total = 0.0
        squares = 0.0
        for n in range(N):
            for p in range(P):
                deviation = x[n, c, p] - shift
                total += deviation
                squares += deviation * deviation
        mean_deviation = total / count
        mean[c] = shift + mean_deviation
        var[c] = max(squares / count - mean_deviation * mean_deviation, 0.0)


@njit(nogil=True, cache=True, fastmath=True)
def _normalize_kernel(x, mean, scale, beta, first, last, out):
    """out = (x - mean) * scale + beta per channel, scale = gamma * inv_std."""
    N, _, P = x.shape
    for c in range(first, last):
        for n in range(N):
            for p in range(P):
                out[n, c, p] = (x[n, c, p] - mean[c]) * scale[c] + beta[c]


@njit(nogil=True, cache=True, fastmath=True)
def _gradient_sums_kernel(dout, x, mean, inv_std, first, last, sum_dout, sum_dout_x_hat):
    """sum dout and sum dout * x_hat = inv_std * sum dout * (x - mean), over (N, H, W)."""
    N, _, P = dout.shape
    for c in range(first, last):
        plain = 0.0
        centred = 0.0
        channel_mean = mean[c]
        for n in range(N):
            for p in range(P):
                plain += dout[n, c, p]
                centred += dout[n, c, p] * (x[n, c, p] - channel_mean)
        sum_dout[c] = plain
        sum_dout_x_hat[c] = centred * inv_std[c]


@njit(nogil=True, cache=True, fastmath=True)
def _input_gradient_kernel(dout, x, mean, coefficient_dout, coefficient_x, constant, first, last,
                           dx):
    """dx = a * dout + b * (x - mean) + c per channel: the module formula, x_hat written out."""
    N, _, P = dout.shape
    for c in range(first, last):
        for n in range(N):
            for p in range(P):
                dx[n, c, p] = (coefficient_dout[c] * dout[n, c, p]
                               + coefficient_x[c] * (x[n, c, p] - mean[c]) + constant[c])


def _over_channels(kernel_call, channels):
    run_chunks(lambda chunk: kernel_call(*chunk), split(channels, pieces_per_thread=2))


def _planes(array):
    """(N, C, H, W) -> the (N, C, H * W) view the kernels loop over (one plain inner loop)."""
    N, C, H, W = array.shape
    return np.ascontiguousarray(array).reshape(N, C, H * W)


def batchnorm_statistics(x):
    """x: (N, C, H, W) -> per-channel mean and biased variance, (C,) each, in x's dtype."""
    planes = _planes(x)
    channels = x.shape[1]
    mean = np.empty(channels, dtype=np.float64)
    var = np.empty(channels, dtype=np.float64)
    _over_channels(lambda first, last: _statistics_kernel(planes, first, last, mean, var),
                   channels)
    return mean.astype(x.dtype), var.astype(x.dtype)


def batchnorm_forward(x, gamma, beta, eps=1e-5, mean=None, var=None):
    """x: (N, C, H, W) -> (out, NumbaBatchNormCache); training mode when mean and var are None."""
    x = np.ascontiguousarray(x)
    training = mean is None
    if training:
        mean, var = batchnorm_statistics(x)
    inv_std = 1 / np.sqrt(var + eps)
    scale = (gamma * inv_std).astype(x.dtype)
    out = np.empty_like(x)
    x_planes, out_planes = _planes(x), _planes(out)
    _over_channels(lambda first, last: _normalize_kernel(
        x_planes, mean, scale, beta, first, last, out_planes), x.shape[1])
    return out, NumbaBatchNormCache(x, inv_std, gamma, training, mean, var)


def _gradient_sums(dout, cache):
    """(sum dout, sum dout * x_hat), (C,) float64 each, kept in the cache for ``dout``."""
    if cache.sums_of is not dout:
        planes, x = _planes(dout), _planes(cache.x)
        channels = planes.shape[1]
        sum_dout = np.empty(channels, dtype=np.float64)
        sum_dout_x_hat = np.empty(channels, dtype=np.float64)
        _over_channels(lambda first, last: _gradient_sums_kernel(
            planes, x, cache.mean, cache.inv_std, first, last, sum_dout, sum_dout_x_hat),
            channels)
        cache.sums, cache.sums_of = (sum_dout, sum_dout_x_hat), dout
    return cache.sums


def batchnorm_parameter_gradients(dout, cache):
    """dout: (N, C, H, W) -> (dgamma = sum dout * x_hat, dbeta = sum dout), (C,) each, one pass."""
    sum_dout, sum_dout_x_hat = _gradient_sums(dout, cache)
    return sum_dout_x_hat.astype(dout.dtype), sum_dout.astype(dout.dtype)


def batchnorm_input_gradient(dout, cache):
    """dout: (N, C, H, W) -> dx, in one pass (the sums of parameter_gradients reused).

    train: dx = gamma * inv_std * (dout - mean(dout) - x_hat * mean(dout * x_hat)),
    the module formula of functional/batchnorm.py divided through by M; with
    x_hat = (x - mean) * inv_std it is a * dout + b * (x - mean) + c per channel:
    a = gamma * inv_std, b = -a * inv_std * mean(dout * x_hat), c = -a * mean(dout).
    eval: dx = gamma * inv_std * dout (b = c = 0).
    """
    x = cache.x
    N, C, H, W = x.shape
    scale = cache.gamma.astype(np.float64) * cache.inv_std
    coefficient_x = np.zeros(C)
    constant = np.zeros(C)
    if cache.training:
        sum_dout, sum_dout_x_hat = _gradient_sums(dout, cache)
        count = N * H * W
        coefficient_x = -scale * cache.inv_std * (sum_dout_x_hat / count)
        constant = -scale * (sum_dout / count)
    dtype = x.dtype
    scale, coefficient_x, constant = (array.astype(dtype) for array in
                                      (scale, coefficient_x, constant))
    dx = np.empty(x.shape, dtype=dout.dtype)
    dout_planes, x_planes, dx_planes = _planes(dout), _planes(x), _planes(dx)
    _over_channels(lambda first, last: _input_gradient_kernel(
        dout_planes, x_planes, cache.mean, scale, coefficient_x, constant, first, last,
        dx_planes), C)
    return dx
