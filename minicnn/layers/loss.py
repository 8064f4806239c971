"""SoftmaxCrossEntropy: the loss layer around minicnn/functional/loss.py.

    p = softmax(z),   L = -(1/N) sum_n log p[n, y_n],   dL/dz = (p - onehot(y)) / N
"""
from .base import Layer, ShapeError


class SoftmaxCrossEntropy(Layer):
    """forward(logits (N, K), labels (N,) ints) -> mean loss (0-d); backward() -> dlogits (N, K)."""

    def __init__(self):
        super().__init__()
        self.cache = None       # functional.loss.CrossEntropyCache: probs, labels

    @property
    def probs(self):
        """(N, K) softmax probabilities of the last forward."""
        return self.cache.probs

    def forward(self, logits, labels):
        self.check_input(logits, "(N, K)")
        N, K = logits.shape
        if not hasattr(labels, "dtype") or labels.dtype.kind not in "iu":
            raise TypeError(f"SoftmaxCrossEntropy labels must be an integer array of shape "
                            f"(N,) = ({N},), got {getattr(labels, 'dtype', type(labels).__name__)}")
        if tuple(labels.shape) != (N,):
            raise ShapeError(f"SoftmaxCrossEntropy labels must have shape (N,) = ({N},), "
                             f"got {tuple(labels.shape)}")
        # on a device, reading the labels' range would wait for the GPU
        on_host = self.backend is None or self.backend.host_memory
        if on_host and N and (labels.min() < 0 or labels.max() >= K):
            raise ValueError(f"SoftmaxCrossEntropy labels must lie in [0, {K}), "
                             f"got values from {labels.min()} to {labels.max()}")
        loss, self.cache = self.ops.softmax_cross_entropy_forward(logits, labels)
        return loss

    def input_gradient(self, dout=1.0):
        """-> dlogits (N, K) = dout * (p - onehot(y)) / N."""
        return self.ops.softmax_cross_entropy_backward(dout, self.cache)

    def backward(self, dout=1.0):
        """A loss starts the backward walk: its dout is d loss / d loss = 1."""
        return super().backward(dout)
