"""How close two sets of logits are, on the scale of the logits themselves."""
import numpy as np


def relative_difference(actual, reference):
    """max |actual - reference| / max |reference|, in float64.

    Relative to the largest logit rather than element by element: float32
    rounding leaves differences of about 1e-7 of that scale everywhere, which
    element-wise would look huge next to a logit that happens to be near 0.
    """
    actual = np.asarray(actual, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if actual.shape != reference.shape:
        raise ValueError(f"cannot compare logits of shapes {actual.shape} and {reference.shape}")
    scale = max(float(np.max(np.abs(reference), initial=0.0)), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(actual - reference), initial=0.0)) / scale
