"""DivergenceGuard: what every step left, read from the device in batches, and checked.

After every step the loss, every weight and every BatchNorm statistic must be
finite. A step whose loss was finite can still leave NaN weights (its update
overflowed) or infinite running variances, which only eval mode uses. The
first step that fails stops training with TrainingDiverged, naming its batch
and learning rate.

On a GPU every host read waits for the device to finish, so the guard keeps
each step's loss, hit count and finiteness flags on the device (a StepRecord)
and reads them once per ``sync_every`` steps, not once per step.
"""
import math
import typing


class TrainingDiverged(RuntimeError):
    """The loss, the weights or the BatchNorm statistics became NaN or infinite."""


class StepRecord(typing.NamedTuple):
    """One training step, as kept on the device until the next host read."""
    batch: int
    lr: float
    loss: object            # device scalar
    correct: object         # device scalar: hits in the batch
    size: int
    finite: object          # device booleans: each parameter and buffer finite after the step


class DivergenceGuard:
    """Collects StepRecords of ``model``'s steps and checks them ``sync_every`` at a time.

    ``totals`` sums the loss, hits and images of the steps checked so far in the
    epoch; ``last_step`` is the last StepRecord that passed. ``describe_run()``
    says where the run stands (the epoch, the checkpoints on disk) for the
    message of a TrainingDiverged.
    """

    def __init__(self, model, sync_every, describe_run):
        if not isinstance(sync_every, int) or sync_every < 1:
            raise ValueError(f"sync_every must be an integer >= 1, got {sync_every!r}")
        self.model = model
        self.sync_every = sync_every
        self.describe_run = describe_run
        self.window = []            # StepRecords, still on the device
        self.last_step = None
        self.totals = {}
        self.start_epoch()

    def start_epoch(self):
        self.totals = {"loss": 0.0, "correct": 0, "seen": 0}

    def watched_arrays(self):
        """{key: array} of every parameter and buffer (BatchNorm's running statistics)."""
        return {**self.model.params, **self.model.buffers}

    def record(self, batch, lr, loss, correct, size):
        """Keep one step's results; -> True when this made the window full and it was checked."""
        xp = self.model.backend.xp
        finite = xp.stack([xp.isfinite(array).all() for array in self.watched_arrays().values()])
        self.window.append(StepRecord(batch, lr, loss, correct, size, finite))
        if len(self.window) < self.sync_every:
            return False
        self.check()
        return True

    def check(self):
        """Bring the window's losses, hit counts and flags to the host in one read and check them."""
        if not self.window:
            return
        xp = self.model.backend.xp
        window, self.window = self.window, []
        losses = xp.stack([step.loss for step in window])
        columns = [losses, xp.stack([step.correct for step in window]).astype(losses.dtype)]
        flags = xp.stack([step.finite for step in window]).astype(losses.dtype)   # (steps, arrays)
        stats = self.model.backend.to_host(xp.concatenate([xp.stack(columns, axis=1), flags], axis=1))
        keys = list(self.watched_arrays())
        for step, (loss_value, correct, *finite) in zip(window, stats):
            if not math.isfinite(loss_value):
                raise self.diverged(step, f"the loss became {loss_value}")
            if not all(finite):
                raise self.diverged(step, "the update left non-finite values in "
                                          + self.describe(keys, finite))
            self.last_step = step
            self.totals["loss"] += float(loss_value) * step.size
            self.totals["correct"] += int(correct)
            self.totals["seen"] += step.size

    def describe(self, keys, finite):
        """The non-finite arrays of one step, e.g. "1.running_var (BatchNorm2D)"."""
        bad = [key for key, ok in zip(keys, finite) if not ok]
        named = [f"{key} ({type(self.model.layers[int(key.split('.')[0])]).__name__})"
                 for key in bad[:3]]
        return ", ".join(named) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")

    def diverged(self, step, what):
        """The TrainingDiverged error for ``what`` going wrong at ``step`` (a StepRecord)."""
        where, kept = self.describe_run()
        return TrainingDiverged(f"training diverged at {where}, batch {step.batch} "
                                f"(lr {step.lr:.3g}): {what}. Stopped; {kept}. Try a lower --lr.")
