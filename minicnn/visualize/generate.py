"""Class image generation: gradient ascent on the input image (Simonyan et al. 2013, section 2).

Keep the trained weights fixed and change the *image* instead, to make one
class score large:

    x* = argmax_x  S_c(x) - lambda * ||x||^2

S_c is the unnormalized score (the logit) of class c. Maximizing the softmax
p(c) instead could also be done by pushing the *other* scores down; the logit
asks for evidence of c itself. The gradient dS_c/dx is one backward walk with
the "gradient" rule (``deconv.class_saliency``), the same primitives as
training, and all classes are generated together as one batch.

Plain ascent finds "fooling images": high-frequency patterns that this one
network scores highly but that people, and usually other networks, do not
recognize as the class. Yosinski et al. 2015 ("Understanding Neural Networks Through
Deep Visualization", section 3) add regularizers, each applied after the step:

    L2 decay            x <- (1 - decay) x          the lambda ||x||^2 term; pulls
                        unneeded pixels back to the mean colour (normalized 0)
    Gaussian blur       every k steps               removes the high frequencies
                        that one network's filters happen to like
    clip small norm     zero pixels whose RGB norm is below a percentile
    clip small          zero pixels whose |sum over RGB of x * dS/dx| is below
      contribution      a percentile: pixels that do not help S_c
    jitter              shift the image by a few random pixels before each
                        gradient (and back): a feature must work wherever it
                        lands, not at one exact alignment (Mordvintsev et al. 2015)
    total variation     step against the gradient of sum |x[i+1] - x[i]|
                        (optional): favours piecewise-smooth images

Each is a field of GenerationConfig, 0 meaning off. The gradient is scaled to
unit root-mean-square per image before the step, so ``step_size`` is in the
normalized units of the input whatever the size of the scores.

The pixels stay inside what uint8 0..255 maps to, [(0 - mean)/std, (1 - mean)/std],
because the result must be a real picture: the PNG, re-loaded, is what counts.
``finish_steps`` then continue on the quantized image (rounded to uint8 and back)
with the objective log p(c), but only for images whose quantized p(c) is still
below ``target_probability``.

Per step the history records S_c, p(c), and so the first step at which c is
the argmax.
"""
import math
from dataclasses import dataclass, field

import numpy as np

from ..data import normalize
from ..functional.arrays import array_module
from ..functional.loss import softmax
from .deconv import backward_walk, forward_to, logits_index
from .images import pixel_bounds, to_uint8


@dataclass
class GenerationConfig:
    """The optimization and its regularizers (0 turns a regularizer off)."""

    steps: int = 300
    step_size: float = 0.05           # normalized units per step (gradient scaled to unit RMS)
    l2_decay: float = 0.0             # x <- (1 - l2_decay) x after each step
    blur_every: int = 0               # Gaussian blur every k steps
    blur_sigma: float = 0.5           # its standard deviation, in pixels
    jitter: int = 0                   # random shift of up to this many pixels before each step
    norm_percentile: float = 0.0      # zero the pixels whose RGB norm is below this percentile
    contribution_percentile: float = 0.0   # zero the pixels that contribute least to S_c
    tv_weight: float = 0.0            # step against the total-variation gradient
    init_scale: float = 0.1           # the start: mean colour plus this much Gaussian noise
    finish_steps: int = 200           # at most this many log p(c) steps on the quantized image
    target_probability: float = 0.99
    frame_every: int = 0              # keep the images every k steps, for an animation
    seed: int = 0


# The regularized setting used for the figures (64x64 images). See docs/visualization.md.
REGULARIZED = GenerationConfig(l2_decay=0.005, blur_every=4, blur_sigma=0.5, jitter=3,
                               norm_percentile=10.0, contribution_percentile=10.0)


@dataclass
class GenerationResult:
    """classes (K,); images (K, 3, H, W) uint8; scores and probabilities (steps, K):
    S_c and p(c) before each step; first_argmax_step (K,), -1 if c never led;
    final_probabilities (K,) p(c) of the uint8 images; frames: (K, 3, H, W) uint8 each."""

    classes: np.ndarray
    images: np.ndarray
    scores: np.ndarray
    probabilities: np.ndarray
    first_argmax_step: np.ndarray
    final_probabilities: np.ndarray
    frames: list = field(default_factory=list)


