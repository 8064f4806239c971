"""Inverted dropout: zero each activation with probability p in training and scale the
survivors by 1/(1-p), so the expected output equals the input; identity in eval.

    forward    out = x * mask,   mask = keep / (1 - p),   keep ~ Bernoulli(1 - p)
    backward   dx = dout * mask                            (mask is exactly d out / d x)

The functions are pure: the caller draws ``keep`` (the Dropout layer takes
``uniform >= p`` from its backend's random stream), so the same keep gives the
same output, and a gradient check can hold the mask still.
"""


def dropout_forward(x, p, keep):
    """x: any shape, p: the drop probability, keep: bool array of x's shape -> (out, cache).

    The cache is the scaled mask keep / (1 - p).
    """
    mask = keep.astype(x.dtype) / x.dtype.type(1.0 - p)
    return x * mask, mask


def dropout_backward(dout, cache):
    """dx = dout * mask."""
    return dout * cache
