"""Learning-rate schedules as one multiplier of each group's base lr.

Every schedule (with its optional linear warmup) is a pure function of the
optimizer step, times a plateau factor that reduce-on-plateau lowers between
epochs. One object, one state dict, no chain of torch schedulers to keep in step.
"""

from __future__ import annotations

import math
from typing import Any

from workflow.trainer.config import ScheduleConfig


class LrSchedule:
    def __init__(self, config: ScheduleConfig, steps_per_epoch: int, epochs: int):
        self.config = config
        self.total = max(1, steps_per_epoch * epochs)
        self.warmup = round(config.warmup_epochs * steps_per_epoch)
        self.steps_per_epoch = steps_per_epoch
        self.plateau_scale = 1.0
        self.best: float | None = None
        self.bad_epochs = 0
        # a constant schedule needs setting once per stage, not once per step
        self.varies = config.name not in ("none", "plateau") or self.warmup > 0

    def factor(self, step: int) -> float:
        """The multiplier of the base lr at optimizer step `step` (0-based)."""
        c = self.config
        if c.name == "onecycle":
            return self._onecycle(step)
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        after = step - self.warmup
        span = max(1, self.total - self.warmup)
        progress = min(1.0, after / span)
        if c.name == "step":
            value = c.gamma ** (step // (c.step_epochs * self.steps_per_epoch))
        elif c.name == "cosine":
            value = c.min_lr_ratio + (1 - c.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
        elif c.name == "linear":
            value = 1 - (1 - c.min_lr_ratio) * progress
        else:  # none and plateau
            value = 1.0
        return value * self.plateau_scale

    def _onecycle(self, step: int) -> float:
        # ramp from peak/25 to the peak over the first 30% (or the warmup), then cosine to ~0
        peak = self.config.max_lr_ratio
        rise = self.warmup or max(1, round(0.3 * self.total))
        if step < rise:
            return peak / 25 + (peak - peak / 25) * step / rise
        progress = min(1.0, (step - rise) / max(1, self.total - rise))
        return peak * (1e-4 + (1 - 1e-4) * 0.5 * (1 + math.cos(math.pi * progress)))

    def end_epoch(self, monitored: float, mode: str) -> bool:
        """Reduce-on-plateau: lower the lr after `plateau_patience` epochs without improvement.

        Returns whether the lr changed.
        """
        if self.config.name != "plateau":
            return False
        improved = self.best is None or (
            monitored < self.best if mode == "min" else monitored > self.best
        )
        if improved:
            self.best, self.bad_epochs = monitored, 0
            return False
        self.bad_epochs += 1
        if self.bad_epochs > self.config.plateau_patience:
            self.plateau_scale *= self.config.plateau_factor
            self.bad_epochs = 0
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        return {
            "plateau_scale": self.plateau_scale,
            "best": self.best,
            "bad_epochs": self.bad_epochs,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.plateau_scale = float(state["plateau_scale"])
        self.best = state["best"]
        self.bad_epochs = int(state["bad_epochs"])
