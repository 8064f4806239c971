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


# float32 rounding through a converted graph stays near 1e-6 of the largest logit; a wrong
# conversion (a transposed weight, a missed normalisation) is off by far more
AGREEMENT_TOLERANCE = 1e-4


def agreement(what, difference, check):
    """-> (agrees, one line for the user): ``what`` against minicnn, ``difference`` from
    ``relative_difference`` on ``check`` (the inputs, in words)."""
    if difference <= AGREEMENT_TOLERANCE:
        return True, (f"{what} agrees with minicnn to {difference:.1e} (largest logit difference "
                      f"/ largest logit, {check})")
    return False, (f"{what} DISAGREES with minicnn: {difference:.1e} of the largest logit, over "
                   f"the tolerance {AGREEMENT_TOLERANCE:g} ({check}); the file is not a faithful "
                   "copy")
