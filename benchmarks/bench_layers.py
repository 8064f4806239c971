"""Where a training step's time goes: forward and backward of every layer of a network,
on the numpy backend (readable NumPy) and the numba backend (Numba kernels), the share of
the step each layer takes, and a roofline column against the machine's sgemm peak.

    .venv/bin/python benchmarks/bench_layers.py [--network ahe-resnet|ahe|reference]
                     [--batch 64] [--rounds 7] [--backends numpy numba]

A Residual block is shown as its layers and its add (forward: body(x) + x; backward:
the two gradients' sum), each timed on its own.

The roofline column (of the last backend named): each layer's FLOPs, forward plus
backward (a convolution or dense layer: 2 x its multiply-adds for the output, for dW,
and for dx unless it is the first layer, whose dx a training step skips; Winograd
convolutions are counted as direct ones, so their rate is the direct-equivalent one),
the GFLOP/s it reaches and that rate's share of the sgemm peak: a float32 product of
two SGEMM_SIDE x SGEMM_SIDE matrices by NumPy's BLAS on common.THREADS threads,
timed in the same rounds as the layers. BatchNorm, ReLU, pooling, the residual
add, dropout, flatten and the loss do a few operations per value they read: they are
bound by memory traffic, not by arithmetic, and are marked memory-bound instead.

The backends and the sgemm product alternate round by round, so a busy machine slows
all alike; every figure is the median over the rounds (``--statistic min`` shows the
fastest round instead: what the code can do when nothing else runs).
"""
import argparse
import statistics
import time

import common  # sets the thread counts before numpy loads
import numpy as np
from threadpoolctl import threadpool_limits

from minicnn.layers import Conv2D, Dense, Residual

SGEMM_SIDE = 2048


def layer_name(index, layer):
    if isinstance(layer, Conv2D):
        return f"{index} Conv2D {layer.in_channels}->{layer.out_channels}"
    if isinstance(layer, Dense):
        return f"{index} Dense {layer.in_features}->{layer.out_features}"
    return f"{index} {type(layer).__name__}"


def layer_flop(layer, x_shape, out_shape, input_gradient):
    """FLOPs of forward + backward of a conv or dense layer; None for the memory-bound ones."""
    if isinstance(layer, Conv2D):
        N, C = x_shape[:2]
        products = N * C * layer.kernel_size ** 2 * int(np.prod(out_shape[1:]))
    elif isinstance(layer, Dense):
        products = x_shape[0] * layer.in_features * layer.out_features
    else:
        return None
    return 2 * products * (3 if input_gradient else 2)   # out, dW, and dx if taken


class StepProfile:
    """One training step, layer by layer: {row name: [forward s, backward s]} and the FLOPs."""

    def __init__(self):
        self.timings = {}
        self.flop = {}

    def timed(self, name, phase, function, *args):
        start = time.perf_counter()
        result = function(*args)
        self.timings.setdefault(name, [0.0, 0.0])[phase] = time.perf_counter() - start
        return result


def forward_layers(profile, layers, x, prefix=""):
    """Forward through ``layers``, timing each; -> (output, [(row name, layer, x shape)])."""
    walked = []
    for index, layer in enumerate(layers):
        if isinstance(layer, Residual):
            if layer.shortcut is not None:
                raise SystemExit("bench_layers.py profiles identity-shortcut Residual blocks only")
            body_out, inner = forward_layers(profile, layer.body, x, f"{prefix}{index}.body.")
            x = profile.timed(f"{prefix}{index} add", 0, np.add, body_out, x)
            walked.append((f"{prefix}{index} add", layer, inner))
            continue
        name = layer_name(f"{prefix}{index}", layer)
        out = profile.timed(name, 0, layer.forward, x)
        profile.flop[name] = (layer, x.shape, out.shape)
        walked.append((name, layer, None))
        x = out
    return x, walked


def backward_layers(profile, walked, dout, first):
    """Backward through what forward_layers walked, in reverse, as
    ``model.backward(input_gradient=False)`` does: the ``first`` layer with parameters
    takes its parameter gradients only. -> dout below."""
    for name, layer, inner in reversed(walked):
        if inner is not None:   # a Residual: its body's gradient plus the identity's
            below = backward_layers(profile, inner, dout, first)
            dout = profile.timed(name, 1, np.add, below, dout)
        elif layer is first:
            profile.timed(name, 1, layer.parameter_gradients, dout)
            return None
        else:
            dout = profile.timed(name, 1, layer.backward, dout)
    return dout


