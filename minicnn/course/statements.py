"""The exercise statements a skeleton shows at ``--hints none``: what to compute, never how.

At the default hint level a skeleton file keeps minicnn's code around the
exercises (the cache classes, the GIVEN helpers), but its module docstring and
each exercise's docstring are replaced by the statements below. A statement
gives the shapes, the names of the quantities (the cache's fields, the
gradients' names and order) and the name of the formula to use, never the
formula itself: that is the exercise. Each file's statement says where the
derivation is (docs/layers.md of minicnn, by section).

At ``--hints formula`` the skeleton keeps minicnn's own docstrings, which
state each formula (dx = dout * mask, (p - q) / N, BatchNorm's closed form).

A file or an exercise without a statement stops the generator (see
minicnn.course.exercises.skeleton_source).
"""

# where the derivations are, in minicnn's repository
DERIVATIONS = {
    "im2col.py": "docs/layers.md, section 1 (im2col; col2im, the adjoint)",
    "conv.py": "docs/layers.md, section 2 (Conv2D: forward, backward, the transposed "
               "convolution)",
    "pool.py": "docs/layers.md, section 3 (MaxPool2D, its switches; GlobalAvgPool2D)",
    "relu.py": "docs/layers.md, section 4 (ReLU)",
    "dense.py": "docs/layers.md, section 5 (Dense and Flatten)",
    "dropout.py": "docs/layers.md, section 6 (inverted dropout)",
    "batchnorm.py": "docs/layers.md, section 7 (BatchNorm2D: forward, backward)",
    "loss.py": "docs/layers.md, section 8 (SoftmaxCrossEntropy: stability, gradient, soft "
               "targets)",
}

MODULES = {
    "im2col.py": """im2col and col2im: turn convolution into one matrix multiply.

    x: (N, C, H, W)  --im2col-->  cols: (N, C*kh*kw, out_h*out_w)

Column p of sample n holds the C*kh*kw input values under the kernel when it
sits at output position p (channel-major, then kernel row, then kernel column).
col2im is the adjoint of im2col: the linear map that its transpose is.
""",
    "conv.py": """2-D convolution (really cross-correlation, as in every DL library) via im2col
and one matrix multiply.

    forward    out (N, F, out_h, out_w) from x (N, C, H, W), W (F, C, kh, kw), b (F,) or None,
               through cols = im2col(x) and W_rows = W.reshape(F, C*kh*kw)
    backward   dW (F, C, kh, kw), db (F,) or None, and dx (N, C, H, W): the transposed
               convolution of dout (col2im does the scattering)
""",
    "pool.py": """Pooling: max-pooling with its argmax *switches*, and global average pooling.

Max-pool forward records, for every output, which element of its window won:
the switch, an index 0 .. k*k-1 (row-major within the window). Its backward
routes the upstream gradient through the switches.
Global average pooling takes the mean of each feature map.
""",
    "relu.py": """ReLU: the rectified linear unit, forward and backward.

    forward    out (any shape) from x, and the cache: the boolean mask of x > 0
    backward   dx from dout and the mask (at exactly 0 we take the subgradient 0)
""",
    "dense.py": """Dense (fully connected) and Flatten.

    forward    out (N, M) from x (N, D), W (D, M), b (M,)
    backward   dx (N, D), dW (D, M), db (M,) from dout (N, M)

Flatten keeps the batch axis and joins the others; its backward undoes it.
""",
    "dropout.py": """Inverted dropout: zero each activation with probability p in training and
scale the survivors so that the expected output equals the input.

    forward    out from x, p and keep (a bool array of x's shape, drawn by the caller);
               the cache is the scaled mask
    backward   dx from dout and that mask

The functions are pure: the caller draws ``keep``, so the same keep gives the
same output, and a gradient check can hold the mask still.
""",
    "batchnorm.py": """Batch normalisation over (N, H, W) per channel (Ioffe & Szegedy 2015).

    forward    x_hat (N, C, H, W), the input normalised by the per-channel mean and
               var (eps added to var), then out = the affine map of x_hat by gamma, beta (C,)

In training, mean and var are the batch's own statistics (they depend on x);
in eval mode they are given, fixed running averages (constants).

    backward   dx (N, C, H, W), dgamma (C,), dbeta (C,); in training dx is the
               closed form of the input gradient through the batch statistics, in eval
               the gradient with mean and var held constant
""",
    "loss.py": """Softmax cross-entropy: softmax and the negative log-likelihood in one stable step.

    forward    the mean over the batch of -log p[n, label] for logits (N, K) and labels (N,),
               or of the cross-entropy against soft targets q (N, K), rows summing to 1
               (label smoothing, mixup, cutmix); p = softmax(logits)
    backward   dlogits (N, K), scaled by the upstream dout (a scalar)

Stability: compute log p with ``log_softmax`` (given below), which shifts the
logits by their row maximum so that exp() cannot overflow.
""",
}

