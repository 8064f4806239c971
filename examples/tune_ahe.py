"""Seeded random search over the AHE classifier's hyperparameters.

    python examples/tune_ahe.py --data ../shared/data/ahe64 --trials 12 --epochs 6

Each trial trains a short run on the training part and is scored on the
validation split (carved from train/, as in train_ahe.py; the test split is
never touched). Each finished trial is appended to runs/tune/results.csv at
once, so an interrupted search continues where it stopped when re-run with the
same arguments: finished trials are skipped, and the trial that was
interrupted resumes from its last.npz. At the end it writes results.md
(sorted table) and results.png.

Searched: learning rate, weight decay, dropout, width, augmentation strength
(max shift and colour jitter), for the network train_ahe.py trains by default
(``--architecture ahe-resnet``; ``ahe`` for the VGG-style one).
"""
import argparse
import csv
import math
import os
import sys
import time

import numpy as np

from minicnn.models import AHE_ARCHITECTURES, ahe_classifier
from minicnn.cli.arguments import integer, limited, number
from minicnn.backend import command_line_backend
from minicnn.cli.exits import run_command
from minicnn.data import (channel_stats, find_data_dir, load_dataset, stratified_split,
                          train_validation_split)
from minicnn.io.paths import check_output_folder
from minicnn.train import TrainConfig, Trainer, TrainingDiverged

COLUMNS = ["trial", "lr", "weight_decay", "dropout", "width", "max_shift", "color_jitter",
           "epochs", "train_images", "val_accuracy", "val_macro_f1", "best_epoch", "seconds", "status"]


def sample_trial(rng):
    """One point of the search space (log-uniform for rates, choices for sizes)."""
    return {"lr": float(np.exp(rng.uniform(np.log(0.01), np.log(0.2)))),
            "weight_decay": float(np.exp(rng.uniform(np.log(5e-5), np.log(3e-3)))),
            "dropout": float(rng.choice([0.0, 0.1, 0.2, 0.3, 0.5])),
            "width": int(rng.choice([12, 16, 20])),
            "max_shift": int(rng.choice([0, 2, 4, 6])),
            "color_jitter": float(rng.choice([0.0, 0.1, 0.2]))}