def profile_step(model, optimizer, images, labels):
    """A StepProfile of one training step (forward, loss, backward, optimizer)."""
    profile = StepProfile()
    logits, walked = forward_layers(profile, model.body, images)
    loss_layer = model.loss_layer
    profile.timed("loss", 0, loss_layer.forward, logits, labels)
    dout = profile.timed("loss", 1, loss_layer.backward)
    first = next(layer for _, layer, _ in walk_flat(walked) if layer.params)
    backward_layers(profile, walked, dout, first)
    profile.timed("optimizer", 0, optimizer.step, model)
    for name, (layer, x_shape, out_shape) in profile.flop.items():
        profile.flop[name] = layer_flop(layer, x_shape, out_shape, layer is not first)
    return profile


def walk_flat(walked):
    """The (name, layer, inner) rows of a walk, Residual bodies expanded, in forward order."""
    for row in walked:
        if row[2] is not None:
            yield from walk_flat(row[2])
        else:
            yield row


def sgemm_seconds(a, b):
    """Seconds of one float32 product on common.THREADS BLAS threads (whatever the backend set)."""
    with threadpool_limits(limits=common.THREADS, user_api="blas"):
        return common.seconds(np.matmul, a, b)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_network_argument(parser)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--backends", nargs="+", default=["numpy", "numba"])
    parser.add_argument("--statistic", choices=["median", "min"], default="median")
    args = parser.parse_args()

    images, labels = common.random_batch(args.batch, args.image_size)
    engines = {name: common.minicnn_network(args.network, name, args.image_size)
               for name in args.backends}
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((SGEMM_SIDE, SGEMM_SIDE), dtype=np.float32) for _ in range(2))
    samples = {name: [] for name in engines}
    sgemm = []
    for round_index in range(args.warmup + args.rounds):
        for name, (model, optimizer) in engines.items():
            profile = profile_step(model, optimizer, images, labels)
            if round_index >= args.warmup:
                samples[name].append(profile)
        elapsed = sgemm_seconds(a, b)
        if round_index >= args.warmup:
            sgemm.append(elapsed)

    statistic = statistics.median if args.statistic == "median" else min
    peak = 2 * SGEMM_SIDE ** 3 / statistic(sgemm) / 1e9
    print(f"# {common.machine_line()}")
    print(f"# {args.network} network, batch {args.batch}, image {args.image_size}, "
          f"{args.statistic} of {args.rounds} rounds, load average {common.load_average():.2f}; "
          f"times in ms")
    print(f"# sgemm peak: {peak:.0f} GFLOP/s (float32 {SGEMM_SIDE}^3 product, {common.THREADS} "
          f"BLAS threads, {args.statistic} of the same rounds)")
    roofline = args.backends[-1]
    header = f"{'layer':<26}"
    for name in engines:
        header += f"{name + ' fwd':>12}{'bwd':>8}{'share':>7}"
    header += f"   {roofline}: {'GFLOP':>6}{'GFLOP/s':>9}{'of peak':>9}"
    print(header)
    medians = {name: {row: [statistic(p.timings[row][phase] for p in samples[name])
                            for phase in (0, 1)] for row in samples[name][0].timings}
               for name in engines}
    totals = {name: sum(sum(pair) for pair in medians[name].values()) for name in engines}
    flop = samples[roofline][0].flop
    for row_name in medians[roofline]:
        row = f"{row_name:<26}"
        for name in engines:
            forward, backward = medians[name][row_name]
            row += (f"{forward * 1e3:>12.1f}{backward * 1e3:>8.1f}"
                    f"{(forward + backward) / totals[name]:>7.1%}")
        if flop.get(row_name) is not None:
            rate = flop[row_name] / sum(medians[roofline][row_name]) / 1e9
            row += f"   {'':>{len(roofline) + 2}}{flop[row_name] / 1e9:>6.2f}{rate:>9.1f}" \
                   f"{rate / peak:>9.0%}"
        elif row_name not in ("loss", "optimizer"):
            row += f"   {'':>{len(roofline) + 2}}{'memory-bound':>24}"
        print(row)
    row = f"{'step (sum)':<26}"
    for name in engines:
        row += f"{totals[name] * 1e3:>20.1f}{'':>7}"
    step_flop = sum(value for value in flop.values() if value is not None)
    rate = step_flop / totals[roofline] / 1e9
    row += f"   {'':>{len(roofline) + 2}}{step_flop / 1e9:>6.2f}{rate:>9.1f}{rate / peak:>9.0%}"
    print(row)


if __name__ == "__main__":
    main()