def gaussian_blur(x, sigma):
    """(N, C, H, W) -> the same, blurred by a separable Gaussian (reflected at the border)."""
    xp = array_module(x)
    radius = max(1, math.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    for axis in (2, 3):
        size = x.shape[axis]
        padding = [(0, 0)] * 4
        padding[axis] = (radius, radius)
        padded = xp.pad(x, padding, mode="reflect")
        window = [slice(None)] * 4
        blurred = xp.zeros_like(x)
        for offset, weight in enumerate(taps):
            window[axis] = slice(offset, offset + size)
            blurred += float(weight) * padded[tuple(window)]
        x = blurred
    return x


def total_variation(x):
    """(N, C, H, W) -> (N,): sum of |differences| between vertical and horizontal neighbours."""
    xp = array_module(x)
    return (xp.abs(xp.diff(x, axis=2)).sum(axis=(1, 2, 3))
            + xp.abs(xp.diff(x, axis=3)).sum(axis=(1, 2, 3)))


def total_variation_gradient(x):
    """d total_variation / dx (a subgradient: sign of each difference, 0 where equal)."""
    xp = array_module(x)
    gradient = xp.zeros_like(x)
    for axis in (2, 3):
        signs = xp.sign(xp.diff(x, axis=axis))
        later = [slice(None)] * 4
        earlier = [slice(None)] * 4
        later[axis], earlier[axis] = slice(1, None), slice(None, -1)
        gradient[tuple(later)] += signs
        gradient[tuple(earlier)] -= signs
    return gradient


def zero_below_percentile(x, values, percentile):
    """Zero the pixels of x (N, C, H, W) whose values (N, H, W) are below the image's percentile."""
    xp = array_module(x)
    threshold = xp.percentile(values.reshape(len(values), -1), percentile, axis=1)
    return x * (values >= threshold[:, None, None])[:, None]


def unit_rms(gradient):
    """Scale each image's gradient to root-mean-square 1 (all-zero stays zero)."""
    xp = array_module(gradient)
    rms = xp.sqrt((gradient ** 2).mean(axis=(1, 2, 3), keepdims=True))
    return gradient / xp.maximum(rms, xp.finfo(gradient.dtype).tiny)


def quantize_on_device(x, mean, std):
    """Normalized images -> the normalized values of their nearest uint8 picture (any backend)."""
    xp = array_module(x)
    pixels = xp.clip(xp.rint((x * std + mean) * 255), 0, 255)
    return (pixels / 255 - mean) / std


def regularize(x, gradient, config, step):
    """Yosinski et al. 2015's regularizers, applied after ascent step ``step`` (0-based)."""
    xp = array_module(x)
    x = x * (1 - config.l2_decay)
    if config.blur_every and (step + 1) % config.blur_every == 0:
        x = gaussian_blur(x, config.blur_sigma)
    if config.norm_percentile:
        x = zero_below_percentile(x, xp.sqrt((x ** 2).sum(axis=1)), config.norm_percentile)
    if config.contribution_percentile:
        x = zero_below_percentile(x, xp.abs((x * gradient).sum(axis=1)),
                                  config.contribution_percentile)
    return x


def generate_class_images(model, mean, std, classes=None, config=GenerationConfig(),
                          image_size=64):
    """Gradient ascent on one image per class -> GenerationResult.

    mean, std: the checkpoint's normalization (3,). classes: class indices
    (default: every class of the model's last layer).
    """
    backend = model.backend
    xp, dtype = backend.xp, backend.dtype
    output = logits_index(model)
    if classes is None:
        classes = np.arange(model.layers[output].params["W"].shape[1])
    classes = np.asarray(classes)
    count = len(classes)
    rng = np.random.default_rng(config.seed)
    low, high = (backend.to_device(bound.astype(dtype)) for bound in pixel_bounds(mean, std))
    mean_device = backend.to_device(np.asarray(mean, dtype=dtype).reshape(-1, 1, 1))
    std_device = backend.to_device(np.asarray(std, dtype=dtype).reshape(-1, 1, 1))
    x = backend.to_device((config.init_scale * rng.standard_normal(
        (count, 3, image_size, image_size))).astype(dtype))
    x = xp.clip(x, low, high)
    device_classes = backend.to_device(classes)
    seed = (xp.arange(model.layers[output].params["W"].shape[1])[None, :]
            == device_classes[:, None]).astype(dtype)
    picked = xp.arange(count), device_classes
    logged_logits, frames = [], []

    for step in range(config.steps):
        if config.frame_every and step % config.frame_every == 0:
            frames.append(to_uint8(backend.to_host(x), mean, std))
        shift = tuple(int(value) for value in rng.integers(-config.jitter, config.jitter + 1, 2))
        logits = forward_to(model, xp.roll(x, shift, axis=(2, 3)), output)
        logged_logits.append(logits)
        gradient = xp.roll(backward_walk(model, seed, output, "gradient"),
                           (-shift[0], -shift[1]), axis=(2, 3))
        direction = unit_rms(gradient)
        if config.tv_weight:
            direction -= config.tv_weight * total_variation_gradient(x)
        x = regularize(x + config.step_size * direction, gradient, config, step)
        x = xp.clip(x, low, high)

    # finish on the picture itself: log p(c) steps on the quantized image, only where needed
    for _ in range(config.finish_steps):
        quantized = quantize_on_device(x, mean_device, std_device)
        logits = forward_to(model, quantized, output)
        probabilities = softmax(logits)
        needed = (probabilities[picked] < config.target_probability).astype(dtype)
        if not needed.any():   # one scalar read per step: stop as soon as every image is there
            break
        logged_logits.append(logits)
        gradient = backward_walk(model, seed - probabilities, output, "gradient")
        x = xp.clip(x + config.step_size * unit_rms(gradient) * needed[:, None, None, None],
                    low, high)

    # the final verdict is on the picture exactly as a PNG file gives it back
    images = to_uint8(backend.to_host(x), mean, std)
    final_logits = forward_to(model, backend.to_device(normalize(images, mean, std), dtype), output)
    history = backend.to_host(xp.stack(logged_logits + [final_logits]))   # (steps + 1, K, classes)
    frames.append(images)
    scores = history[:, np.arange(count), classes]
    probabilities = softmax(history.reshape(-1, history.shape[2])).reshape(history.shape)
    probabilities = probabilities[:, np.arange(count), classes]
    leads = history.argmax(axis=2) == classes
    first = np.where(leads.any(axis=0), leads.argmax(axis=0), -1)
    return GenerationResult(classes, images, scores[:-1], probabilities[:-1], first,
                            probabilities[-1], frames)