def read_results(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def append_result(path, row):
    new_file = not os.path.exists(path)
    with open(path, "a", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        if new_file:
            writer.writeheader()
        writer.writerow(row)


def write_markdown(rows, path, command):
    ranked = sorted(rows, key=lambda row: -float(row["val_accuracy"] or 0))
    lines = [f"Random search, {len(rows)} trials, scored on the validation split.",
             f"Command: `{command}`", "",
             "| rank | " + " | ".join(COLUMNS) + " |", "|" + "---|" * (len(COLUMNS) + 1)]
    for rank, row in enumerate(ranked, start=1):
        cells = [f"{float(row[c]):.4g}" if c in ("lr", "weight_decay") else str(row[c])
                 for c in COLUMNS]
        lines.append(f"| {rank} | " + " | ".join(cells) + " |")
    with open(path, "w", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")


def plot_results(rows, path):
    from matplotlib.figure import Figure

    done = [row for row in rows if row["status"] == "ok"]
    figure = Figure(figsize=(14, 4))
    axes = figure.subplots(1, 3, sharey=True)
    accuracy = [float(row["val_accuracy"]) for row in done]
    for axis, (name, log_scale) in zip(axes, [("lr", True), ("weight_decay", True),
                                               ("dropout", False)]):
        points = axis.scatter([float(row[name]) for row in done], accuracy,
                              c=[int(row["width"]) for row in done], cmap="viridis")
        axis.set(xlabel=name, xscale="log" if log_scale else "linear")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("validation accuracy")
    figure.colorbar(points, ax=axes, label="width")
    figure.suptitle("random search: validation accuracy per trial (colour: width)")
    figure.savefig(path, dpi=100)


def build_parser():
    """The command line's options, each checked by its rule (minicnn/limits.py)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data")
    parser.add_argument("--trials", type=integer(at_least=1), default=12)
    parser.add_argument("--epochs", type=limited("epochs"), default=6, help="epochs per trial")
    parser.add_argument("--train-fraction", type=number(greater_than=0, at_most=1), default=1.0,
                        help="train each trial on this stratified fraction of the training part")
    parser.add_argument("--seed", type=limited("seed"), default=0,
                        help="seeds the search and the split")
    parser.add_argument("--architecture", default=AHE_ARCHITECTURES[0], choices=AHE_ARCHITECTURES,
                        help="the network to tune (default: train_ahe.py's default)")
    parser.add_argument("--backend", default=command_line_backend(),
                        choices=["numpy", "numba", "cupy"])
    parser.add_argument("--out", default=os.path.join("runs", "tune"))
    return parser


def parse_arguments(argv=None):
    return build_parser().parse_args(argv)


def main(argv=None):
    arguments = parse_arguments(argv)
    return run_command(lambda: search(arguments), data_advice=True)


def search(arguments):
    check_output_folder("--out", arguments.out, inputs=[("--data", arguments.data)])
    dataset = load_dataset(find_data_dir(arguments.data), split="train")
    train_set, val_set = train_validation_split(dataset, 0.1, arguments.seed)
    if arguments.train_fraction < 1.0:
        # a smaller, still stratified, training part makes each trial shorter
        _, kept = stratified_split(train_set.labels, arguments.train_fraction,
                                   seed=arguments.seed, groups=train_set.digests)
        train_set = train_set.subset(kept)
    mean, std = channel_stats(train_set.images)
    os.makedirs(arguments.out, exist_ok=True)
    results_path = os.path.join(arguments.out, "results.csv")
    done = {int(row["trial"]) for row in read_results(results_path)}
    rng = np.random.default_rng(arguments.seed)
    for trial in range(1, arguments.trials + 1):
        point = sample_trial(rng)  # drawn even when skipped, so the sequence never shifts
        if trial in done:
            continue
        print(f"trial {trial}/{arguments.trials}: {point}", file=sys.stderr)
        started = time.perf_counter()
        model = ahe_classifier(arguments.architecture, len(dataset.class_names),
                               width=point["width"], dropout=point["dropout"],
                               backend=arguments.backend, seed=arguments.seed)
        config = TrainConfig(epochs=arguments.epochs, lr=point["lr"],
                             weight_decay=point["weight_decay"], max_shift=point["max_shift"],
                             color_jitter=point["color_jitter"], seed=arguments.seed)
        trial_dir = os.path.join(arguments.out, f"trial-{trial:02d}")
        trainer = Trainer(model, config, trial_dir, dataset.class_names, mean, std, progress=False,
                          extra_meta={"architecture_name": arguments.architecture,
                                      "width": point["width"], "dropout": point["dropout"]})
        status = "ok"
        try:
            # a trial interrupted in an earlier search left its last.npz: continue it
            trainer.fit(train_set, val_set, resume=os.path.exists(os.path.join(trial_dir, "last.npz")))
        except TrainingDiverged:
            status = "diverged"
        best = max(trainer.history, key=lambda row: row["val_accuracy"], default=None)
        append_result(results_path, {
            "trial": trial, **point, "epochs": arguments.epochs, "train_images": len(train_set),
            "val_accuracy": round(best["val_accuracy"], 4) if best else math.nan,
            "val_macro_f1": round(best["val_macro_f1"], 4) if best else math.nan,
            "best_epoch": best["epoch"] if best else 0,
            "seconds": round(time.perf_counter() - started), "status": status})
    rows = read_results(results_path)
    command = "python examples/tune_ahe.py " + " ".join(sys.argv[1:])
    write_markdown(rows, os.path.join(arguments.out, "results.md"), command)
    plot_results(rows, os.path.join(arguments.out, "results.png"))
    print(open(os.path.join(arguments.out, "results.md"), encoding="utf-8").read())
    return 0


if __name__ == "__main__":
    sys.exit(main())
