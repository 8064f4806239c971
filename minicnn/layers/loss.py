"""SoftmaxCrossEntropy: the loss layer around minicnn/functional/loss.py.

    p = softmax(z),   L = -(1/N) sum_n sum_k q[n, k] log p[n, k],   dL/dz = (p - q) / N

q is the one-hot of the labels, or the target probabilities given instead.
"""
from .base import Layer, ShapeError


class SoftmaxCrossEntropy(Layer):
    """forward(logits (N, K), labels) -> mean loss (0-d); backward() -> dlogits (N, K).

    labels: (N,) integer classes, or (N, K) target probabilities (soft targets:
    label smoothing, mixup and cutmix; see minicnn/data/targets.py).
    """

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
        kind = getattr(getattr(labels, "dtype", None), "kind", None)
        soft = kind == "f" and len(labels.shape) == 2
        if not soft and kind not in ("i", "u"):
            got = (f"{labels.dtype} of shape {tuple(labels.shape)}" if kind else
                   type(labels).__name__)
            raise TypeError(f"SoftmaxCrossEntropy labels must be an integer array of shape (N,) "
                            f"= ({N},), or target probabilities of shape (N, K) = ({N}, {K}); "
                            f"got {got}")
        expected = f"(N, K) = ({N}, {K})" if soft else f"(N,) = ({N},)"
        if tuple(labels.shape) != ((N, K) if soft else (N,)):
            raise ShapeError(f"SoftmaxCrossEntropy {'target probabilities' if soft else 'labels'} "
                             f"must have shape {expected}, got {tuple(labels.shape)}")
        # on a device, reading the labels' range would wait for the GPU
        on_host = self.backend is None or self.backend.host_memory
        if not soft and on_host and N and (labels.min() < 0 or labels.max() >= K):
            raise ValueError(f"SoftmaxCrossEntropy labels must lie in [0, {K}), "
                             f"got values from {labels.min()} to {labels.max()}")
        loss, self.cache = self.ops.softmax_cross_entropy_forward(logits, labels)
        return loss

    def input_gradient(self, dout=1.0):
        """-> dlogits (N, K) = dout * (p - q) / N."""
        return self.ops.softmax_cross_entropy_backward(dout, self.cache)

    def backward(self, dout=1.0):
        """A loss starts the backward walk: its dout is d loss / d loss = 1."""
        return super().backward(dout)
