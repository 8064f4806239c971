"""One tuning constant of a fast path, A/B: training steps alternating between its values, in one process.

    .venv/bin/python benchmarks/bench_setting.py minicnn.kernels.winograd_numba CHUNK_BYTES 2**21 2**19
                     [--network ahe-resnet|ahe|reference] [--batch 64] [--rounds 12] [--warmup 2]

Each round takes one training step (numba backend) with the module's constant set to
each value in turn, so a busy machine slows every value alike; the script prints the
median and min step time per value and the median's ratio to the first value's (above
1: faster than the first). For constants a kernel reads when it runs (chunk sizes,
thresholds), not ones read at import.
"""
import argparse
import importlib
import statistics

import common  # thread settings first
from minicnn.cli.arguments import integer


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module", help="e.g. minicnn.kernels.winograd_numba")
    parser.add_argument("name", help="the module-level constant, e.g. CHUNK_BYTES")
    parser.add_argument("values", nargs="+", help="integers, powers written as 2**19")
    common.add_network_argument(parser)
    parser.add_argument("--batch", type=integer(at_least=1), default=64)
    parser.add_argument("--rounds", type=integer(at_least=1), default=12)
    parser.add_argument("--warmup", type=integer(at_least=0), default=2)
    args = parser.parse_args()
    module = importlib.import_module(args.module)
    if not hasattr(module, args.name):
        parser.error(f"{args.module} has no {args.name}")
    values = [power(text, parser) for text in args.values]
    model, optimizer = common.minicnn_network(args.network, "numba")
    images, labels = common.random_batch(args.batch)
    original = getattr(module, args.name)
    times = {value: [] for value in values}
    try:
        for round_index in range(args.warmup + args.rounds):
            for value in values:
                setattr(module, args.name, value)
                elapsed = common.seconds(common.minicnn_train_step, model, optimizer, images,
                                         labels)
                if round_index >= args.warmup:
                    times[value].append(elapsed)
    finally:
        setattr(module, args.name, original)
    print(f"# {common.machine_line()}")
    print(f"# {args.network} network, batch {args.batch}, numba backend, {args.rounds} alternating "
          f"rounds; load average {common.load_average():.2f} at the end")
    first = statistics.median(times[values[0]])
    for value in values:
        median = statistics.median(times[value])
        print(f"  {args.name} = {value:<12} median {median * 1e3:7.1f} ms   min "
              f"{min(times[value]) * 1e3:7.1f} ms   {first / median:.3f}x the first")


def power(text, parser):
    """"524288" or "2**19" -> 524288."""
    base, _, exponent = text.partition("**")
    try:
        return int(base) ** int(exponent) if exponent else int(base)
    except ValueError:
        parser.error(f"value {text!r} is not an integer or a power like 2**19")


if __name__ == "__main__":
    main()
