"""Fast path for convolutions with few input channels (the 3-channel stem): direct loops, no im2col.

Twin of ``conv2d_forward`` and ``conv2d_parameter_gradients`` in minicnn/functional/conv.py,
for 3x3 kernels, stride 1 and at most MAX_CHANNELS input channels. With C = 3,
im2col's cols have only 27 rows: the products are (F x 27) by (27 x n*P) forward and
(F x n*P) by (n*P x 27) for dW, thin GEMMs whose cost is the im2col copy (9 values per
input value) and the transposed copy of dout, not the arithmetic. Here each output row
comes straight from rows of the zero-padded input, per sample:

    forward  out[n, f, i, :] = b[f] + sum_{c, ki, kj} W[f, c, ki, kj] * xpad[n, c, i + ki, kj : kj + out_w]
    dW       dW[f, c, ki, kj] = sum_{n, i} dout[n, f, i, :] . xpad[n, c, i + ki, kj : kj + out_w]
    db       db[f] = sum_{n, i, j} dout[n, f, i, j]

(the definition of functional/conv.py's docstring, with the sum over the output's
columns j innermost: a contiguous row, which the compiler turns into SIMD lanes; the
9 taps of a 3x3 kernel are written out, so one pass over j does 9 multiply-adds per
value it stores, or, for dW, keeps 9 accumulators in registers). Per output row, dW's
sums over j are in x's dtype and are added into float64 totals. The worker threads of
minicnn/runtime/threads.py take a range of samples each; their dW shares are added in
chunk order, so the result does not depend on which thread did which chunk.
"""
import numpy as np
from numba import njit

from ..functional.im2col import conv_output_size
from ..runtime.threads import run_chunks, split, sum_in_order

# Above this many input channels the im2col GEMMs are wide enough to win.
MAX_CHANNELS = 4


def applies(x_shape, weight_shape, stride):
    """Whether this fast path computes the convolution: 3x3, stride 1, at most MAX_CHANNELS in."""
    return tuple(weight_shape[2:]) == (3, 3) and stride == 1 and x_shape[1] <= MAX_CHANNELS


@njit(nogil=True, cache=True)
def _pad_sample(x, n, padding, padded):
    """padded[c] = x[n, c] with ``padding`` zeros around (the border of padded stays zero)."""
    _, C, H, W = x.shape
    for c in range(C):
        for i in range(H):
            for j in range(W):
                padded[c, padding + i, padding + j] = x[n, c, i, j]


@njit(nogil=True, cache=True, fastmath=True)
def _forward_kernel(x, weight, bias, padding, first, last, out):
    """out[n, f, i, :] for samples [first, last): per input channel, the 9 taps in one pass over j."""
    _, C, H, W = x.shape
    F = weight.shape[0]
    _, _, OH, OW = out.shape
    padded = np.zeros((C, H + 2 * padding, W + 2 * padding), dtype=x.dtype)
    for n in range(first, last):
        _pad_sample(x, n, padding, padded)
        for f in range(F):
            for i in range(OH):
                row = out[n, f, i]
                for j in range(OW):
                    row[j] = bias[f]
                for c in range(C):
                    top, middle, bottom = padded[c, i], padded[c, i + 1], padded[c, i + 2]
                    w = weight[f, c]
                    for j in range(OW):
                        row[j] += (w[0, 0] * top[j] + w[0, 1] * top[j + 1] + w[0, 2] * top[j + 2]
                                   + w[1, 0] * middle[j] + w[1, 1] * middle[j + 1]
                                   + w[1, 2] * middle[j + 2] + w[2, 0] * bottom[j]
                                   + w[2, 1] * bottom[j + 1] + w[2, 2] * bottom[j + 2])


@njit(nogil=True, cache=True, fastmath=True)
def _gradient_kernel(x, dout, padding, zero, first, last, dW, db):
    """Adds samples [first, last)'s share into dW (F, C, 3, 3) and db (F,), float64.

    Per output row i, the 9 taps' dot products over j run in one loop with 9
    accumulators of x's dtype (``zero`` is 0 in it), added into the float64 totals.
    """
    _, C, H, W = x.shape
    _, F, OH, OW = dout.shape
    padded = np.zeros((C, H + 2 * padding, W + 2 * padding), dtype=x.dtype)
    for n in range(first, last):
        _pad_sample(x, n, padding, padded)
        for f in range(F):
            for i in range(OH):
                gradient_row = dout[n, f, i]
                bias_total = zero
                for j in range(OW):
                    bias_total += gradient_row[j]
                db[f] += bias_total
                for c in range(C):
                    top, middle, bottom = padded[c, i], padded[c, i + 1], padded[c, i + 2]
                    s00 = s01 = s02 = s10 = s11 = s12 = s20 = s21 = s22 = zero
                    for j in range(OW):
                        g = gradient_row[j]
                        s00 += g * top[j]
                        s01 += g * top[j + 1]
                        s02 += g * top[j + 2]
                        s10 += g * middle[j]
                        s11 += g * middle[j + 1]
                        s12 += g * middle[j + 2]
                        s20 += g * bottom[j]
                        s21 += g * bottom[j + 1]
                        s22 += g * bottom[j + 2]
                    total = dW[f, c]
                    total[0, 0] += s00
                    total[0, 1] += s01
                    total[0, 2] += s02
                    total[1, 0] += s10
                    total[1, 1] += s11
                    total[1, 2] += s12
                    total[2, 0] += s20
                    total[2, 1] += s21
                    total[2, 2] += s22


def forward(x, weight, bias, padding):
    """x: (N, C, H, W), weight: (F, C, kh, kw), bias: (F,) or None -> out (N, F, out_h, out_w)."""
    N, _, H, W = x.shape
    F, _, kernel_h, kernel_w = weight.shape
    out = np.empty((N, F, conv_output_size(H, kernel_h, 1, padding),
                    conv_output_size(W, kernel_w, 1, padding)), dtype=x.dtype)
    weight = np.ascontiguousarray(weight, dtype=x.dtype)
    bias = np.zeros(F, dtype=x.dtype) if bias is None else np.ascontiguousarray(bias, x.dtype)
    run_chunks(lambda chunk: _forward_kernel(x, weight, bias, padding, *chunk, out), split(N))
    return out


def parameter_gradients(dout, x, weight_shape, padding, has_bias):
    """dout: (N, F, out_h, out_w), x: (N, C, H, W) -> (dW (F, C, kh, kw), db (F,) or None)."""
    dout = np.ascontiguousarray(dout)
    F = weight_shape[0]
    zero = np.zeros(1, dtype=dout.dtype)[0]

    def chunk_share(chunk):
        dW = np.zeros(weight_shape, dtype=np.float64)
        db = np.zeros(F, dtype=np.float64)
        _gradient_kernel(x, dout, padding, zero, *chunk, dW, db)
        return dW, db

    dW, db = sum_in_order(run_chunks(chunk_share, split(x.shape[0])))
    return dW.astype(dout.dtype), db.astype(dout.dtype) if has_bias else None
