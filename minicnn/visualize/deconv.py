"""Deconvnet projections, gradient saliency, guided backprop: one backward walk, three ReLU rules.

Zeiler & Fergus 2014 ("Visualizing and Understanding Convolutional Networks",
section 2.1) attach a *deconvnet* to every layer of a trained network. To see
what one activation responds to:

    1. run the image forward and record, in every max-pool, which input won each
       window (the *switches*);
    2. zero every other activation of that layer: the seed is one value (or one map);
    3. walk back down to the pixels, layer by layer:
           unpool   put each value at its recorded switch, zeros elsewhere
           rectify  R <- max(R, 0)
           filter   the transposed filters (the conv's input-gradient path, no bias)

The walk is backpropagation except at the ReLUs. Writing f for a ReLU's forward
input and R for the signal coming down from above, the three classic methods
differ in one line:

    gradient   R_in = 1[f > 0] * R             saliency: d S / d x     (Simonyan et al. 2013)
    deconvnet  R_in = 1[R > 0] * R             the forward mask is ignored   (Zeiler & Fergus 2014)
    guided     R_in = 1[f > 0] * 1[R > 0] * R  both                    (Springenberg et al. 2014)

(``ReLU.backward_rule`` implements them.) Every other layer passes the signal
through its own ``input_gradient``, the adjoint of its forward pass (for the
layers with parameters, of its linear part, so no bias is added):

    MaxPool2D        unpool through the recorded switches
    Conv2D           transposed filters, no bias (``Conv2D.conv_transpose``)
    Residual         the signal splits: each branch walks it down (its ReLUs with the
                     rule), and what the two pass below adds up
    BatchNorm2D      eval mode is the affine map gamma * (x - mean) / std + beta,
                     so R_in = R * gamma / std
    GlobalAvgPool2D  R / (H * W) at every position
    Dense            R @ W^T
    Flatten          reshape back;     Dropout: identity in eval mode

No layer maths lives here: the walk asks each layer. It reads only what the
forward pass recorded and writes nothing (``input_gradient`` and
``backward_rule`` change no grads and no cache), so a training ``backward``
afterwards is unaffected. With rule="gradient" it returns exactly backprop's
input gradient, which the tests check against finite differences.

Receptive field: a unit of layer L sees a window of the image. Walking down, a
conv or pool with kernel k, stride s and padding p maps output rows [a, b] to
input rows [a*s - p, b*s - p + k - 1]; pointwise layers keep the window. A
deconvnet projection of one unit is zero outside that window (tested).
"""
import numpy as np

from ..layers import RELU_RULES, BatchNorm2D, Conv2D, Dropout, MaxPool2D, ReLU, Residual
from ..layers.container import pass_down

# Layers that act on each position separately: they keep the receptive field as it is.
POINTWISE_LAYERS = (BatchNorm2D, ReLU, Dropout)


def feature_layers(model):
    """{"conv1": index, ..., "block1": index, ...}: the layer whose output is a feature map.

    For each Conv2D of the model, the ReLU of its Conv-BN-ReLU block (the
    rectified maps Zeiler & Fergus show), the BatchNorm or the conv itself when
    no ReLU follows; for each Residual block, the ReLU after it (or the block).
    """
    layers = model.layers
    names = {}
    for kind, layer_type in (("conv", Conv2D), ("block", Residual)):
        count = 0
        for index, layer in enumerate(layers):
            if not isinstance(layer, layer_type):
                continue
            end = index
            while end + 1 < len(layers) and isinstance(layers[end + 1], (BatchNorm2D, ReLU)):
                end += 1
                if isinstance(layers[end], ReLU):
                    break
            count += 1
            names[f"{kind}{count}"] = end
    return names


def layer_index(model, layer):
    """A layer given by index (int) or feature-layer name ("conv3") -> its index in the model."""
    if isinstance(layer, str):
        names = feature_layers(model)
        if layer not in names:
            raise ValueError(f"no feature layer {layer!r}; this model has {sorted(names)}")
        return names[layer]
    if not 0 <= layer < len(model.layers):
        raise ValueError(f"layer index {layer} is outside 0..{len(model.layers) - 1}")
    return layer


def logits_index(model):
    """Index of the layer that outputs the logits (the last one before the loss)."""
    return len(model.layers) - (2 if model.loss_layer is not None else 1)


def forward_collect(model, x, indices):
    """Run x (N, C, H, W, normalized) through the model in eval mode, up to the largest index.

    -> the outputs of the layers at ``indices``, in that order. Every layer records
    what the backward walk reads: switches, ReLU masks, input shapes. The model
    is in eval mode only for this pass: each layer gets its own mode back.
    """
    wanted = {index: None for index in indices}
    with model.evaluating():
        for index, layer in enumerate(model.layers[:max(wanted) + 1]):
            x = layer.forward(x)
            if index in wanted:
                wanted[index] = x
    return [wanted[index] for index in indices]


def forward_to(model, x, stop):
    """Run layers 0..stop in eval mode -> the output of layer ``stop``."""
    return forward_collect(model, x, [stop])[0]


def recorded_in_training_mode(layers):
    """The first layer (inner ones too) whose last forward ran in training mode, or None:
    a BatchNorm that normalized with the batch's own statistics, a Dropout that drew a mask.
    A walk through them would not be the fixed map it assumes."""
    for layer in layers:
        for _, inner in layer.walk():
            if isinstance(inner, BatchNorm2D) and inner.cache is not None and inner.cache.training:
                return inner
            if isinstance(inner, Dropout) and inner.cache is not None:
                return inner
    return None


