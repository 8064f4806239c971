"""What skipping the input gradient saves: the training step of the reference
network with ``model.backward()`` (dx of the images computed, then dropped) and
with ``model.backward(input_gradient=False)`` (what the Trainer does), alternating.

    .venv/bin/python benchmarks/bench_input_gradient.py [--backend numba] [--batch 64] [--rounds 41]

Both variants run in the same process, one step each per round (which goes
first alternates), so a busy machine slows both alike; the ratio is the median
of the per-round ratios.
"""
import argparse
import statistics
import time

import common


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="numba")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    images, labels = common.random_batch(args.batch)
    model, optimizer = common.minicnn_reference(args.backend)
    times = {True: [], False: []}
    load_at_start = common.load_average()
    for round_index in range(args.warmup + args.rounds):
        for input_gradient in ((True, False) if round_index % 2 else (False, True)):
            start = time.perf_counter()
            model.forward(images, labels)
            model.backward(input_gradient=input_gradient)
            optimizer.step(model)
            if round_index >= args.warmup:
                times[input_gradient].append(time.perf_counter() - start)

    print(f"# {common.machine_line()}")
    print(f"# {args.backend} backend, batch {args.batch}, {args.rounds} alternating rounds, "
          f"load average {load_at_start:.2f} at start, {common.load_average():.2f} at end")
    for input_gradient, label in ((True, "backward()"), (False, "backward(input_gradient=False)")):
        median, low, high = common.summary(times[input_gradient])
        print(f"  {label:<32}{median * 1e3:8.1f} ms  [{low * 1e3:6.1f} - {high * 1e3:6.1f}]")
    ratios = [full / skipped for full, skipped in zip(times[True], times[False])]
    print(f"  step time ratio, with dx / without: {statistics.median(ratios):.3f} "
          f"(median of per-round ratios)")


if __name__ == "__main__":
    main()
