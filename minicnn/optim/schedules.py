"""Learning-rate schedules: plain callables ``schedule(step) -> lr``.

The training loop sets ``optimizer.lr = schedule(step)`` before each step
(minicnn/train/config.py, ``make_schedule``, picks one from the configuration).
"""
import math

class ConstantLR:
    def __init__(self, lr):
        self.lr = lr

    def __call__(self, step):
        return self.lr


class StepLR:
    """lr * gamma ** (step // step_size)."""

    def __init__(self, lr, step_size, gamma=0.1):
        if step_size < 1:
            raise ValueError(f"StepLR step_size must be >= 1, got {step_size!r}")
        self.lr, self.step_size, self.gamma = lr, step_size, gamma

    def __call__(self, step):
        return self.lr * self.gamma ** (step // self.step_size)


class CosineLR:
    """Cosine decay from lr to min_lr over total_steps: min + (lr - min) (1 + cos(pi t / T)) / 2."""

    def __init__(self, lr, total_steps, min_lr=0.0):
        if total_steps < 1:
            raise ValueError(f"CosineLR total_steps must be >= 1, got {total_steps!r}")
        self.lr, self.total_steps, self.min_lr = lr, total_steps, min_lr

    def __call__(self, step):
        progress = min(step, self.total_steps) / self.total_steps
        return self.min_lr + (self.lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


class WarmupLR:
    """Linear warm-up over warmup_steps, then the wrapped schedule: schedule(step) * min(1, (step+1)/warmup)."""

    def __init__(self, schedule, warmup_steps):
        if warmup_steps < 0:
            raise ValueError(f"WarmupLR warmup_steps must be >= 0, got {warmup_steps!r}")
        self.schedule, self.warmup_steps = schedule, warmup_steps

    def __call__(self, step):
        scale = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
        return self.schedule(step) * scale


class OneCycleLR:
    """One-cycle (Smith 2018): linear rise from max_lr/div to max_lr over pct_start of the
    steps, then cosine decay to max_lr/final_div."""

    def __init__(self, max_lr, total_steps, pct_start=0.25, div=25.0, final_div=1e4):
        if total_steps < 2:
            raise ValueError(f"OneCycleLR total_steps must be >= 2, got {total_steps!r}")
        self.max_lr, self.total_steps = max_lr, total_steps
        self.rise_steps = max(1, int(pct_start * total_steps))
        self.start_lr, self.final_lr = max_lr / div, max_lr / final_div

    def __call__(self, step):
        if step < self.rise_steps:
            return self.start_lr + (self.max_lr - self.start_lr) * step / self.rise_steps
        progress = min(1.0, (step - self.rise_steps) / max(1, self.total_steps - self.rise_steps))
        return self.final_lr + (self.max_lr - self.final_lr) * 0.5 * (1 + math.cos(math.pi * progress))
