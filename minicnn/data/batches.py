"""iterate_batches: which samples go into each mini-batch of an epoch.

Stochastic gradient descent wants every epoch to visit every training sample
once, in a new random order: a fixed order lets the model pick up on the
order itself, and consecutive epochs would repeat the same batches. So each
call draws a fresh permutation from the Generator it is given (one call per
epoch) and cuts it into batches. The same seeded Generator gives the same
sequence of epochs, which makes runs reproducible.

The batches are index arrays, not data: ``images[indices]`` picks the samples,
and the same indices pick their labels, so images and labels stay paired.
"""
import numpy as np


def iterate_batches(num_samples, batch_size, rng=None, shuffle=True, drop_last=False):
    """An iterator of (B,) int64 index arrays that together cover range(num_samples) once.

    rng        a ``numpy.random.Generator``; required when shuffle is True
    shuffle    False keeps the order 0, 1, 2, ... (for evaluation)
    drop_last  skip a final batch smaller than batch_size, e.g. for BatchNorm,
               whose statistics are noisy on a handful of samples
    """
    if num_samples < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    if shuffle and rng is None:
        raise ValueError("shuffle=True needs rng, a numpy.random.Generator (e.g. "
                         "np.random.default_rng(seed)), so the order is reproducible; "
                         "pass shuffle=False for a fixed order")
    order = rng.permutation(num_samples) if shuffle else np.arange(num_samples)
    order = order.astype(np.int64, copy=False)
    stop = num_samples - num_samples % batch_size if drop_last else num_samples
    # a generator expression rather than `yield`, so the checks above run at the
    # call, not at the first next()
    return (order[start:start + batch_size] for start in range(0, stop, batch_size))
