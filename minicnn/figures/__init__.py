"""minicnn.figures: every figure minicnn draws, and nothing else draws one.

    evaluation.py     a run and its evaluation: learning curves, the confusion matrix,
                      misclassified images
    visualization.py  seeing inside a network: top-9 projections, occlusion, feature maps,
                      filters, the three ReLU rules, class images and their history (GIF)
    explanation.py    predict --explain: a photo, its guided-backprop saliency, its occlusion map
    robustness.py     accuracy per corruption and severity (evaluate --corruptions)
    files.py          write_figure: every figure written atomically, a failure naming its file

Every function takes host arrays and a path and writes one file. Each draws on
its own ``matplotlib.figure.Figure``: no pyplot state, no change of the
matplotlib backend, so a notebook stays as it was. The maths behind the
figures (saliency, projections, occlusion) is in minicnn/visualize.

Import the module you need (``from minicnn.figures.evaluation import plot_curves``):
this package imports none of them itself, so nothing loads matplotlib until a
figure is drawn.
"""
