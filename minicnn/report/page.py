"""report.html: one self-contained page per run, and one comparing runs (Jinja2 templates).

    write_report("runs/ahe")                          # -> runs/ahe/report.html
    write_comparison(["runs/a", "runs/b"], "compare.html")

Everything is inline: images as data: URIs, the charts as SVG, the style and
the little script in the page. Its Content-Security-Policy forbids any fetch
(no connect, no external image, script or style), so the page reads the same
offline, from a mail attachment or a USB stick. The templates
(minicnn/report/templates/) autoescape: a class or file name is text, never markup.

The sections, in order, are SECTIONS; each is always there, holding either its
content or one sentence saying why it is empty (an unfinished run has no test
scores, a run never visualized has no deconvnet figures).
"""
import base64
import datetime
import io
import os

import numpy as np

from ..evaluate import classification_metrics
from ..io.atomic import atomic_write_text
from .charts import Series, line_chart
from .run_data import read_run

REPORT = "report.html"
# a figure PNG larger than this is embedded as a JPEG (the deconvnet figures are 1-2 MB each)
PNG_EMBED_LIMIT = 200_000
JPEG_QUALITY = 85
SECTIONS = (("run", "The run"), ("curves", "Curves"), ("split", "Data split"),
            ("scores", "Scores"), ("per-class", "Per-class precision, recall and F1"),
            ("confusion", "Confusion matrix"), ("confused-pairs", "Most confused pairs"),
            ("misclassified", "Misclassified validation images"),
            ("robustness", "Robustness to corruptions"), ("visualizations", "Inside the network"))
COMPARISON_SECTIONS = (("runs", "Final figures"), ("curves", "Curves"))
CONFUSED_PAIRS = 10
# Content-Security-Policy: nothing may be fetched; only the page's own inline parts run.
POLICY = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
          "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")


def environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
    return Environment(loader=FileSystemLoader(folder), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def write_report(folder, out=None):
    """Read the run folder and write its page (atomically) -> the page's path."""
    run = read_run(folder)
    out = os.path.join(folder, REPORT) if out is None else out
    atomic_write_text(out, render_report(run))
    return out


def write_comparison(folders, out):
    """One page comparing the runs in ``folders`` (written atomically) -> ``out``."""
    runs = [read_run(folder) for folder in folders]
    atomic_write_text(out, render_comparison(runs))
    return out


def render_report(run):
    template = environment().get_template("report.html.j2")
    evaluation = validation_evaluation(run)
    return template.render(
        policy=POLICY, sections=SECTIONS, run=run, title=f"{run.name}: minicnn run report",
        written=now(), progress=progress(run), facts=run_facts(run), charts=run_charts(run),
        scores=score_rows(run, evaluation), evaluation=evaluation,
        confusion=confusion_table(evaluation), pairs=confused_pairs(evaluation),
        gallery=gallery(run), robustness=run.robustness,
        robustness_png=data_uri(run.robustness_png) if run.robustness_png else None,
        figures=[(heading, [(os.path.relpath(path, run.folder), figure_uri(path))
                            for path in paths]) for heading, paths in run.figures])


def render_comparison(runs):
    template = environment().get_template("compare.html.j2")
    names = [run.name for run in runs]   # the title is short; the table and legends say
                                         # the folders, which tell runs/a/ahe from runs/b/ahe
    return template.render(policy=POLICY, sections=COMPARISON_SECTIONS, runs=runs,
                           title=f"minicnn: {', '.join(names)} compared", written=now(),
                           rows=[comparison_row(run) for run in runs],
                           charts=comparison_charts(runs))


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def data_uri(path, kind="image/png"):
    with open(path, "rb") as file:
        return f"data:{kind};base64,{base64.b64encode(file.read()).decode('ascii')}"


def figure_uri(path):
    """A figure as a data: URI: the PNG itself, or, beyond PNG_EMBED_LIMIT bytes, a JPEG of it
    (on white; a fifth of the size for the photo-like deconvnet panels)."""
    if os.path.getsize(path) <= PNG_EMBED_LIMIT:
        return data_uri(path)
    from PIL import Image
    with Image.open(path) as image:
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
    buffer = io.BytesIO()
    flat.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return f"data:image/jpeg;base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def thumbnail_uri(image):
    """A (3, H, W) uint8 image as a JPEG data: URI (a tenth of a PNG's size at 64x64)."""
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(np.transpose(image, (1, 2, 0)))).save(
        buffer, format="JPEG", quality=90)
    return f"data:image/jpeg;base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


