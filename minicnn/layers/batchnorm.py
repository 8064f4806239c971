"""BatchNorm2D: normalise each channel over (N, H, W), then scale and shift (Ioffe & Szegedy 2015).

The layer asks its backend for three steps; the functions of those names below
are the readable NumPy versions, and the numba backend swaps in
``minicnn/kernels/batchnorm_numba.py`` (one fused pass per step instead of ten).
"""
from .base import Layer


def batchnorm_statistics(x):
    """Per-channel mean and (biased) variance over (N, H, W) of x: (N, C, H, W) -> (C,), (C,)."""
    return x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))


def batchnorm_normalize(x, mean, inv_std, gamma, beta):
    """-> (out, x_hat): x_hat = (x - mean) * inv_std,  out = gamma * x_hat + beta (per channel)."""
    x_hat = (x - mean[:, None, None]) * inv_std[:, None, None]
    return gamma[:, None, None] * x_hat + beta[:, None, None], x_hat


def batchnorm_backward(dout, x_hat, gamma, inv_std, training):
    """-> (dx, dgamma, dbeta) from dout: (N, C, H, W), with M = N*H*W values per channel:

    dbeta  = sum dout          dgamma = sum dout * x_hat
    dx_hat = gamma * dout
    train: dx = inv_std / M * (M * dx_hat - sum dx_hat - x_hat * sum(dx_hat * x_hat))
    eval:  dx = inv_std * dx_hat   (mean and var are constants)
    """
    axes = (0, 2, 3)
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    dx_hat = dout * gamma[:, None, None]
    if not training:
        return dx_hat * inv_std[:, None, None], dgamma, dbeta
    m = dout.shape[0] * dout.shape[2] * dout.shape[3]
    # sum(dx_hat) = gamma * dbeta and sum(dx_hat * x_hat) = gamma * dgamma: no new passes
    sum_dx_hat = (gamma * dbeta)[:, None, None]
    sum_dx_hat_x_hat = (gamma * dgamma)[:, None, None]
    dx = (inv_std[:, None, None] / m) * (m * dx_hat - sum_dx_hat - x_hat * sum_dx_hat_x_hat)
    return dx, dgamma, dbeta


class BatchNorm2D(Layer):
    """x: (N, C, H, W) -> gamma * x_hat + beta. Params gamma, beta: (C,).

    Training uses the batch's mean and variance and updates running averages
    (buffers ``running_mean`` / ``running_var``); eval uses the running ones.
    """

    def __init__(self, num_features, momentum=0.1, eps=1e-5):
        super().__init__()
        if not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"BatchNorm2D num_features must be an integer >= 1, "
                             f"got {num_features!r}")
        self.num_features = num_features
        self.momentum = momentum
        self.eps = eps
        self.reset_parameters()

    def config(self):
        return {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps}

    def reset_parameters(self):
        xp, dtype, C = self.backend.xp, self.backend.dtype, self.num_features
        self.params = {"gamma": xp.ones(C, dtype=dtype), "beta": xp.zeros(C, dtype=dtype)}
        self.grads = {"gamma": None, "beta": None}
        self.buffers = {"running_mean": xp.zeros(C, dtype=dtype),
                        "running_var": xp.ones(C, dtype=dtype)}

    def forward(self, x):
        self.check_input(x, "(N, C, H, W)", C=self.num_features)
        xp = self.backend.xp
        if self.training:
            mean, var = self.backend.batchnorm_statistics(x)
            m = x.shape[0] * x.shape[2] * x.shape[3]
            momentum = self.momentum
            # running_var tracks the unbiased variance, as PyTorch does
            self.buffers["running_mean"] = (1 - momentum) * self.buffers["running_mean"] + momentum * mean
            self.buffers["running_var"] = ((1 - momentum) * self.buffers["running_var"]
                                           + momentum * var * (m / max(m - 1, 1)))
        else:
            mean, var = self.buffers["running_mean"], self.buffers["running_var"]
        inv_std = 1 / xp.sqrt(var + self.eps)
        out, x_hat = self.backend.batchnorm_normalize(x, mean, inv_std, self.params["gamma"],
                                                      self.params["beta"])
        # backward needs the normalised input and the per-channel 1/std
        self.cache = (x_hat, inv_std, self.training)
        return out

    def backward(self, dout):
        """dout: (N, C, H, W) -> dx; formulas in ``batchnorm_backward``."""
        x_hat, inv_std, training = self.cache
        dx, self.grads["gamma"], self.grads["beta"] = self.backend.batchnorm_backward(
            dout, x_hat, self.params["gamma"], inv_std, training)
        return dx
