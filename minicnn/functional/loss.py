"""Softmax cross-entropy: softmax and the negative log-likelihood in one stable step.

    p = softmax(z),   L = -(1/N) sum_n log p[n, y_n],   dL/dz = (p - onehot(y)) / N

With soft targets q (N, K), rows summing to 1 (label smoothing, mixup, cutmix):

    L = -(1/N) sum_n sum_k q[n, k] log p[n, k],        dL/dz = (p - q) / N

(the same formula: a hard label is the one-hot q.)

Stability: log p = (z - max z) - log sum exp(z - max z). Shifting by the max
changes nothing mathematically and keeps exp() from overflowing at 1e4.
docs/layers.md, section 8, derives the gradient.
"""
from typing import NamedTuple

from .arrays import array_module


def log_softmax(logits):
    """(N, K) logits -> log-probabilities; shifting by the row maximum keeps exp() finite."""
    xp = array_module(logits)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits):
    """(N, K) logits -> probabilities (rows sum to 1)."""
    return array_module(logits).exp(log_softmax(logits))


class CrossEntropyCache(NamedTuple):
    """What ``softmax_cross_entropy_forward`` keeps for backward."""
    probs: object       # (N, K) softmax probabilities
    labels: object      # (N,) integer class indices, or (N, K) target probabilities


def softmax_cross_entropy_forward(logits, labels):
    """logits: (N, K), labels: (N,) ints in [0, K) or (N, K) target probabilities
    -> (mean loss (0-d array), cache)."""
    xp = array_module(logits)
    log_probs = log_softmax(logits)
    if labels.ndim == 2:
        loss = -(labels * log_probs).sum(axis=1).mean()
    else:
        loss = -xp.take_along_axis(log_probs, labels[:, None].astype(xp.intp), axis=1).mean()
    return loss, CrossEntropyCache(xp.exp(log_probs), labels)


def softmax_cross_entropy_backward(dout, cache):
    """dout: the scalar upstream gradient (1 for the loss itself) -> dlogits: (N, K) = dout * (p - q) / N."""
    xp = array_module(cache.probs)
    N = cache.probs.shape[0]
    if cache.labels.ndim == 2:
        dlogits = cache.probs - cache.labels
    else:
        dlogits = cache.probs.copy()
        dlogits[xp.arange(N), cache.labels] -= 1     # q is one-hot: subtract 1 at the label
    dlogits /= N
    dlogits *= dout
    return dlogits