# --- the run -------------------------------------------------------------------------------
def planned_epochs(run):
    configuration = (run.run_info or {}).get("configuration") or {}
    return configuration.get("epochs")


def progress(run):
    """One sentence: how far the run had got when the page was written."""
    epochs = len(run.history or [])
    planned = planned_epochs(run)
    of = f" of {planned}" if planned else ""
    if run.metrics is not None:
        return f"finished: {run.metrics.get('epochs_run', epochs)} epochs{of}"
    if epochs:
        return f"in progress or stopped: {epochs} epoch{'s' if epochs != 1 else ''}{of} so far"
    return "no epoch finished yet"


def run_facts(run):
    """[(label, value)] for the run section: command, seed, machine, versions, timing."""
    info = run.run_info or {}
    metrics = run.metrics or {}
    machine = info.get("machine") or metrics.get("machine") or {}
    facts = [("command", info.get("command") or metrics.get("command")),
             ("seed", info.get("seed", metrics.get("seed"))),
             ("started", info.get("started")),
             ("machine", ", ".join(f"{machine[key]}" for key in ("platform", "processor")
                                   if machine.get(key)) +
              (f", {machine['cpu_count']} cores" if machine.get("cpu_count") else "")),
             ("backend", machine.get("backend")),
             ("versions", ", ".join(f"{key} {machine[key]}" for key in ("python", "numpy",
                                                                       "minicnn")
                                    if machine.get(key)))]
    history = run.history or []
    wall = metrics.get("wall_seconds")
    if wall is None and history:
        wall = sum(row.get("train_seconds", 0) + row.get("val_seconds", 0) for row in history)
        facts.append(("time so far", f"{wall:.0f} s in {len(history)} epochs (training and "
                                     "validation)"))
    elif wall is not None:
        facts.append(("wall time", f"{wall:.0f} s, loading, training and scoring"))
    speeds = [row["images_per_second"] for row in history if "images_per_second" in row]
    if speeds:
        facts.append(("training speed", f"{np.median(speeds):.0f} images/s (median over "
                                        f"{len(speeds)} epochs)"))
    if "best_epoch" in metrics:
        facts.append(("best epoch", metrics["best_epoch"]))
    return [(label, value) for label, value in facts if value not in (None, "")]


def history_series(history, key, label):
    return Series(label, [row["epoch"] for row in history], [row.get(key) for row in history])


def run_charts(run):
    """[(id, svg)] of the run's curves; [] without history.json."""
    history = run.history or []
    if not history:
        return []
    return [("loss", line_chart("loss", "cross-entropy",
                                [history_series(history, "train_loss", "train"),
                                 history_series(history, "val_loss", "validation")])),
            ("accuracy", line_chart("accuracy", "accuracy",
                                    [history_series(history, "train_accuracy", "train"),
                                     history_series(history, "val_accuracy", "validation")])),
            ("macro-f1", line_chart("validation macro-F1", "macro-F1",
                                    [history_series(history, "val_macro_f1", "validation")])),
            ("lr", line_chart("learning rate at the end of each epoch", "learning rate",
                              [history_series(history, "lr", "learning rate")]))]


# --- scores ----------------------------------------------------------------------------------
def validation_evaluation(run):
    """The validation metrics the tables show, and where they are from; None without either
    validation_predictions.npz or metrics.json's validation scores."""
    predictions = run.predictions
    if predictions is not None:
        metrics = classification_metrics(predictions.labels, predictions.predictions,
                                         predictions.class_names)
        best = (run.metrics or {}).get("best_epoch")
        source = (f"the {len(predictions.labels)} validation images, predicted by the weights of "
                  f"epoch {predictions.epoch}" +
                  (" (the best epoch, as in best.npz)" if best in (None, predictions.epoch)
                   else ""))
        return {"metrics": metrics, "source": source, "class_names": predictions.class_names}
    validation = (run.metrics or {}).get("validation")
    if isinstance(validation, dict) and "per_class" in validation:
        return {"metrics": validation, "class_names": list(validation["per_class"]),
                "source": f"metrics.json: the {validation.get('num_images', '?')} validation "
                          "images, predicted by best.npz"}
    return None


def score_rows(run, evaluation):
    """[{"split", "images", "accuracy", "balanced_accuracy", "macro_f1"}] for the scores table."""
    rows = []
    if evaluation is not None:
        rows.append(summary("validation", evaluation["metrics"]))
    test = (run.metrics or {}).get("test")
    if isinstance(test, dict) and "accuracy" in test:
        rows.append(summary("test", test))
    return rows


