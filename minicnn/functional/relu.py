"""ReLU, and the three ways a backward walk can pass a signal R back through it.

    forward    out = max(x, 0) = x * mask,   mask = 1[x > 0]
    gradient   R_in = 1[x > 0] * R              the true gradient (saliency, Simonyan 2013)
    deconvnet  R_in = 1[R > 0] * R              rectify the signal (Zeiler & Fergus 2014)
    guided     R_in = 1[x > 0] * 1[R > 0] * R   both (Springenberg et al. 2014)

x is the forward input, R the signal coming down from above. The numba
backend's fast path is minicnn/kernels/relu_numba.py (one pass instead of two).
"""


def relu_forward(x):
    """x: any shape -> (out, cache): out = x * mask, and the cache is mask = (x > 0), a bool array."""
    mask = x > 0
    return x * mask, mask


def relu_backward(dout, cache):
    """dx = dout * mask (at exactly 0 we take the subgradient 0)."""
    return dout * cache


def relu_deconvnet(signal):
    """The deconvnet rule: R_in = 1[R > 0] * R, the forward mask ignored."""
    return signal * (signal > 0)


def relu_guided(signal, cache):
    """Guided backpropagation: R_in = 1[x > 0] * 1[R > 0] * R (cache: the forward's mask)."""
    return signal * (cache & (signal > 0))
