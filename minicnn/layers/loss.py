"""SoftmaxCrossEntropy: softmax and the negative log-likelihood in one stable step.

    p = softmax(z),   L = -(1/N) sum_n log p[n, y_n],   dL/dz = (p - onehot(y)) / N

Stability: log p = (z - max z) - log sum exp(z - max z). Shifting by the max
changes nothing mathematically and keeps exp() from overflowing at 1e4.
"""
from .base import Layer, ShapeError


class SoftmaxCrossEntropy(Layer):
    """forward(logits (N, K), labels (N,) ints) -> mean loss (0-d); backward() -> dlogits (N, K)."""

    def forward(self, logits, labels):
        self.check_input(logits, "(N, K)")
        N, K = logits.shape
        if not hasattr(labels, "dtype") or labels.dtype.kind not in "iu":
            raise TypeError(f"SoftmaxCrossEntropy labels must be an integer array of shape "
                            f"(N,) = ({N},), got {getattr(labels, 'dtype', type(labels).__name__)}")
        if tuple(labels.shape) != (N,):
            raise ShapeError(f"SoftmaxCrossEntropy labels must have shape (N,) = ({N},), "
                             f"got {tuple(labels.shape)}")
        if self.backend.host_memory and N and (labels.min() < 0 or labels.max() >= K):
            raise ValueError(f"SoftmaxCrossEntropy labels must lie in [0, {K}), "
                             f"got values from {labels.min()} to {labels.max()}")
        xp = self.backend.xp
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        # backward needs the probabilities and the labels
        self.probs = xp.exp(log_probs)
        self.labels = labels
        picked = xp.take_along_axis(log_probs, labels[:, None].astype(xp.intp), axis=1)
        return -picked.mean()

    def backward(self, dout=None):
        """-> dlogits (N, K) = (p - onehot(y)) / N, times the scalar dout if given."""
        xp = self.backend.xp
        N = self.probs.shape[0]
        dlogits = self.probs.copy()
        dlogits[xp.arange(N), self.labels] -= 1
        dlogits /= N
        return dlogits if dout is None else dlogits * dout
