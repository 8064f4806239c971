"""Batch normalisation over (N, H, W) per channel (Ioffe & Szegedy 2015).

    forward    x_hat = (x - mean) / sqrt(var + eps)          (N, C, H, W)
               out   = gamma * x_hat + beta                   gamma, beta: (C,)

In training, mean and var are the batch's own statistics (they depend on x);
in eval mode they are fixed running averages (constants). With M = N*H*W
values per channel and dx_hat = gamma * dout:

    backward   dbeta  = sum dout                              (C,)
               dgamma = sum dout * x_hat                      (C,)
    train:     dx = inv_std / M * (M * dx_hat - sum dx_hat - x_hat * sum(dx_hat * x_hat))
    eval:      dx = inv_std * dx_hat

docs/layers.md, section 7, derives them. The numba backend's fast paths are in
minicnn/kernels/batchnorm_numba.py (one or two fused passes per step).
"""
from typing import NamedTuple

from .arrays import array_module


class BatchNormCache(NamedTuple):
    """What ``batchnorm_forward`` keeps for backward (and the statistics it used)."""
    x_hat: object       # (N, C, H, W), the normalised input
    inv_std: object     # (C,), 1 / sqrt(var + eps)
    gamma: object       # (C,)
    training: bool      # batch statistics (functions of x) or fixed ones
    mean: object        # (C,), the statistics used: the layer's running
    var: object         # averages are updated from the batch ones


def batchnorm_statistics(x):
    """Per-channel mean and (biased) variance over (N, H, W) of x: (N, C, H, W) -> (C,), (C,)."""
    return x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))


def batchnorm_forward(x, gamma, beta, eps=1e-5, mean=None, var=None):
    """x: (N, C, H, W), gamma, beta: (C,) -> (out (N, C, H, W), cache).

    Training mode when ``mean`` and ``var`` are None (the batch's statistics are
    used); eval mode when they are given (running averages).
    """
    xp = array_module(x)
    training = mean is None
    if training:
        mean, var = batchnorm_statistics(x)
    inv_std = 1 / xp.sqrt(var + eps)
    x_hat = (x - mean[:, None, None]) * inv_std[:, None, None]
    out = gamma[:, None, None] * x_hat + beta[:, None, None]
    return out, BatchNormCache(x_hat, inv_std, gamma, training, mean, var)


def batchnorm_backward(dout, cache):
    """dout: (N, C, H, W) -> (dx (N, C, H, W), dgamma (C,), dbeta (C,))."""
    dgamma, dbeta = batchnorm_parameter_gradients(dout, cache)
    return batchnorm_input_gradient(dout, cache), dgamma, dbeta


def batchnorm_parameter_gradients(dout, cache):
    """dout: (N, C, H, W) -> (dgamma = sum dout * x_hat, dbeta = sum dout), each (C,)."""
    axes = (0, 2, 3)
    return (dout * cache.x_hat).sum(axis=axes), dout.sum(axis=axes)


def batchnorm_input_gradient(dout, cache):
    """dout: (N, C, H, W) -> dx: (N, C, H, W), the train or eval formula of the module docstring."""
    gamma, inv_std, x_hat = cache.gamma[:, None, None], cache.inv_std[:, None, None], cache.x_hat
    dx_hat = dout * gamma
    if not cache.training:
        return dx_hat * inv_std
    m = dout.shape[0] * dout.shape[2] * dout.shape[3]
    axes = (0, 2, 3)
    sum_dx_hat = dx_hat.sum(axis=axes)[:, None, None]
    sum_dx_hat_x_hat = (dx_hat * x_hat).sum(axis=axes)[:, None, None]
    return (inv_std / m) * (m * dx_hat - sum_dx_hat - x_hat * sum_dx_hat_x_hat)
