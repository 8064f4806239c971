"""What every benchmark shares: thread settings, the reference network, a timer.

Import this module *before* numpy (``import common`` first): BLAS and Numba
read their thread counts from the environment once, when they load, so the
settings below only take effect if they are in place by then.

The reference network of the CPU-speed issue (fixed):

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


def forward_gflop_per_image(image_size=64):
    """Multiply-adds x 2 of one forward pass (convs and dense layers only)."""
    flop, side = 0, image_size
    for c_in, c_out in zip(CHANNELS, CHANNELS[1:]):
        flop += 2 * side * side * c_out * c_in * 9
        side //= 2
    flop += 2 * CHANNELS[-1] * side * side * HIDDEN + 2 * HIDDEN * CLASSES
    return flop / 1e9


def minicnn_reference(backend, image_size=64, seed=0):
    """The reference network (minicnn.architectures) as a Sequential, and its SGD optimizer."""
    from minicnn import optim
    from minicnn.models import reference_network
    model = reference_network(CLASSES, backend=backend, seed=seed, image_size=image_size)
    return model, optim.SGD(LEARNING_RATE, momentum=MOMENTUM)


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
    return (f"{model}, {os.cpu_count()} cores, {THREADS} threads; python "
            f"{platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}")
