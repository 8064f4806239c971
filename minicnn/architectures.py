"""Ready-made networks, built from the layers like any user network would be.

``reference_network``  the fixed network of the speed benchmarks (benchmarks/).
``ahe_network``        the default AHE Image64 classifier of examples/train_ahe.py.
"""
from .layers import (BatchNorm2D, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU,
                     SoftmaxCrossEntropy)
from .models import Sequential


def reference_network(num_classes=10, backend=None, seed=0):
    """Four blocks of conv 3x3 + ReLU + max-pool 2 (32, 64, 128, 256 channels), then
    Dense(4096, 256), ReLU, Dropout(0.5), Dense(256, classes). Input (N, 3, 64, 64)."""
    layers = []
    channels_in = 3
    for channels in (32, 64, 128, 256):
        layers += [Conv2D(channels_in, channels, 3, padding=1), ReLU(), MaxPool2D(2)]
        channels_in = channels
    layers += [Flatten(), Dense(256 * 4 * 4, 256), ReLU(), Dropout(0.5), Dense(256, num_classes),
               SoftmaxCrossEntropy()]
    return Sequential(layers, backend=backend, seed=seed)


def conv_block(channels_in, channels_out):
    """Conv 3x3 (no bias: BatchNorm follows) + BatchNorm + ReLU."""
    return [Conv2D(channels_in, channels_out, 3, padding=1, bias=False),
            BatchNorm2D(channels_out), ReLU()]


def ahe_network(num_classes=10, width=32, dropout=0.5, hidden=256, backend=None, seed=0):
    """The default AHE Image64 classifier: the reference network's shape with BatchNorm.

    Four blocks of conv 3x3 (no bias) + BatchNorm + ReLU + max-pool 2, with width,
    2w, 4w and 8w channels (64 -> 32 -> 16 -> 8 -> 4 px), then Flatten,
    Dense(8w*4*4, hidden), ReLU, Dropout, Dense(hidden, classes). BatchNorm lets
    the network train at a high learning rate, so it converges within the
    20-minute budget; the cost per step stays close to the reference network's.
    """
    layers = []
    channels_in = 3
    for channels in (width, 2 * width, 4 * width, 8 * width):
        layers += conv_block(channels_in, channels) + [MaxPool2D(2)]
        channels_in = channels
    layers += [Flatten(), Dense(channels_in * 4 * 4, hidden), ReLU(), Dropout(dropout),
               Dense(hidden, num_classes), SoftmaxCrossEntropy()]
    return Sequential(layers, backend=backend, seed=seed)


ARCHITECTURES = {"ahe": ahe_network, "reference": reference_network}
