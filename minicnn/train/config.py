"""TrainConfig: everything that decides a training run, checked before it starts; and its schedule.

Every number is checked against its rule in minicnn/limits.py, the one table the
augmentation, the soft targets and the command lines check against too.
"""
import dataclasses

from ..data.targets import MIXES
from ..limits import LIMITS, check
from ..optim import ConstantLR, CosineLR, OneCycleLR, StepLR, WarmupLR

SCHEDULES = ("onecycle", "cosine", "step", "constant")


@dataclasses.dataclass
class TrainConfig:
    """Everything that decides a training run (saved with every checkpoint)."""
    epochs: int = 30
    batch_size: int = 64
    lr: float = 0.05                 # peak learning rate
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: str = "onecycle"       # onecycle | cosine | step | constant
    warmup_epochs: float = 0.0       # linear warm-up (cosine, step and constant only)
    flip: bool = True
    max_shift: int = 4               # random translation, pixels
    color_jitter: float = 0.0
    zoom: float = 0.0                # random scale in [1 - zoom, 1 + zoom]
    degrade: float = 0.0             # share of images shrunk, blurred or JPEG-compressed
    grayscale: float = 0.0           # share of images turned gray
    label_smoothing: float = 0.0     # soft targets (minicnn/data/targets.py)
    mix: str = "none"                # none | mixup | cutmix
    mix_alpha: float = 1.0           # lam ~ Beta(mix_alpha, mix_alpha)
    mix_probability: float = 1.0     # share of the batches that are mixed
    patience: int = 0                # early stopping: epochs without improvement (0: off)
    seed: int = 0
    eval_batch_size: int = 256
    flip_average: bool = True        # predict with the mean logits of each image and its mirror

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in LIMITS:
                check(field.name, value, "TrainConfig")
            elif field.type is bool and not isinstance(value, bool):
                raise ValueError(f"TrainConfig {field.name} must be True or False, got {value!r}")
        for name, choices in (("schedule", SCHEDULES), ("mix", MIXES)):
            if getattr(self, name) not in choices:
                raise ValueError(f"TrainConfig {name} must be one of {', '.join(choices)}, "
                                 f"got {getattr(self, name)!r}")


def make_schedule(config, steps_per_epoch):
    """The learning rate as a function of the global step."""
    total = config.epochs * steps_per_epoch
    if config.schedule == "onecycle":
        return OneCycleLR(config.lr, max(total, 2))
    if config.schedule == "cosine":
        schedule = CosineLR(config.lr, max(total, 1))
    elif config.schedule == "step":
        schedule = StepLR(config.lr, step_size=max(1, total // 3), gamma=0.1)
    else:
        schedule = ConstantLR(config.lr)
    return WarmupLR(schedule, int(config.warmup_epochs * steps_per_epoch))
