"""Ready-made networks, built from the layers like any user network would be.

``reference_network``  the fixed network of the speed benchmarks (benchmarks/).
``ahe_network``        a VGG-style AHE Image64 classifier (conv-BN-ReLU stages).
``ahe_resnet``         a ResNet-style AHE Image64 classifier (residual blocks), the one
                       examples/train_ahe.py trains by default.
``ahe_classifier``     either AHE classifier by its command-line name (AHE_ARCHITECTURES).

Every layer draws its initial weights from one generator seeded with ``seed``,
in layer order: the same seed gives the same network on every backend. A
backend named by string gets the same seed for its random stream (Dropout).
"""
from ..backend import get_backend
from ..layers import (BatchNorm2D, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool2D, MaxPool2D,
                     ReLU, Residual, SoftmaxCrossEntropy)
from ..layers.init import generator
from .sequential import Sequential


def reference_network(num_classes=10, backend=None, seed=0, image_size=64):
    """Four blocks of conv 3x3 + ReLU + max-pool 2 (32, 64, 128, 256 channels), then
    Dense(256 * (S/16)^2, 256), ReLU, Dropout(0.5), Dense(256, classes).
    Input (N, 3, S, S), S = image_size (64: Dense(4096, 256))."""
    rng = generator(seed)
    layers = []
    channels_in = 3
    for channels in (32, 64, 128, 256):
        layers += [Conv2D(channels_in, channels, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2)]
        channels_in = channels
    side = image_size // 16  # four 2x2 pools
    layers += [Flatten(), Dense(256 * side * side, 256, rng=rng), ReLU(), Dropout(0.5),
               Dense(256, num_classes, rng=rng), SoftmaxCrossEntropy()]
    return Sequential(layers, backend=get_backend(backend, seed=seed))


def conv_block(channels_in, channels_out, rng):
    """Conv 3x3 (no bias: BatchNorm follows) + BatchNorm + ReLU."""
    return [Conv2D(channels_in, channels_out, 3, padding=1, bias=False, rng=rng),
            BatchNorm2D(channels_out), ReLU()]


def ahe_network(num_classes=10, width=24, dropout=0.3, backend=None, seed=0):
    """A VGG-style AHE Image64 classifier (train_ahe.py --architecture ahe): conv-BN-ReLU
    stages at 64, 32, 16 and 8 px (width, 2w, 4w, 8w channels), one conv in the first stage and two
    in each later one (depth is cheap at low resolution), a 2x2 max-pool after
    each stage but the last, which ends in global average pooling; then dropout
    and one Dense layer. BatchNorm lets it train at a high learning rate, and
    global average pooling keeps the head small (8w x classes weights).
    """
    rng = generator(seed)
    layers = []
    channels_in = 3
    for stage, channels in enumerate((width, 2 * width, 4 * width, 8 * width)):
        layers += conv_block(channels_in, channels, rng)
        if stage >= 1:
            layers += conv_block(channels, channels, rng)
        layers += [MaxPool2D(2)] if stage < 3 else [GlobalAvgPool2D()]
        channels_in = channels
    layers += [Dropout(dropout), Dense(8 * width, num_classes, rng=rng), SoftmaxCrossEntropy()]
    return Sequential(layers, backend=get_backend(backend, seed=seed))


def residual_block(channels, rng):
    """A conv 3x3 and a BatchNorm added to their input, then a ReLU: y = ReLU(x + BN(conv(x)))
    (He et al. 2016, with one conv in the body: the widening conv before it is the other)."""
    return [Residual([Conv2D(channels, channels, 3, padding=1, bias=False, rng=rng),
                      BatchNorm2D(channels)]), ReLU()]


def ahe_resnet(num_classes=10, width=16, blocks=(1, 1, 1), dropout=0.2, backend=None, seed=0):
    """A ResNet-style AHE Image64 classifier: the VGG-style stages of ``ahe_network`` with
    identity shortcuts. A conv-BN-ReLU stem at 64 px (width channels); then one stage per
    entry of ``blocks`` at 32, 16, 8 px (2w, 4w, 8w channels), each a 2x2 max-pool, a
    conv-BN-ReLU that widens the channels and that many residual blocks; global average
    pooling, dropout and one Dense layer.

    With blocks (1, 1, 1) it has the convolutions of ``ahe_network`` and adds an identity
    path around the second conv of each stage. The channels change only in the plain
    widening conv, so every shortcut is the identity; downsampling by max-pool keeps every
    3x3 convolution at stride 1, on the Winograd fast path.
    """
    rng = generator(seed)
    layers = conv_block(3, width, rng)
    channels_in = width
    for stage, count in enumerate(blocks):
        channels = width * 2 ** (stage + 1)
        layers += [MaxPool2D(2)] + conv_block(channels_in, channels, rng)
        for _ in range(count):
            layers += residual_block(channels, rng)
        channels_in = channels
    layers += [GlobalAvgPool2D(), Dropout(dropout), Dense(channels_in, num_classes, rng=rng),
               SoftmaxCrossEntropy()]
    return Sequential(layers, backend=get_backend(backend, seed=seed))



# the command-line names of the AHE classifiers (train_ahe.py, tune_ahe.py), the default first
AHE_ARCHITECTURES = ("ahe-resnet", "ahe")


def ahe_classifier(architecture, num_classes, width, dropout, blocks=(1, 1, 1), backend=None,
                   seed=0):
    """The AHE classifier named ``architecture`` (one of AHE_ARCHITECTURES): "ahe-resnet" is
    ``ahe_resnet`` (``blocks`` residual blocks per stage), "ahe" is ``ahe_network``."""
    if architecture == "ahe-resnet":
        return ahe_resnet(num_classes, width=width, blocks=blocks, dropout=dropout,
                          backend=backend, seed=seed)
    if architecture == "ahe":
        return ahe_network(num_classes, width=width, dropout=dropout, backend=backend, seed=seed)
    raise ValueError(f"unknown architecture {architecture!r}: choose one of {AHE_ARCHITECTURES}")
