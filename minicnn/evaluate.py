"""Evaluation: predictions, metrics (scikit-learn's, never re-written) and their plots.

    logits = predict_logits(model, images, mean, std)
    report = classification_metrics(labels, logits.argmax(1), class_names)

The plots draw on their own ``matplotlib.figure.Figure`` and never touch
pyplot's global state or the matplotlib backend, so a notebook stays as it was.
"""
import numpy as np

from .data import normalize
from .functional.loss import log_softmax


def predict_logits(model, images, mean, std, batch_size=256, flip_average=False):
    """Logits for uint8 images (N, 3, H, W), in eval mode, batch by batch -> (N, classes) NumPy.

    ``flip_average`` averages the logits of each image and its mirror image
    (test-time augmentation; the network was trained with random flips).
    """
    backend = model.backend
    was_training = model.training
    model.eval()
    outputs = []
    for start in range(0, len(images), batch_size):
        batch = backend.to_device(normalize(images[start:start + batch_size], mean, std))
        logits = model.forward(batch)
        if flip_average:
            logits = (logits + model.forward(batch[:, :, :, ::-1].copy())) / 2
        outputs.append(backend.to_host(logits))
    if was_training:
        model.train()
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), dtype=np.float32)


def mean_cross_entropy(logits, labels):
    """Mean softmax cross-entropy of host logits, for reporting (float64)."""
    log_probs = log_softmax(logits.astype(np.float64))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def classification_metrics(labels, predictions, class_names):
    """Accuracy, balanced accuracy, per-class precision / recall / F1, macro-F1, confusion matrix.

    The macro averages (balanced accuracy, the mean recall; macro-F1) are over
    the classes that have images in ``labels``, listed as
    ``macro_average_classes``: on a folder holding 3 of 10 classes, the 7
    absent ones would otherwise each add an F1 of 0. Per-class rows and the
    confusion matrix cover every class.
    """
    from sklearn import metrics

    class_indices = list(range(len(class_names)))
    present = sorted(set(np.asarray(labels).tolist()))
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        labels, predictions, labels=class_indices, zero_division=0)
    return {
        "accuracy": float(metrics.accuracy_score(labels, predictions)),
        "balanced_accuracy": float(metrics.recall_score(labels, predictions, labels=present,
                                                        average="macro", zero_division=0)),
        "macro_f1": float(metrics.f1_score(labels, predictions, labels=present,
                                           average="macro", zero_division=0)),
        "macro_average_classes": [class_names[index] for index in present],
        "per_class": {name: {"precision": float(precision[i]), "recall": float(recall[i]),
                             "f1": float(f1[i]), "support": int(support[i])}
                      for i, name in enumerate(class_names)},
        "confusion_matrix": metrics.confusion_matrix(labels, predictions,
                                                     labels=class_indices).tolist(),
        "num_images": int(len(labels)),
    }


def format_report(metrics_dict, title="evaluation"):
    """The metrics as a readable text table."""
    averaged, every = metrics_dict["macro_average_classes"], list(metrics_dict["per_class"])
    coverage = (f"macro averages over all {len(every)} classes" if len(averaged) == len(every) else
                f"macro averages over the {len(averaged)} of {len(every)} classes with images "
                f"here: {', '.join(averaged)}")
    lines = [f"{title}: {metrics_dict['num_images']} images",
             f"  accuracy          {metrics_dict['accuracy']:.4f}",
             f"  balanced accuracy {metrics_dict['balanced_accuracy']:.4f}",
             f"  macro-F1          {metrics_dict['macro_f1']:.4f}",
             f"  ({coverage})",
             "",
             f"  {'class':<18}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for name, row in metrics_dict["per_class"].items():
        lines.append(f"  {name:<18}{row['precision']:>10.3f}{row['recall']:>10.3f}"
                     f"{row['f1']:>10.3f}{row['support']:>10}")
    return "\n".join(lines)


def plot_confusion_matrix(confusion, class_names, path, title="confusion matrix"):
    """The confusion matrix with its counts, as a PNG."""
    from matplotlib.figure import Figure
    from sklearn.metrics import ConfusionMatrixDisplay

    confusion = np.asarray(confusion)
    figure = Figure(figsize=(9, 8))
    axes = figure.subplots()
    ConfusionMatrixDisplay(confusion, display_labels=class_names).plot(
        ax=axes, cmap="Blues", xticks_rotation=45, colorbar=False, values_format="d")
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def plot_misclassified(images, labels, predictions, class_names, path, limit=30, probabilities=None):
    """A grid of misclassified images titled "true -> predicted" (uint8 (N, 3, H, W))."""
    from matplotlib.figure import Figure

    wrong = np.flatnonzero(labels != predictions)[:limit]
    columns = 6
    rows = max(1, int(np.ceil(len(wrong) / columns)))
    figure = Figure(figsize=(columns * 2.0, rows * 2.3))
    axes = figure.subplots(rows, columns)
    for axis in np.ravel(axes):
        axis.axis("off")
    for axis, index in zip(np.ravel(axes), wrong):
        axis.imshow(images[index].transpose(1, 2, 0))
        title = f"{class_names[labels[index]]}\n-> {class_names[predictions[index]]}"
        if probabilities is not None:
            title += f" ({probabilities[index, predictions[index]]:.2f})"
        axis.set_title(title, fontsize=7)
    figure.suptitle(f"misclassified: {len(wrong)} shown of {int(np.sum(labels != predictions))}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def plot_curves(history, path):
    """Loss and accuracy per epoch, train vs validation, as a PNG."""
    from matplotlib.figure import Figure

    epochs = [row["epoch"] for row in history]
    figure = Figure(figsize=(11, 4))
    loss_axis, accuracy_axis = figure.subplots(1, 2)
    loss_axis.plot(epochs, [row["train_loss"] for row in history], label="train")
    loss_axis.plot(epochs, [row["val_loss"] for row in history], label="validation")
    loss_axis.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    accuracy_axis.plot(epochs, [row["train_accuracy"] for row in history], label="train")
    accuracy_axis.plot(epochs, [row["val_accuracy"] for row in history], label="validation")
    accuracy_axis.plot(epochs, [row["val_macro_f1"] for row in history], label="validation macro-F1",
                       linestyle="--")
    accuracy_axis.set(xlabel="epoch", ylabel="score", title="accuracy")
    for axis in (loss_axis, accuracy_axis):
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