def backward_walk(model, signal, start, rule="deconvnet", trace=None):
    """Walk ``signal`` (shaped like layer ``start``'s output) down to the pixels -> (N, C, H, W).

    Needs a forward pass in eval mode through layer ``start`` on the same batch
    first (``forward_collect`` does that). ``rule`` is one of RELU_RULES: each
    layer passes the signal down with ``backward_rule`` (its input gradient,
    except in a ReLU, which applies the rule, and in a Residual, whose branches
    walk it and add up). ``trace``: a list that receives (index, signal from
    above, signal passed below) for every layer walked.
    """
    if rule not in RELU_RULES:
        raise ValueError(f"unknown rule {rule!r}: choose one of {RELU_RULES}")
    layers = model.layers[:start + 1]
    if recorded_in_training_mode(layers) is not None:
        # in training mode BatchNorm's statistics depend on the batch: not the fixed map a walk needs
        raise ValueError("the backward walk needs the forward pass recorded in eval mode; "
                         "run it after model.eval() (forward_collect does)")

    def step(layer, above):
        below = layer.backward_rule(above, rule)
        if trace is not None:
            trace.append((layers.index(layer), above, below))
        return below

    return pass_down(layers, signal, step)


def strongest_positions(maps):
    """maps (N, h, w) -> (rows, cols), each (N,): where each map peaks (first one, row-major)."""
    count, _, width = maps.shape
    flat = maps.reshape(count, -1).argmax(axis=1)
    return flat // width, flat % width


def project(model, x, layer, channels, positions=None, rule="deconvnet"):
    """Project feature maps of one layer back to pixel space, one per image.

    x         (N, 3, H, W) normalized images on the model's backend
    layer     index or name ("conv3") of the layer whose output is seeded
    channels  (N,) ints: the feature map to keep for each image
    positions None: keep the whole map; "max": keep only its strongest activation;
              or (rows, cols), each (N,): keep only that one activation
    -> (N, 3, H, W): the projection, in the units of the normalized input
    """
    xp = model.backend.xp
    index = layer_index(model, layer)
    features = forward_to(model, x, index)
    count, num_channels, height, width = features.shape
    channels = xp.asarray(channels)
    keep = xp.arange(num_channels)[None, :, None, None] == channels[:, None, None, None]
    if positions is not None:
        if isinstance(positions, str) and positions == "max":
            rows, cols = strongest_positions(features[xp.arange(count), channels])
        else:
            rows, cols = (xp.asarray(part) for part in positions)
        keep = (keep & (xp.arange(height)[None, None, :, None] == rows[:, None, None, None])
                & (xp.arange(width)[None, None, None, :] == cols[:, None, None, None]))
    return backward_walk(model, features * keep, index, rule)


def class_saliency(model, x, classes, rule="gradient"):
    """x (N, 3, H, W) normalized, classes (N,) ints -> (N, 3, H, W).

    rule="gradient" gives d S_c / d x, the gradient of the unnormalized class
    score (Simonyan et al. 2013, section 3.1); "deconvnet" and "guided" walk the
    same path with the other ReLU rules.
    """
    xp = model.backend.xp
    index = logits_index(model)
    logits = forward_to(model, x, index)
    seed = (xp.arange(logits.shape[1])[None, :] == xp.asarray(classes)[:, None])
    return backward_walk(model, seed.astype(logits.dtype), index, rule)


def receptive_field(model, layer, rows, cols):
    """The image window that unit (row, col) of a layer's output sees.

    -> (top, bottom, left, right), half-open: image[top:bottom, left:right]. Not
    clipped: near the border the window reaches into the zero padding. rows and
    cols may be ints or integer arrays.
    """
    index = layer_index(model, layer)
    rows, cols = np.asarray(rows), np.asarray(cols)
    top, bottom, left, right = window_below(model.layers[:index + 1], (rows, rows, cols, cols))
    return top, bottom + 1, left, right + 1


def window_below(layers, window):
    """Walk an inclusive window (top, bottom, left, right) down through ``layers`` to their input.

    A conv or pool with kernel k, stride s and padding p maps rows [a, b] to
    [a*s - p, b*s - p + k - 1]; pointwise layers keep the window; a Residual
    sees the union of what its two branches see.
    """
    top, bottom, left, right = window
    for below in reversed(layers):
        if isinstance(below, (Conv2D, MaxPool2D)):
            kernel, stride = below.kernel_size, below.stride
            padding = below.padding if isinstance(below, Conv2D) else 0
            top, bottom = top * stride - padding, bottom * stride - padding + kernel - 1
            left, right = left * stride - padding, right * stride - padding + kernel - 1
        elif isinstance(below, Residual):
            body = window_below(below.body, (top, bottom, left, right))
            shortcut = window_below(below.shortcut or [], (top, bottom, left, right))
            top, left = np.minimum(body[0], shortcut[0]), np.minimum(body[2], shortcut[2])
            bottom, right = np.maximum(body[1], shortcut[1]), np.maximum(body[3], shortcut[3])
        elif not isinstance(below, POINTWISE_LAYERS):
            raise ValueError(f"{type(below).__name__} mixes all positions: a unit above it "
                             f"sees the whole image")
    return top, bottom, left, right
