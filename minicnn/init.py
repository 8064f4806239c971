"""Weight initialisation, drawn from the backend's seeded RNG."""
import math


def he_normal(rng, shape, fan_in, dtype):
    """He (Kaiming) normal init: N(0, 2 / fan_in), right for layers followed by ReLU.

    He et al. 2015, "Delving Deep into Rectifiers": keeping Var(W) = 2 / fan_in
    keeps the activation variance constant through a ReLU network.
    """
    return rng.standard_normal(shape, dtype=dtype) * math.sqrt(2.0 / fan_in)
