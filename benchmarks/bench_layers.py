"""Where a training step's time goes: forward and backward of every layer of the
reference network, on the numpy backend (readable NumPy) and the numba backend
(Numba kernels), with the share of the step each layer takes.

    .venv/bin/python benchmarks/bench_layers.py [--batch 64] [--rounds 7] [--backends numpy numba]

The backends alternate round by round, so a busy machine slows both alike;
every figure is the median over the rounds (``--statistic min`` shows the
fastest round instead: what the code can do when nothing else runs).
"""
import argparse
import statistics
import time

import common  # noqa: F401  (sets the thread counts before numpy loads)

from minicnn.layers import Conv2D, Dense


def layer_name(index, layer):
    if isinstance(layer, Conv2D):
        return f"{index:>2} Conv2D {layer.in_channels}->{layer.out_channels}"
    if isinstance(layer, Dense):
        return f"{index:>2} Dense {layer.in_features}->{layer.out_features}"
    return f"{index:>2} {type(layer).__name__}"


def profile_step(model, optimizer, images, labels):
    """{name: [forward seconds, backward seconds]} for one training step.

    Backward walks the layers as ``model.backward(input_gradient=False)`` does:
    it ends at the first layer with parameters, which computes no dx.
    """
    timings = {}
    body, loss_layer = model.layers[:-1], model.loss_layer
    x = images
    for index, layer in enumerate(body):
        start = time.perf_counter()
        x = layer.forward(x)
        timings[layer_name(index, layer)] = [time.perf_counter() - start, 0.0]
    start = time.perf_counter()
    loss_layer.forward(x, labels)
    dout = loss_layer.backward()
    timings["   loss"] = [time.perf_counter() - start, 0.0]
    first = next(index for index, layer in enumerate(body) if layer.params)
    for index in reversed(range(first, len(body))):
        start = time.perf_counter()
        if index == first:
            body[index].parameter_gradients(dout)
        else:
            dout = body[index].backward(dout)
        timings[layer_name(index, body[index])][1] = time.perf_counter() - start
    timings["   optimizer"] = [common.seconds(optimizer.step, model), 0.0]
    return timings


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--backends", nargs="+", default=["numpy", "numba"])
    parser.add_argument("--statistic", choices=["median", "min"], default="median")
    args = parser.parse_args()

    images, labels = common.random_batch(args.batch, args.image_size)
    engines = {name: common.minicnn_reference(name, args.image_size) for name in args.backends}
    samples = {name: [] for name in engines}
    for round_index in range(args.warmup + args.rounds):
        for name, (model, optimizer) in engines.items():
            timings = profile_step(model, optimizer, images, labels)
            if round_index >= args.warmup:
                samples[name].append(timings)

    print(f"# {common.machine_line()}")
    statistic = statistics.median if args.statistic == "median" else min
    print(f"# batch {args.batch}, image {args.image_size}, {args.statistic} of {args.rounds} rounds, "
          f"load average {common.load_average():.2f}; times in ms")
    header = f"{'layer':<24}"
    for name in engines:
        header += f"{name + ' fwd':>12}{'bwd':>8}{'share':>7}"
    print(header)
    medians = {name: {layer: [statistic(t[layer][phase] for t in samples[name])
                              for phase in (0, 1)] for layer in samples[name][0]}
               for name in engines}
    totals = {name: sum(sum(pair) for pair in medians[name].values()) for name in engines}
    for layer in medians[next(iter(engines))]:
        row = f"{layer:<24}"
        for name in engines:
            forward, backward = medians[name][layer]
            row += (f"{forward * 1e3:>12.1f}{backward * 1e3:>8.1f}"
                    f"{(forward + backward) / totals[name]:>7.1%}")
        print(row)
    row = f"{'step (sum)':<24}"
    for name in engines:
        row += f"{totals[name] * 1e3:>20.1f}{'':>7}"
    print(row)


if __name__ == "__main__":
    main()
