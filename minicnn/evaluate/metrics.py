"""Metrics: scikit-learn's, never re-written, gathered into one dict and one text table.

    report = classification_metrics(labels, logits.argmax(1), class_names)
    print(format_report(report))
"""
import numpy as np


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