def summary(split, metrics):
    return {"split": split, "images": metrics.get("num_images"),
            "accuracy": metrics.get("accuracy"),
            "balanced_accuracy": metrics.get("balanced_accuracy"),
            "macro_f1": metrics.get("macro_f1")}


def confusion_table(evaluation):
    """{"names", "rows": [(true name, [(count, share of the row), ...], total)]} or None."""
    if evaluation is None:
        return None
    matrix = np.asarray(evaluation["metrics"]["confusion_matrix"], dtype=np.int64)
    totals = matrix.sum(axis=1)
    shares = matrix / np.maximum(totals, 1)[:, None]
    return {"names": evaluation["class_names"],
            "rows": [(name, list(zip(matrix[i].tolist(), shares[i].tolist())), int(totals[i]))
                     for i, name in enumerate(evaluation["class_names"])]}


def confused_pairs(evaluation, limit=CONFUSED_PAIRS):
    """[{"true_class", "predicted_class", "images", "share" (of the true class)}], most
    frequent first."""
    if evaluation is None:
        return []
    matrix = np.asarray(evaluation["metrics"]["confusion_matrix"], dtype=np.int64)
    names = evaluation["class_names"]
    totals = np.maximum(matrix.sum(axis=1), 1)
    pairs = [(int(matrix[i, j]), names[i], names[j], matrix[i, j] / totals[i])
             for i in range(len(names)) for j in range(len(names)) if i != j and matrix[i, j]]
    pairs.sort(key=lambda pair: -pair[0])   # stable: equal counts keep the matrix order
    return [{"true_class": true_class, "predicted_class": predicted, "images": count,
             "share": float(share)} for count, true_class, predicted, share in pairs[:limit]]


def gallery(run):
    """The misclassified images of largest loss: [{"uri", "file", "true", "predicted", ...}]."""
    predictions = run.predictions
    if predictions is None:
        return None
    losses = predictions.losses()
    names = predictions.class_names
    items = []
    for index, image in zip(predictions.gallery_indices.tolist(), predictions.gallery_images):
        label, guess = predictions.labels[index], predictions.predictions[index]
        items.append({"uri": thumbnail_uri(image), "file": predictions.files[index],
                      "true": names[label], "predicted": names[guess],
                      "p_predicted": float(predictions.probabilities[index, guess]),
                      "p_true": float(predictions.probabilities[index, label]),
                      "loss": float(losses[index])})
    wrong = int(np.sum(predictions.predictions != predictions.labels))
    return {"items": items, "wrong": wrong, "images": len(predictions.labels),
            "epoch": predictions.epoch}


# --- comparison ------------------------------------------------------------------------------
def comparison_row(run):
    """The final figures of one run, for the side-by-side table."""
    metrics, history = run.metrics or {}, run.history or []
    validation, test = metrics.get("validation") or {}, metrics.get("test") or {}
    speeds = [row["images_per_second"] for row in history if "images_per_second" in row]
    best = max(history, key=lambda row: row.get("val_accuracy", -1), default={})
    return {"name": run.folder, "epochs": len(history) or None, "best_epoch":
            metrics.get("best_epoch", best.get("epoch")),
            "val_accuracy": validation.get("accuracy", best.get("val_accuracy")),
            "val_macro_f1": validation.get("macro_f1", best.get("val_macro_f1")),
            "test_accuracy": test.get("accuracy"), "test_macro_f1": test.get("macro_f1"),
            "wall_seconds": metrics.get("wall_seconds"),
            "images_per_second": float(np.median(speeds)) if speeds else None,
            "finished": run.metrics is not None}


def comparison_charts(runs):
    """[(id, svg)]: each curve with one line per run; [] when no run has history.json."""
    with_history = [run for run in runs if run.history]
    if not with_history:
        return []
    curves = (("val-accuracy", "validation accuracy", "accuracy", "val_accuracy"),
              ("val-macro-f1", "validation macro-F1", "macro-F1", "val_macro_f1"),
              ("val-loss", "validation loss", "cross-entropy", "val_loss"),
              ("train-loss", "training loss", "cross-entropy", "train_loss"),
              ("lr", "learning rate at the end of each epoch", "learning rate", "lr"))
    return [(chart_id, line_chart(title, ylabel,
                                  [history_series(run.history, key, run.folder)
                                   for run in with_history]))
            for chart_id, title, ylabel, key in curves]
