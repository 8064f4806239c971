"""A training step of this tree against another git revision, alternating, in one run.

    .venv/bin/python benchmarks/bench_revisions.py --base 84e235b [--network ahe-resnet|ahe|reference]
                                                   [--alternations 5]

For a refactor that must not slow training down. The other revision is checked
out in a temporary git worktree; each alternation runs one fresh process per
tree (this tree, then the base, then this tree...), each timing ``--rounds``
training steps after ``--warmup`` ones on the numba backend and reporting its
median. A busy machine slows both trees alike within an alternation, so the
script prints the median over alternations per tree and the median of the
per-alternation ratios base / this (above 1: this tree is faster).

The timed code uses only what both trees have: the ready-made networks
(``minicnn.models`` since issue 20's layout, ``minicnn.architectures`` before; the
AHE ones with examples/train_ahe.py's width and dropout, as common.py builds them),
``Sequential.forward`` / ``backward(input_gradient=False)`` and ``optim.SGD``.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import common  # thread settings first
from minicnn.cli.arguments import integer

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# run in a child process with the tree to time first on sys.path
STEP_TIMER = r"""
import json, sys, time
import numpy as np
from minicnn import optim
try:
    from minicnn.models import architectures     # the layout of issue 20
except ImportError:
    from minicnn import architectures            # earlier trees
network, batch, rounds, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
width, dropout = int(sys.argv[5]), float(sys.argv[6])
if network == "reference":
    model = architectures.reference_network(10, backend="numba", seed=0)
else:
    build = getattr(architectures, {"ahe": "ahe_network", "ahe-resnet": "ahe_resnet"}[network])
    model = build(10, width=width, dropout=dropout, backend="numba", seed=0)
optimizer = optim.SGD(0.01, momentum=0.9)
rng = np.random.default_rng(0)
images = rng.standard_normal((batch, 3, 64, 64)).astype(np.float32)
labels = rng.integers(0, 10, batch)
times = []
for step in range(warmup + rounds):
    started = time.perf_counter()
    model.forward(images, labels)
    model.backward(input_gradient=False)
    optimizer.step(model)
    if step >= warmup:
        times.append(time.perf_counter() - started)
print(json.dumps({"median": float(np.median(times)), "source": architectures.__file__}))
"""


def time_tree(tree, arguments):
    """Median step seconds of one fresh process running the code in ``tree``."""
    environment = {**os.environ, "PYTHONPATH": tree}
    result = subprocess.run(
        [sys.executable, "-c", STEP_TIMER, arguments.network, str(arguments.batch),
         str(arguments.rounds), str(arguments.warmup), str(common.AHE_WIDTH),
         str(common.AHE_DROPOUT)],
        capture_output=True, text=True, env=environment, cwd=tree, check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    if not report["source"].startswith(tree):
        raise RuntimeError(f"the child imported {report['source']}, not the tree {tree}")
    return report["median"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the git revision to compare with")
    common.add_network_argument(parser)
    parser.add_argument("--batch", type=integer(at_least=1), default=64)
    parser.add_argument("--rounds", type=integer(at_least=1), default=8)
    parser.add_argument("--warmup", type=integer(at_least=0), default=2)
    parser.add_argument("--alternations", type=integer(at_least=1), default=5)
    arguments = parser.parse_args()
    try:
        times = alternate(arguments)
    except subprocess.CalledProcessError as error:
        said = (error.stderr or "").strip().splitlines()
        print(f"error: {' '.join(map(str, error.cmd[:3]))} ... failed "
              f"({said[-1] if said else f'exit status {error.returncode}'})", file=sys.stderr)
        return 2
    report(times, arguments)
    return 0


def alternate(arguments):
    """{"this": [seconds], "base": [seconds]}, one entry per alternation."""
    with tempfile.TemporaryDirectory() as scratch:
        base_tree = os.path.join(scratch, "base")
        subprocess.run(["git", "worktree", "add", "--detach", base_tree, arguments.base],
                       cwd=REPO_ROOT, check=True, capture_output=True, text=True)
        try:
            times = {"this": [], "base": []}
            for alternation in range(arguments.alternations):
                for name, tree in (("this", REPO_ROOT), ("base", base_tree)):
                    times[name].append(time_tree(tree, arguments))
                print(f"alternation {alternation + 1}: this {times['this'][-1] * 1e3:.1f} ms, "
                      f"base {times['base'][-1] * 1e3:.1f} ms", file=sys.stderr, flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", base_tree], cwd=REPO_ROOT,
                           check=True, capture_output=True)
    return times


def report(times, arguments):
    ratios = [base / this for this, base in zip(times["this"], times["base"])]
    print(f"training step, {arguments.network} network, batch {arguments.batch}, numba backend; "
          f"medians of {arguments.alternations} alternations of {arguments.rounds} steps")
    for name in ("this", "base"):
        label = "this tree" if name == "this" else arguments.base
        print(f"  {label:<12} {statistics.median(times[name]) * 1e3:8.1f} ms  "
              f"[{min(times[name]) * 1e3:.1f} - {max(times[name]) * 1e3:.1f}]")
    print(f"  base / this: {statistics.median(ratios):.3f}  (per alternation: "
          f"{', '.join(f'{ratio:.3f}' for ratio in ratios)}; above 1: this tree is faster)")


if __name__ == "__main__":
    sys.exit(main())
