"""minicnn.optim: how a step changes the weights, and how the learning rate changes over steps.

    rules.py       the update rules as pure functions of one array: sgd, sgd_momentum, adam,
                   adamw, l2_gradient (CS231n's style: next_w and the new state, nothing in place)
    optimizers.py  SGD, Adam, AdamW: walk a model, apply a rule to each parameter, keep its
                   state; the weight-decay rule (``decays``)
    schedules.py   ConstantLR, StepLR, CosineLR, WarmupLR, OneCycleLR: step -> learning rate

docs/optim.md derives SGD with momentum, Nesterov, Adam and AdamW and points at each line.
"""
from . import rules
from .optimizers import DECAYED_PARAMETERS, SGD, Adam, AdamW, Optimizer, decays
from .schedules import ConstantLR, CosineLR, OneCycleLR, StepLR, WarmupLR

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "decays", "DECAYED_PARAMETERS", "rules",
           "StepLR", "CosineLR", "WarmupLR", "OneCycleLR", "ConstantLR"]
