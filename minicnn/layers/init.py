"""Initial weights, drawn on the host from an explicit random generator.

Every layer with parameters takes ``rng`` (a NumPy Generator, an int seed, or
None for fresh entropy) and draws its weights from it when it is built, as a
PyTorch module does. Nothing re-initialises them later unless asked
(``Layer.reset_parameters``, ``Sequential.reset_parameters``), so weights a
user sets survive. A model is reproducible when its layers share one seeded
generator: minicnn/models/architectures.py builds its networks that way.

The arrays are NumPy float32 on the host; a model moves them onto its backend,
so a given seed gives the same starting weights on every backend.
"""
import math

import numpy as np


def generator(rng=None):
    """None (fresh entropy), an int seed, or a Generator (returned as it is) -> a numpy Generator."""
    return np.random.default_rng(rng)


def he_normal(rng, shape, fan_in, dtype="float32"):
    """He (Kaiming) normal init: N(0, 2 / fan_in), right for layers followed by ReLU.

    He et al. 2015, "Delving Deep into Rectifiers": keeping Var(W) = 2 / fan_in
    keeps the activation variance constant through a ReLU network.
    """
    return generator(rng).standard_normal(shape, dtype=dtype) * math.sqrt(2.0 / fan_in)


def constant(shape, value, dtype="float32"):
    """An array of ``value`` (zeros for biases and beta, ones for gamma and variances)."""
    return np.full(shape, value, dtype=dtype)
