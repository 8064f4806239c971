"""The Winograd fast path against im2col, on the reference network's training step.

    .venv/bin/python benchmarks/bench_winograd.py [--rounds 20] [--batch 64]

One process, one model; each round takes one training step with conv2-4 on
Winograd F(2x2, 3x3) and one with them on im2col (the order alternates from
round to round), so both see the same machine. Prints the median step times
and their ratio.
"""
import argparse
import statistics
import time

import common

from minicnn.kernels import winograd_numba


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()

    images, labels = common.random_batch(args.batch)
    model, optimizer = common.minicnn_reference("numba")
    images, labels = model.backend.to_device(images), model.backend.to_device(labels)
    # MIN_CHANNELS decides which convolutions take the Winograd path; above
    # every layer's channel count, none does
    settings = {"winograd": winograd_numba.MIN_CHANNELS, "im2col": 10**9}
    times = {name: [] for name in settings}
    print(f"# {common.machine_line()}")
    print(f"# load average at start {common.load_average():.2f}")
    for round_index in range(args.warmup + args.rounds):
        order = list(settings) if round_index % 2 else list(settings)[::-1]
        for name in order:
            winograd_numba.MIN_CHANNELS = settings[name]
            start = time.perf_counter()
            common.minicnn_train_step(model, optimizer, images, labels)
            if round_index >= args.warmup:
                times[name].append(time.perf_counter() - start)
    winograd_numba.MIN_CHANNELS = settings["winograd"]
    print(f"training step, batch {args.batch}, median of {args.rounds} alternating rounds")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"  {name:<10}{median * 1e3:8.1f} ms  (min {min(times[name]) * 1e3:.1f})")
    print(f"  im2col / winograd: {medians['im2col'] / medians['winograd']:.2f}")
    print(f"# load average at end {common.load_average():.2f}")


if __name__ == "__main__":
    main()
