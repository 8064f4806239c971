"""Softmax cross-entropy: softmax and the negative log-likelihood in one stable step.

    p = softmax(z),   L = -(1/N) sum_n log p[n, y_n],   dL/dz = (p - onehot(y)) / N

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
    labels: object      # (N,) integer class indices


def softmax_cross_entropy_forward(logits, labels):
    """logits: (N, K), labels: (N,) ints in [0, K) -> (mean loss (0-d array), cache)."""
    xp = array_module(logits)
    log_probs = log_softmax(logits)
    picked = xp.take_along_axis(log_probs, labels[:, None].astype(xp.intp), axis=1)
    return -picked.mean(), CrossEntropyCache(xp.exp(log_probs), labels)


def softmax_cross_entropy_backward(dout, cache):
    """dout: the scalar upstream gradient (1 for the loss itself) -> dlogits: (N, K) = dout * (p - onehot(y)) / N."""
    xp = array_module(cache.probs)
    N = cache.probs.shape[0]
    dlogits = cache.probs.copy()
    dlogits[xp.arange(N), cache.labels] -= 1
    dlogits /= N
    dlogits *= dout
    return dlogits
