"""A student's functional module, as coursework hands it in, with the classic bugs one switch away.

The pairs have the signatures of minicnn.functional: ``<op>_forward(...) ->
(out, cache)`` and ``<op>_backward(dout, cache)``. ``bug=None`` is the correct
version; any other value (see BUGS) turns on one classic mistake, marked
``# BUG`` where it happens. The forward stores the switch in its cache, so the
backward sees it too. test_gradcheck_catalogue.py checks that the gradient
checker catches each bug and names the tensor it breaks.

These are the tests' own stand-ins, not a second implementation of the
library: the forwards reuse minicnn.functional's where it exists.
"""
import numpy as np

from minicnn.functional import batchnorm_forward as reference_batchnorm
from minicnn.functional import conv2d_forward as im2col_conv2d
from minicnn.functional import maxpool_forward as switch_maxpool

# the "random forward" bug draws from here (a generator of the tests', not a global seed)
_student_rng = np.random.default_rng(7)


def conv2d_forward(x, weight, bias, stride=1, padding=0, bug=None):
    """x: (N, C, H, W), weight: (F, C, k, k), bias: (F,) or None -> out: (N, F, out_h, out_w)."""
    if bug == "forward without the bias":
        out, _ = im2col_conv2d(x, weight, None, stride, padding)   # BUG: bias never added
    else:
        out, _ = im2col_conv2d(x, weight, bias, stride, padding)
    cache = {"x": x, "weight": weight, "has_bias": bias is not None, "stride": stride,
             "padding": padding, "bug": bug}
    return out, cache


def conv2d_backward(dout, cache):
    """dout: (N, F, out_h, out_w) -> (dx, dweight, dbias), one kernel tap (i, j) at a time:

    dx_pad[:, :, window(i, j)] += W[:, :, i, j]^T dout    (windows overlap: +=)
    dW[:, :, i, j] = sum_{n, p} dout x_pad[:, :, window(i, j)],   db = sum_{n, p} dout
    """
    x, weight, stride, padding, bug = (cache[key] for key in
                                       ("x", "weight", "stride", "padding", "bug"))
    kernel = weight.shape[2]
    out_h, out_w = dout.shape[2:]
    pad = ((0, 0), (0, 0), (padding, padding), (padding, padding))
    x_padded = np.pad(x, pad)
    dx_padded = np.zeros_like(x_padded)
    dweight = np.empty_like(weight)
    for i in range(kernel):
        for j in range(kernel):
            window = (slice(None), slice(None), slice(i, i + stride * out_h, stride),
                      slice(j, j + stride * out_w, stride))
            tap = weight[:, :, i, j]
            if bug == "missing kernel flip":
                # BUG: dx as the full convolution of dout with W, not with W rotated by 180
                # degrees: tap (i, j) meets W[k-1-i, k-1-j]
                tap = weight[:, :, kernel - 1 - i, kernel - 1 - j]
            contribution = np.einsum("nfhw,fc->nchw", dout, tap)
            if bug == "col2im overwrite":
                dx_padded[window] = contribution   # BUG: where windows overlap, the last one wins
            else:
                dx_padded[window] += contribution
            dweight[:, :, i, j] = np.einsum("nfhw,nchw->fc", dout, x_padded[window])
    dx = dx_padded[:, :, padding:padding + x.shape[2], padding:padding + x.shape[3]]
    if bug == "dx left as the TODO stub":
        dx = np.zeros_like(x)                      # BUG: the exercise's placeholder is returned
    if not cache["has_bias"]:
        return dx, dweight, None
    dbias = dout.sum(axis=(0, 2, 3))
    if bug == "forward without the bias":
        dbias = np.zeros_like(dbias)               # consistent with that forward
    elif bug == "bias gradient of the first sample only":
        dbias = dout[0].sum(axis=(1, 2))           # BUG: forgot to sum over the batch
    return dx, dweight, dbias


