"""Why the numba backend runs BLAS on one thread: one GEMM of the reference network's
Dense layer (64 x 4096 @ 4096 x 256, float32) with NumPy's OpenBLAS on 2 threads and
on 1, and with PyTorch on 2 threads when torch is importable.

    .venv/bin/python benchmarks/bench_threads.py [--rounds 15]

On an idle machine the 2-thread figures are the faster ones; on a busy one a
2-thread call waits until both of its threads find a free core. The settings
alternate round by round; figures are medians.
"""
import argparse

import common
import numpy as np
from threadpoolctl import threadpool_limits


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4096), dtype=np.float32)
    weight = rng.standard_normal((4096, 256), dtype=np.float32)

    def numpy_gemm(threads):
        def run():
            with threadpool_limits(limits=threads, user_api="blas"):
                return x @ weight
        return run

    runs = {"NumPy/OpenBLAS 2 threads": numpy_gemm(2), "NumPy/OpenBLAS 1 thread": numpy_gemm(1)}
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(common.THREADS)
        torch_x, torch_weight = torch.from_numpy(x), torch.from_numpy(weight)
        runs[f"PyTorch {common.THREADS} threads"] = lambda: torch_x @ torch_weight
    times = {name: [] for name in runs}
    for round_index in range(args.rounds + 1):
        for name, run in runs.items():
            elapsed = common.seconds(run)
            if round_index:
                times[name].append(elapsed)
    print(f"# {common.machine_line()}")
    print(f"# load average {common.load_average():.2f}; median [min - max] of {args.rounds}")
    for name, values in times.items():
        median, low, high = common.summary(values)
        print(f"  {name:<28}{median * 1e3:8.2f} ms  [{low * 1e3:7.2f} - {high * 1e3:7.2f}]")


if __name__ == "__main__":
    main()
