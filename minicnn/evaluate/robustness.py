"""Robustness: one model's accuracy on a set of images under every corruption of
minicnn/data/corruptions.py, and the mean over them (the headline figure, as in ImageNet-C).

    report = robustness_report(model, images, labels, mean, std, class_names, seed=0)
    print(format_robustness(report))

The images are corrupted with a fixed seed, image by image, so two checkpoints
scored on the same folder with the same seed meet exactly the same corrupted
images. The report is the dict ``python -m minicnn evaluate --corruptions --json``
writes and examples/train_ahe.py saves as runs/<name>/robustness.json:

    {"checkpoint", "images", "seed", "clean": {"accuracy", "macro_f1"}, "mean_accuracy",
     "results": [{"corruption", "severity", "accuracy", "macro_f1"}, ...]}
"""
import numpy as np

from ..data.corruptions import CORRUPTIONS, SEVERITIES, corrupt_images, corruption_levels
from .metrics import classification_metrics
from .predictions import predict_logits


def robustness_report(model, images, labels, mean, std, class_names, severities=SEVERITIES,
                      corruptions=None, seed=0, flip_average=False, batch_size=256,
                      checkpoint=""):
    """Score ``model`` on uint8 ``images`` (N, 3, S, S) with ``labels`` (N,), clean and under
    each (corruption, severity) of ``corruption_levels(severities, corruptions)`` -> the report."""

    def scores(pixels):
        logits = predict_logits(model, pixels, mean, std, batch_size, flip_average)
        metrics = classification_metrics(labels, logits.argmax(axis=1), class_names)
        return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}

    scored = {}   # (corruption, its parameter) -> scores: grayscale is the same at every severity
    results = []
    for name, severity in corruption_levels(severities, corruptions):
        key = (name, CORRUPTIONS[name][severity - 1])
        if key not in scored:
            scored[key] = scores(corrupt_images(images, name, severity, seed))
        results.append({"corruption": name, "severity": severity, **scored[key]})
    return {"checkpoint": str(checkpoint), "images": int(len(images)), "seed": int(seed),
            "clean": scores(images),
            "mean_accuracy": float(np.mean([row["accuracy"] for row in results])),
            "results": results}


def format_robustness(report):
    """The report as a text table: one row per corruption, one column per severity, then the mean."""
    severities = sorted({row["severity"] for row in report["results"]})
    names = list(dict.fromkeys(row["corruption"] for row in report["results"]))
    accuracy = {(row["corruption"], row["severity"]): row["accuracy"] for row in report["results"]}
    lines = [f"robustness of {report['checkpoint'] or 'the model'} on {report['images']} images "
             f"(seed {report['seed']}): accuracy",
             f"  {'corruption':<12}" + "".join(f"{'severity ' + str(s):>12}" for s in severities),
             f"  {'none':<12}{100 * report['clean']['accuracy']:>11.2f}%"]
    for name in names:
        cells = [f"{100 * accuracy[name, s]:>11.2f}%" if (name, s) in accuracy else f"{'-':>12}"
                 for s in severities]
        lines.append(f"  {name:<12}" + "".join(cells))
    lines.append(f"  mean accuracy under corruption {100 * report['mean_accuracy']:.2f}% "
                 f"(clean {100 * report['clean']['accuracy']:.2f}%, "
                 f"macro-F1 {report['clean']['macro_f1']:.3f})")
    return "\n".join(lines)