def maxpool_forward(x, kernel_size=2, stride=None, bug=None):
    """x: (N, C, H, W) -> out: (N, C, out_h, out_w); stride defaults to kernel_size."""
    stride = kernel_size if stride is None else stride
    out, reference_cache = switch_maxpool(x, kernel_size, stride)
    switches = reference_cache.switches
    return out, {"x_shape": x.shape, "switches": switches, "kernel_size": kernel_size,
                 "stride": stride, "bug": bug}


def maxpool_backward(dout, cache):
    """dout: (N, C, out_h, out_w) -> dx: each entry goes to its window's maximum, summed where
    windows overlap."""
    switches, kernel, stride, bug = (cache[key] for key in
                                     ("switches", "kernel_size", "stride", "bug"))
    out_h, out_w = dout.shape[2:]
    dx = np.zeros(cache["x_shape"])
    for i in range(kernel):
        for j in range(kernel):
            window = (slice(None), slice(None), slice(i, i + stride * out_h, stride),
                      slice(j, j + stride * out_w, stride))
            routed = np.where(switches == i * kernel + j, dout, 0.0)
            if bug == "max-pool routes to the whole window":
                routed = dout                      # BUG: every pixel of the window gets dout
            if bug == "max-pool overwrite":
                dx[window] = routed                # BUG: a pixel that wins two windows keeps one
            else:
                dx[window] += routed
    return dx


def relu_forward(x, bug=None):
    """x: any shape -> out = max(x, 0)."""
    if bug == "forward overwrites its input":
        x[x < 0] = 0                               # BUG: the caller's array changes
        out = x
    else:
        out = np.maximum(x, 0)
    return out, {"x": x, "out": out, "bug": bug}


def relu_backward(dout, cache):
    """dx = dout where x > 0, else 0."""
    if cache["bug"] == "relu backward uses the output's sign":
        return dout * (cache["out"] >= 0)          # BUG: out is never negative: no mask at all
    if cache["bug"] == "relu backward without the mask":
        return dout.copy()                         # BUG
    return dout * (cache["x"] > 0)


def dense_forward(x, weight, bias, bug=None):
    """x: (N, D_in), weight: (D_in, D_out), bias: (D_out,) -> out = x @ weight + bias."""
    return x @ weight + bias, {"x": x, "weight": weight, "bug": bug}


def dense_backward(dout, cache):
    """dx = dout W^T,  dW = x^T dout,  db = sum_n dout."""
    x, weight, bug = cache["x"], cache["weight"], cache["bug"]
    if bug == "dout /= N in place":
        dout /= x.shape[0]                         # BUG: a mean that does not belong, in place
    dx = dout @ weight if bug == "transposed W" else dout @ weight.T   # BUG: W, not W^T
    dweight = dout.T @ x if bug == "transposed dW" else x.T @ dout     # BUG: (x^T dout)^T
    if bug == "NaN in dW":
        partial = x.T @ dout
        dweight = np.full_like(weight, np.nan)     # what np.empty may hold
        dweight[:, :-1] = partial[:, :-1]          # BUG: the last column is never written
    dbias = dout.mean(axis=0) if bug == "bias gradient as a mean" else dout.sum(axis=0)
    return dx, dweight, dbias


def dropout_forward(x, p, keep, bug=None):
    """x: any shape; p: the drop probability; keep: boolean mask -> out = x * keep / (1 - p)."""
    if bug == "dropout draws its own mask":
        keep = _student_rng.random(x.shape) >= p   # BUG: a new mask on every call
    mask = keep / (1 - p)
    return x * mask, {"keep": keep, "mask": mask, "bug": bug}


def dropout_backward(dout, cache):
    """dx = dout * keep / (1 - p)."""
    if cache["bug"] == "dropout backward without 1/(1-p)":
        return dout * cache["keep"]                # BUG
    return dout * cache["mask"]