FUNCTIONS = {
    "im2col": "x: (N, C, H, W) -> cols: (N, C*kernel_h*kernel_w, out_h*out_w).",
    "col2im": "The adjoint of im2col: cols (N, C*kh*kw, out_h*out_w) -> (N, C, H, W).",
    "conv2d_forward": "x: (N, C, H, W), weight: (F, C, kh, kw), bias: (F,) or None -> (out, "
                      "cache).\n\nout: (N, F, out_h, out_w). ``unfold`` is the im2col to use "
                      "(the cupy backend passes its CUDA kernel).",
    "conv2d_backward": "dout: (N, F, out_h, out_w) -> (dx (N, C, H, W), dW (F, C, kh, kw), db "
                       "(F,) or None).\n\nThe parameter gradients, then the input gradient (the "
                       "transposed convolution).",
    "maxpool_forward": "x: (N, C, H, W) -> (out (N, C, out_h, out_w), cache); stride defaults "
                       "to kernel_size.\n\nThe cache's switches: the winning offset of each "
                       "window; ties go to the first offset in row-major order.",
    "maxpool_backward": "dout: (N, C, out_h, out_w) -> dx: (N, C, H, W).",
    "global_avg_pool_forward": "x: (N, C, H, W) -> (out (N, C), cache): the mean of each "
                               "feature map; cache is x's shape.",
    "global_avg_pool_backward": "dout: (N, C) -> dx: (N, C, H, W).",
    "relu_forward": "x: any shape -> (out, cache): the cache is mask = (x > 0), a bool array.",
    "relu_backward": "dout: the shape of x -> dx: the shape of x.",
    "dense_forward": "x: (N, D), weight: (D, M), bias: (M,) -> (out (N, M), cache).",
    "dense_backward": "dout: (N, M) -> (dx (N, D), dW (D, M), db (M,)).",
    "flatten_forward": "x: (N, ...) -> (out (N, prod(...)), cache): the cache is x's shape.",
    "flatten_backward": "dout: (N, D) -> dx: the input's shape again.",
    "dropout_forward": "x: any shape, p: the drop probability, keep: bool array of x's shape "
                       "-> (out, cache).\n\nThe cache is the scaled mask.",
    "dropout_backward": "dout: the shape of x -> dx: the shape of x.",
    "batchnorm_forward": "x: (N, C, H, W), gamma, beta: (C,) -> (out (N, C, H, W), cache).\n\n"
                         "Training mode when ``mean`` and ``var`` are None (the batch's "
                         "statistics are used, biased variance); eval mode when they are given "
                         "(running averages). The cache's mean and var are the statistics used.",
    "batchnorm_backward": "dout: (N, C, H, W) -> (dx (N, C, H, W), dgamma (C,), dbeta (C,)).",
    "softmax_cross_entropy_forward": "logits: (N, K), labels: (N,) ints in [0, K) or (N, K) "
                                     "target probabilities\n-> (mean loss (0-d array), cache).",
    "softmax_cross_entropy_backward": "dout: the scalar upstream gradient (1 for the loss "
                                      "itself) -> dlogits: (N, K).",
}
