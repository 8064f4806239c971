"""The figures of an evaluation and of a run: confusion matrix, misclassified images, curves.

Each draws on its own ``matplotlib.figure.Figure`` and never touches pyplot's
global state or the matplotlib backend, so a notebook stays as it was.
"""
import numpy as np

from .files import write_figure


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
    write_figure(figure, path, dpi=110)


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
    write_figure(figure, path, dpi=100)


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
    write_figure(figure, path, dpi=100)