def batchnorm_forward(x, gamma, beta, eps=1e-5, mean=None, var=None, bug=None):
    """x: (N, C, H, W), gamma, beta: (C,) -> out = gamma * x_hat + beta, x_hat = (x - mean) / std.

    mean, var None: training, the batch's statistics over (N, H, W); else eval, those constants.
    """
    out, reference = reference_batchnorm(x, gamma, beta, eps, mean, var)
    return out, {"x": x, "x_hat": reference.x_hat, "gamma": gamma, "inv_std": reference.inv_std,
                 "training": reference.training, "bug": bug}


def batchnorm_backward(dout, cache):
    """-> (dx, dgamma, dbeta); means over the M = N*H*W values of each channel:

    dbeta = sum dout,  dgamma = sum dout * x_hat,  dx_hat = gamma * dout
    train: dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat))
    eval:  dx = inv_std * dx_hat
    """
    x_hat, bug = cache["x_hat"], cache["bug"]
    gamma = cache["gamma"][None, :, None, None]
    inv_std = cache["inv_std"][None, :, None, None]
    axes = (0, 2, 3)
    dbeta = dout.sum(axis=axes)
    if bug == "dx_hat computed in place in dout":
        dx_hat = dout
        dx_hat *= gamma                            # BUG: dout is now gamma * dout ...
    else:
        dx_hat = dout * gamma
    normalized = cache["x"] if bug == "dgamma from x" else x_hat   # BUG: x, not x_hat
    dgamma = (dout * normalized).sum(axis=axes)    # ... and dgamma reads the changed dout
    if not cache["training"] or bug == "batchnorm eval formula in training":
        return inv_std * dx_hat, dgamma, dbeta     # BUG (in training): mean and var move with x

    def mean(values):
        if bug == "batchnorm mean over N only":
            return values.sum(axis=axes, keepdims=True) / values.shape[0]   # BUG: M is N*H*W
        return values.mean(axis=axes, keepdims=True)

    variance_term = x_hat * mean(dx_hat * x_hat)
    if bug == "batchnorm without the variance term":
        variance_term = 0                          # BUG
    return inv_std * (dx_hat - mean(dx_hat) - variance_term), dgamma, dbeta


def global_avg_pool_forward(x, bug=None):
    """x: (N, C, H, W) -> out: (N, C), the mean of each feature map."""
    return x.mean(axis=(2, 3)), {"x_shape": x.shape, "bug": bug}


def global_avg_pool_backward(dout, cache):
    """dout: (N, C) -> dx: (N, C, H, W) = dout / (H*W) at every position."""
    height, width = cache["x_shape"][2:]
    share = dout[:, :, None, None] / (height * width)
    if cache["bug"] == "average pool without 1/(H*W)":
        share = dout[:, :, None, None]             # BUG
    return np.broadcast_to(share, cache["x_shape"]).copy()


def softmax_cross_entropy_forward(logits, labels, bug=None):
    """logits: (N, K), labels: (N,) ints -> loss = -mean_n log softmax(logits)[n, labels[n]]."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(len(labels)), labels].mean()
    return loss, {"probs": np.exp(log_probs), "labels": labels, "bug": bug}


def softmax_cross_entropy_backward(dout, cache):
    """dout: the scalar upstream gradient -> dlogits: (N, K) = dout * (p - onehot(labels)) / N."""
    probs, labels, bug = cache["probs"], cache["labels"], cache["bug"]
    batch = len(labels)
    dlogits = probs.copy()
    dlogits[np.arange(batch), labels] -= 1
    scale = dout / batch
    if bug == "softmax without 1/N":
        scale = dout                               # BUG: the loss is a mean over N
    elif bug == "softmax ignores dout":
        scale = 1 / batch                          # BUG: right only when dout is 1
    elif bug == "softmax gradient sign flipped":
        scale = -scale                             # BUG: onehot - p
    return dlogits * scale
