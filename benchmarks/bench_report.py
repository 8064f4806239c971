"""What keeping report.html current costs a training run: the epoch callback, timed.

    .venv/bin/python benchmarks/bench_report.py [--rounds 7] [--epoch-seconds 40]

The callback (minicnn/report/live.py) runs at the end of every epoch: on a
best epoch it writes validation_predictions.npz, then it renders and writes
report.html. Both are timed on a run folder the size of the default run's:
1,013 validation images of 64x64, 10 classes, a gallery of 30, after epoch 1
and after epoch 23 (the page's charts grow with the history). Each round
times every case once, in turn (alternating), and the table gives the medians.

The share of an epoch is against --epoch-seconds, the default run's epoch
(train + validation seconds of history.json; 40 s on the 2-core machine of
README's "The default run, measured"): pass your own run's figure.
"""
import common  # noqa: F401  (first: thread settings before numpy loads)

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402

from minicnn.report import LiveReport  # noqa: E402

CLASSES = [f"class_{index}" for index in range(10)]
IMAGES = 1013


def history(epochs):
    return [{"epoch": epoch, "train_loss": 2.0 / epoch, "train_accuracy": 1 - 0.5 / epoch,
             "lr": 0.06 / epoch, "train_seconds": 38.0, "images_per_second": 240.0,
             "val_loss": 2.2 / epoch, "val_accuracy": 1 - 0.6 / epoch,
             "val_macro_f1": 1 - 0.65 / epoch, "val_seconds": 2.0}
            for epoch in range(1, epochs + 1)]


def epoch_end(epoch, improved, seed=0):
    """An EpochEnd-like object of the default run's size (the callback reads only these)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(IMAGES) % len(CLASSES)
    logits = (rng.normal(size=(IMAGES, len(CLASSES))) + 2.5 * np.eye(len(CLASSES))[labels])
    val_set = SimpleNamespace(labels=labels, files=[f"{CLASSES[label]}/{index:05d}.jpg"
                                                    for index, label in enumerate(labels)],
                              images=rng.integers(0, 256, (IMAGES, 3, 64, 64), dtype=np.uint8))
    return SimpleNamespace(epoch=epoch, improved=improved, val_set=val_set,
                           val_logits=logits.astype(np.float32),
                           trainer=SimpleNamespace(class_names=CLASSES))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--epoch-seconds", type=float, default=40.0)
    arguments = parser.parse_args(argv)
    print(common.machine_line())
    print(f"load average at the start: {common.load_average():.2f}")
    with tempfile.TemporaryDirectory() as root:
        cases = {}
        for epochs in (1, 23):
            folder = os.path.join(root, f"after-{epochs}")
            os.makedirs(folder)
            with open(os.path.join(folder, "history.json"), "w", encoding="utf-8") as file:
                json.dump(history(epochs), file)
            report = LiveReport(folder)
            for improved in (True, False):
                name = (f"epoch {epochs:>2}, " + ("best: npz + page" if improved else
                                                   "not best: page only"))
                cases[name] = (report, epoch_end(epochs, improved), folder)
        times = {name: [] for name in cases}
        for _ in range(arguments.rounds):
            for name, (report, end, _) in cases.items():
                times[name].append(common.seconds(report, end))
        print(f"\n{'case':<36}{'median ms':>10}{'min':>8}{'max':>8}{'% of epoch':>12}"
              f"{'page KB':>9}")
        for name, (report, end, folder) in cases.items():
            median, low, high = common.summary(times[name])
            size = os.path.getsize(os.path.join(folder, "report.html")) / 1024
            print(f"{name:<36}{median * 1000:>10.0f}{low * 1000:>8.0f}{high * 1000:>8.0f}"
                  f"{100 * median / arguments.epoch_seconds:>11.2f}%{size:>9.0f}")
    print(f"load average at the end: {common.load_average():.2f}; {arguments.rounds} rounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
