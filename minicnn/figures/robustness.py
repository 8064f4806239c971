"""plot_robustness: one figure of a robustness report (minicnn/evaluate/robustness.py):
accuracy per corruption, one bar per severity, with the clean accuracy and the mean as lines."""
from .files import write_figure


def plot_robustness(report, path):
    """The report's accuracies as grouped bars (corruptions along x, severities side by side)."""
    from matplotlib.figure import Figure

    names = list(dict.fromkeys(row["corruption"] for row in report["results"]))
    severities = sorted({row["severity"] for row in report["results"]})
    width = 0.8 / len(severities)
    figure = Figure(figsize=(max(6, 0.9 * len(names) + 2), 4.5))
    axis = figure.subplots()
    for offset, severity in enumerate(severities):
        rows = [(names.index(row["corruption"]), row["accuracy"]) for row in report["results"]
                if row["severity"] == severity]
        axis.bar([place + (offset - (len(severities) - 1) / 2) * width for place, _ in rows],
                 [100 * accuracy for _, accuracy in rows], width, label=f"severity {severity}")
    axis.axhline(100 * report["clean"]["accuracy"], color="black", label="clean")
    axis.axhline(100 * report["mean_accuracy"], color="black", linestyle="--",
                 label="mean under corruption")
    axis.set_xticks(range(len(names)), names, rotation=30, ha="right")
    axis.set(ylabel="accuracy (%)", ylim=(0, 100),
             title=f"{report['checkpoint'] or 'model'}: {report['images']} images, seed {report['seed']}")
    axis.grid(axis="y", alpha=0.3)
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    figure.tight_layout()
    write_figure(figure, path, dpi=100)
