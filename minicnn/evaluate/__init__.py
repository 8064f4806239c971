"""minicnn.evaluate: how good a model is, on images it never trained on.

    predictions.py  predict_logits: logits for uint8 images, in eval mode, batch by batch
                    (with flip averaging); mean_cross_entropy
    metrics.py      classification_metrics (scikit-learn's metrics in one dict), format_report
    robustness.py   robustness_report: accuracy under every corruption of
                    minicnn/data/corruptions.py, and the mean; format_robustness

    logits = predict_logits(model, images, mean, std)
    report = classification_metrics(labels, logits.argmax(1), class_names)

The figures of an evaluation (confusion matrix, misclassified images) are in
minicnn/figures/evaluation.py.
"""
from .metrics import classification_metrics, format_report
from .predictions import mean_cross_entropy, predict_logits

__all__ = ["predict_logits", "mean_cross_entropy", "classification_metrics", "format_report"]
