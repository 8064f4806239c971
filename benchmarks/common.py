"""What every benchmark shares: thread settings, the networks, a timer.

Import this module *before* numpy (``import common`` first): BLAS and Numba
read their thread counts from the environment once, when they load, so the
settings below only take effect if they are in place by then.

The networks a benchmark's ``--network`` names (NETWORKS, the default first):

    ahe-resnet   the network users train: examples/train_ahe.py's default, built as it
                 builds it (minicnn.models.ahe_classifier, width 16, dropout 0.2,
                 blocks 1,1,1; 88 MFLOP forward per image)
    ahe          train_ahe.py --architecture ahe (VGG-style, the same width and dropout)
    reference    the fixed network of the first CPU-speed issue (below)

The reference network:

    Input (N, 3, S, S) float32, S = 64
    4 x [Conv2D 3x3 padding 1 -> ReLU -> MaxPool2D 2]   channels 32, 64, 128, 256
    Flatten -> Dense(256 * (S/16)^2, 256) -> ReLU -> Dropout(0.5) -> Dense(256, 10)
    SoftmaxCrossEntropy, SGD with momentum 0.9
"""
import os
import statistics
import time

THREADS = int(os.environ.get("MINICNN_BENCH_THREADS", "2"))
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                 "NUMBA_NUM_THREADS"):
    os.environ.setdefault(variable, str(THREADS))

import numpy as np  # noqa: E402  (after the thread settings, on purpose)

CHANNELS = (3, 32, 64, 128, 256)
HIDDEN = 256
CLASSES = 10
LEARNING_RATE = 0.01
MOMENTUM = 0.9

NETWORKS = ("ahe-resnet", "ahe", "reference")
# examples/train_ahe.py's DEFAULTS (tests/test_benchmarks.py holds them equal)
AHE_WIDTH = 16
AHE_DROPOUT = 0.2
AHE_BLOCKS = (1, 1, 1)


def forward_gflop_per_image(image_size=64):
    """Multiply-adds x 2 of one forward pass (convs and dense layers only)."""
    flop, side = 0, image_size
    for c_in, c_out in zip(CHANNELS, CHANNELS[1:]):
        flop += 2 * side * side * c_out * c_in * 9
        side //= 2
    flop += 2 * CHANNELS[-1] * side * side * HIDDEN + 2 * HIDDEN * CLASSES
    return flop / 1e9


def minicnn_network(network, backend, image_size=64, seed=0):
    """One of NETWORKS as a Sequential on ``backend`` (a name or a Backend), and its SGD optimizer."""
    from minicnn import optim
    from minicnn.models import ahe_classifier, reference_network
    if network == "reference":
        model = reference_network(CLASSES, backend=backend, seed=seed, image_size=image_size)
    elif network in NETWORKS:
        model = ahe_classifier(network, CLASSES, width=AHE_WIDTH, dropout=AHE_DROPOUT,
                               blocks=AHE_BLOCKS, backend=backend, seed=seed)
    else:
        raise ValueError(f"unknown network {network!r}: choose one of {NETWORKS}")
    return model, optim.SGD(LEARNING_RATE, momentum=MOMENTUM)


def minicnn_reference(backend, image_size=64, seed=0):
    """The reference network as a Sequential, and its SGD optimizer."""
    return minicnn_network("reference", backend, image_size, seed)


def add_network_argument(parser):
    """The --network option every benchmark of the networks takes."""
    parser.add_argument("--network", default=NETWORKS[0], choices=NETWORKS,
                        help="ahe-resnet: the default of examples/train_ahe.py (see common.py)")


def minicnn_train_step(model, optimizer, images, labels):
    """One SGD step, as the Trainer takes it (no gradient of the images); returns the loss."""
    loss = model.forward(images, labels)
    model.backward(input_gradient=False)
    optimizer.step(model)
    return loss


def random_batch(batch, image_size=64, seed=0):
    """A float32 batch of images and int labels (the data does not change the cost)."""
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((batch, CHANNELS[0], image_size, image_size), dtype=np.float32)
    labels = rng.integers(0, CLASSES, batch)
    return images, labels


def seconds(function, *args):
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def summary(times):
    """(median, min, max) of a list of seconds."""
    return statistics.median(times), min(times), max(times)


def load_average():
    """The 1-minute load average, to say whether a figure was taken under load."""
    return os.getloadavg()[0]


def machine_line():
    """One line naming the CPU, the thread count and the library versions."""
    import platform

    import numba
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import minicnn
    return (f"{model}, {os.cpu_count()} cores, {THREADS} threads; python "
            f"{platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}; "
            f"minicnn from {os.path.dirname(os.path.dirname(os.path.abspath(minicnn.__file__)))}")
