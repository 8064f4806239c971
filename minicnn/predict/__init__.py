"""minicnn.predict: a trained classifier, asked about photos.

    classifier.py  Classifier / load_classifier: a Trainer checkpoint as a model ready to
                   predict, with its class names and normalization, checked once
    photos.py      predict_paths: image files and folders -> each image's top classes
    explain.py     explain_prediction: why (guided-backprop saliency and occlusion, one PNG)

    classifier = Classifier.load("runs/ahe/best.npz")
    for result in predict_paths(classifier, ["photo.jpg", "holiday/"], top=3):
        print(format_result(result))
"""
from .classifier import IMAGE_SIZE, Classifier, check_classifier_meta, check_network, load_classifier
from .photos import format_result, predict_paths

__all__ = ["IMAGE_SIZE", "Classifier", "check_classifier_meta", "check_network",
           "load_classifier", "format_result", "predict_paths"]
