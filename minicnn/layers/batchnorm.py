"""BatchNorm2D: the layer around minicnn/functional/batchnorm.py (Ioffe & Szegedy 2015)."""
from .init import constant
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
        self.cache = None       # BatchNormCache: x_hat, inv_std, ... (the fast path's keeps x)
        self.reset_parameters()

    def config(self):
        return {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps}

    def reset_parameters(self, rng=None):
        """gamma = 1, beta = 0, and fresh running statistics (mean 0, variance 1); nothing is random."""
        C = self.num_features
        self.params = self.place({"gamma": constant(C, 1.0), "beta": constant(C, 0.0)})
        self.grads = {"gamma": None, "beta": None}
        self.buffers = self.place({"running_mean": constant(C, 0.0), "running_var": constant(C, 1.0)})

    def forward(self, x):
        self.check_input(x, "(N, C, H, W)", C=self.num_features)
        gamma, beta = self.params["gamma"], self.params["beta"]
        if not self.training:
            out, self.cache = self.ops.batchnorm_forward(
                x, gamma, beta, self.eps, self.buffers["running_mean"], self.buffers["running_var"])
            return out
        out, self.cache = self.ops.batchnorm_forward(x, gamma, beta, self.eps)
        m = x.shape[0] * x.shape[2] * x.shape[3]
        momentum = self.momentum
        # running_var tracks the unbiased variance, as PyTorch does
        self.buffers["running_mean"] = ((1 - momentum) * self.buffers["running_mean"]
                                        + momentum * self.cache.mean)
        self.buffers["running_var"] = ((1 - momentum) * self.buffers["running_var"]
                                       + momentum * self.cache.var * (m / max(m - 1, 1)))
        return out

    def parameter_gradients(self, dout):
        """dgamma = sum dout * x_hat, dbeta = sum dout (over N, H, W)."""
        self.grads["gamma"], self.grads["beta"] = self.ops.batchnorm_parameter_gradients(
            dout, self.cache)

    def input_gradient(self, dout):
        """dout: (N, C, H, W) -> dx; the train and eval formulas are in functional/batchnorm.py."""
        return self.ops.batchnorm_input_gradient(dout, self.cache)
