"""The valid range of every training hyperparameter, declared once.

    LIMITS["color_jitter"]                  Limit(at_least=0, less_than=1)
    check("color_jitter", 1.5)              ValueError: color_jitter must be a finite number
                                            >= 0 and < 1, got 1.5

Three places need each rule: the functions that use the value (``augment_batch``,
``soft_targets``, ``Dropout``), ``TrainConfig``, which checks a whole run's settings before it
starts, and the command lines, which refuse a bad option before any data loads
(``minicnn.cli.arguments.limited``). All three read this table, so they can never
disagree.

A number is never NaN or infinite here (``float("nan")`` parses, and slips past
every comparison written the wrong way round), and an integer is a real ``int``
(not a bool, not 2.0).
"""
import math
import numbers
from typing import NamedTuple


class Limit(NamedTuple):
    """A range: ``integer`` or a finite number, within the bounds given (None: no bound)."""
    integer: bool = False
    at_least: float | None = None
    greater_than: float | None = None
    less_than: float | None = None
    at_most: float | None = None

    def admits(self, value):
        """Whether ``value`` is of the kind and within the bounds."""
        if self.integer:
            kind_ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        else:
            kind_ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
                       and math.isfinite(value))
        return kind_ok and ((self.at_least is None or value >= self.at_least)
                            and (self.greater_than is None or value > self.greater_than)
                            and (self.less_than is None or value < self.less_than)
                            and (self.at_most is None or value <= self.at_most))

    def __str__(self):
        """The rule in words: "an integer >= 1", "a finite number >= 0 and < 1"."""
        signs = (("at_least", ">="), ("greater_than", ">"), ("less_than", "<"), ("at_most", "<="))
        bounds = [f"{sign} {getattr(self, name):g}" for name, sign in signs
                  if getattr(self, name) is not None]
        kind = "an integer" if self.integer else "a finite number"
        return " ".join([kind, " and ".join(bounds)]) if bounds else kind


LIMITS = {
    # the run
    "epochs": Limit(integer=True, at_least=1),
    "batch_size": Limit(integer=True, at_least=1),
    "eval_batch_size": Limit(integer=True, at_least=1),
    "patience": Limit(integer=True, at_least=0),
    "seed": Limit(integer=True, at_least=0),
    # the optimizer and its schedule
    "lr": Limit(greater_than=0),
    "momentum": Limit(at_least=0, less_than=1),
    "weight_decay": Limit(at_least=0),
    "warmup_epochs": Limit(at_least=0),
    # the network (the drop probability of minicnn/layers/dropout.py)
    "dropout": Limit(at_least=0, less_than=1),
    # augmentation (minicnn/data/augmentation.py)
    "max_shift": Limit(integer=True, at_least=0),
    "color_jitter": Limit(at_least=0, less_than=1),
    "zoom": Limit(at_least=0, less_than=1),
    "degrade": Limit(at_least=0, at_most=1),      # probabilities, per image (issue 21)
    "grayscale": Limit(at_least=0, at_most=1),
    # soft targets (minicnn/data/targets.py)
    "label_smoothing": Limit(at_least=0, less_than=1),
    "mix_alpha": Limit(greater_than=0),
    "mix_probability": Limit(at_least=0, at_most=1),
}


def check(name, value, owner=None):
    """ValueError naming ``name``, its rule and ``value`` unless LIMITS[name] admits it;
    ``owner`` (e.g. "TrainConfig") starts the message."""
    limit = LIMITS[name]
    if not limit.admits(value):
        who = f"{owner} {name}" if owner else name
        raise ValueError(f"{who} must be {limit}, got {value!r}")
    return value
