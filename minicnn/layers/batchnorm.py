"""BatchNorm2D: normalise each channel over (N, H, W), then scale and shift (Ioffe & Szegedy 2015)."""
from .base import Layer


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
            mean = x.mean(axis=(0, 2, 3))
            var = x.var(axis=(0, 2, 3))
            m = x.shape[0] * x.shape[2] * x.shape[3]
            momentum = self.momentum
            # running_var tracks the unbiased variance, as PyTorch does
            self.buffers["running_mean"] = (1 - momentum) * self.buffers["running_mean"] + momentum * mean
            self.buffers["running_var"] = ((1 - momentum) * self.buffers["running_var"]
                                           + momentum * var * (m / max(m - 1, 1)))
        else:
            mean, var = self.buffers["running_mean"], self.buffers["running_var"]
        inv_std = 1 / xp.sqrt(var + self.eps)
        x_hat = (x - mean[:, None, None]) * inv_std[:, None, None]
        # backward needs the normalised input and the per-channel 1/std
        self.cache = (x_hat, inv_std, self.training)
        return self.params["gamma"][:, None, None] * x_hat + self.params["beta"][:, None, None]

    def backward(self, dout):
        """dout: (N, C, H, W) -> dx, with M = N*H*W values per channel:

        dbeta  = sum dout          dgamma = sum dout * x_hat
        dx_hat = gamma * dout
        train: dx = inv_std / M * (M * dx_hat - sum dx_hat - x_hat * sum(dx_hat * x_hat))
        eval:  dx = inv_std * dx_hat   (mean and var are constants)
        """
        x_hat, inv_std, training = self.cache
        axes = (0, 2, 3)
        self.grads["beta"] = dout.sum(axis=axes)
        self.grads["gamma"] = (dout * x_hat).sum(axis=axes)
        dx_hat = dout * self.params["gamma"][:, None, None]
        if not training:
            return dx_hat * inv_std[:, None, None]
        m = dout.shape[0] * dout.shape[2] * dout.shape[3]
        sum_dx_hat = dx_hat.sum(axis=axes)[:, None, None]
        sum_dx_hat_x_hat = (dx_hat * x_hat).sum(axis=axes)[:, None, None]
        return (inv_std[:, None, None] / m) * (m * dx_hat - sum_dx_hat - x_hat * sum_dx_hat_x_hat)
