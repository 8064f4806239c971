"""Does the cost of a training step grow linearly? Step time of the reference network
against batch size (image 64) and against image size (batch 64).

    .venv/bin/python benchmarks/bench_scaling.py [--backends numba numpy] [--rounds 5]

"ratio to linear" divides the measured time by the time linear growth from
the reference point (batch 64, image 64) predicts: 1.00 is exactly linear,
above 1 costs more per image (or per pixel) than the reference. For image
size the work grows with the number of pixels, so linear means time ~ S^2
(the Dense layer after the convolutions grows with S^2 too). Within each
table the configurations alternate round by round and the figures are
medians.
"""
import argparse

import common  # noqa: F401  (sets the thread counts before numpy loads)

BATCHES = (16, 32, 64, 128, 256)
IMAGE_SIZES = (32, 64, 128)
REFERENCE_BATCH, REFERENCE_SIZE = 64, 64


def step_times(backend, configurations, rounds, warmup=1):
    """{(batch, image size): median seconds per training step}, configurations alternating."""
    setups = {}
    for batch, size in configurations:
        model, optimizer = common.minicnn_reference(backend, size)
        setups[(batch, size)] = (model, optimizer, *common.random_batch(batch, size))
    times = {key: [] for key in setups}
    for round_index in range(warmup + rounds):
        for key, setup in setups.items():
            elapsed = common.seconds(common.minicnn_train_step, *setup)
            if round_index >= warmup:
                times[key].append(elapsed)
    return {key: common.summary(values)[0] for key, values in times.items()}


def table(title, backend, rows, reference_key, work):
    """Print one scaling table; ``work(key)`` is the amount of work relative to the reference."""
    print(f"\n{title} ({backend} backend)")
    print(f"{'batch':>7}{'image':>7}{'step ms':>10}{'images/s':>10}{'ratio to linear':>17}")
    reference = rows[reference_key]
    for (batch, size), seconds in rows.items():
        predicted = reference * work((batch, size))
        print(f"{batch:>7}{size:>7}{seconds * 1e3:>10.1f}{batch / seconds:>10.1f}"
              f"{seconds / predicted:>17.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=["numba", "numpy"])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"# {common.machine_line()}")
    print(f"# load average at start {common.load_average():.2f}")
    reference = (REFERENCE_BATCH, REFERENCE_SIZE)
    for backend in args.backends:
        by_batch = step_times(backend, [(batch, REFERENCE_SIZE) for batch in BATCHES],
                              args.rounds)
        table("step time against batch size, image 64", backend, by_batch, reference,
              lambda key: key[0] / REFERENCE_BATCH)
        by_size = step_times(backend, [(REFERENCE_BATCH, size) for size in IMAGE_SIZES],
                             args.rounds)
        table("step time against image size, batch 64", backend, by_size, reference,
              lambda key: (key[1] / REFERENCE_SIZE) ** 2)
    print(f"# load average at end {common.load_average():.2f}")


if __name__ == "__main__":
    main()
