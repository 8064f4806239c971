"""Compare training recipes over seeds: a table and a dot plot of validation scores.

    python examples/compare_runs.py runs/ab1-* --out docs/figures/ab_recipes.png
    python examples/compare_runs.py runs/ab1-* --html ab1.html   # and the runs' curves, overlaid

Each argument is a run folder written by train_ahe.py (it holds metrics.json).
Runs are grouped into recipes by their folder name without a trailing seed
suffix (`ab1-vgg-s0` and `ab1-vgg-s1` are the recipe `ab1-vgg`); the seed is
the one metrics.json records, which must agree with the suffix. The table
gives each seed's validation accuracy and macro-F1 and their means; the plot
shows every seed as a dot, so a reader sees the spread next to the difference.

An accuracy p measured on one split of n images has a standard error of
sqrt(p (1 - p) / n), about 0.9 points for p = 0.91 and n = 1,013; the plot
shades that band around the best mean. Recipes whose means differ by less are
a tie.

--html FILE also writes the page of ``python -m minicnn report RUN_A RUN_B ...
--out FILE``: every run's curves overlaid and its final figures side by side
(minicnn/report/page.py), one self-contained file.
"""
import argparse
import json
import os
import re
import sys

import numpy as np
from matplotlib.figure import Figure

from minicnn.io.paths import OutputPathError, check_outputs
from minicnn.report import ReportError, write_comparison

SEED_SUFFIX = re.compile(r"-s(\d+)$")


class RunError(ValueError):
    """A run folder that cannot be compared (no metrics.json, or not a training run's)."""


def read_run(folder):
    """The recipe, seed and validation scores of one run folder."""
    path = os.path.join(folder, "metrics.json")
    try:
        with open(path, encoding="utf-8") as file:
            metrics = json.load(file)
        validation = metrics["validation"]
        accuracy, macro_f1 = float(validation["accuracy"]), float(validation["macro_f1"])
        images = int(validation["num_images"])
    except FileNotFoundError:
        raise RunError(f"{folder}: no metrics.json (an unfinished run, or not a run folder)") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise RunError(f"{path}: not the metrics of a training run ({error})") from None
    name = os.path.basename(os.path.normpath(folder))
    match = SEED_SUFFIX.search(name)
    recipe = name[:match.start()] if match else name
    seed = int(match.group(1)) if match else None
    if "seed" in metrics:   # runs before 2026-11-25 did not record it: the name alone says
        if match and seed != metrics["seed"]:
            raise RunError(f"{folder}: named for seed {seed}, but it was trained with seed "
                           f"{metrics['seed']}")
        seed = metrics["seed"]
    return {"recipe": recipe, "seed": seed, "accuracy": accuracy, "macro_f1": macro_f1,
            "images": images}


def group_by_recipe(runs):
    """{recipe: [runs sorted by seed]}, recipes in the order they first appear."""
    recipes = {}
    for run in runs:
        members = recipes.setdefault(run["recipe"], [])
        if any(member["seed"] == run["seed"] for member in members):
            raise RunError(f"two runs of recipe {run['recipe']!r} with seed {run['seed']}: "
                           "each seed may count once in a mean")
        members.append(run)
    for members in recipes.values():
        members.sort(key=lambda run: -1 if run["seed"] is None else run["seed"])
    return recipes


def summary_rows(recipes):
    """One row per recipe: per-seed scores and their means, best mean accuracy first."""
    rows = []
    for recipe, members in recipes.items():
        rows.append({"recipe": recipe,
                     "seeds": [run["seed"] for run in members],
                     "accuracies": [run["accuracy"] for run in members],
                     "macro_f1s": [run["macro_f1"] for run in members],
                     "images": min(run["images"] for run in members),
                     "mean_accuracy": float(np.mean([run["accuracy"] for run in members])),
                     "mean_macro_f1": float(np.mean([run["macro_f1"] for run in members]))})
    rows.sort(key=lambda row: -row["mean_accuracy"])
    return rows


def markdown_table(rows):
    lines = ["| recipe | seeds | accuracy per seed | macro-F1 per seed | mean accuracy | mean macro-F1 |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        seeds = ", ".join("-" if seed is None else str(seed) for seed in row["seeds"])
        accuracies = ", ".join(f"{value:.2%}" for value in row["accuracies"])
        macro_f1s = ", ".join(f"{value:.3f}" for value in row["macro_f1s"])
        lines.append(f"| {row['recipe']} | {seeds} | {accuracies} | {macro_f1s} "
                     f"| **{row['mean_accuracy']:.2%}** | {row['mean_macro_f1']:.3f} |")
    return "\n".join(lines)


def plot_recipes(rows, path):
    """Dots per seed, a bar at each recipe's mean, and the best mean's noise band."""
    best_accuracy, images = rows[0]["mean_accuracy"], rows[0]["images"]
    standard_error = np.sqrt(best_accuracy * (1 - best_accuracy) / images)
    figure = Figure(figsize=(7.5, 0.55 * len(rows) + 1.4))
    axes = figure.subplots()
    positions = np.arange(len(rows))[::-1]
    best = best_accuracy * 100
    axes.axvspan(best - standard_error * 100, best + standard_error * 100, color="0.9",
                 label=f"best mean ± {standard_error:.1%}: one split's standard error, "
                       f"sqrt(p (1 - p) / n), n = {images}")
    for position, row in zip(positions, rows):
        accuracies = np.array(row["accuracies"]) * 100
        axes.scatter(accuracies, np.full(len(accuracies), position), color="tab:blue", zorder=3)
        axes.plot([row["mean_accuracy"] * 100] * 2, [position - 0.3, position + 0.3],
                  color="black", linewidth=2, zorder=4)
    axes.set_yticks(positions, [row["recipe"] for row in rows])
    axes.set_xlabel("validation accuracy (%)  ·  dots: seeds, bar: mean")
    axes.legend(loc="lower left", bbox_to_anchor=(0, 1), frameon=False, fontsize="small")
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return path


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run folders (each with metrics.json)")
    parser.add_argument("--out", default=None, help="write the dot plot to this PNG")
    parser.add_argument("--html", default=None,
                        help="also write the runs' comparison page (python -m minicnn report)")
    return parser.parse_args(argv)


def main(argv=None):
    arguments = parse_arguments(argv)
    try:
        runs = [read_run(folder) for folder in arguments.runs]
        recipes = group_by_recipe(runs)
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rows = summary_rows(recipes)
    print(markdown_table(rows))
    if arguments.out:
        try:
            print(f"plot: {plot_recipes(rows, arguments.out)}")
        except OSError as error:
            print(f"error: cannot write the plot to {arguments.out}: {error.strerror or error}",
                  file=sys.stderr)
            return 2
    if arguments.html:
        try:
            check_outputs([("--html", arguments.html)], inputs=[("--out", arguments.out)])
            print(f"page: {write_comparison(arguments.runs, arguments.html)}")
        except (OutputPathError, ReportError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
