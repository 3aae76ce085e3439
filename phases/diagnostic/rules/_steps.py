"""The learning rate against the batch size: a batch so large that the run takes few steps.

An epoch is ceil(train / batch) optimizer steps. With a batch near the size of the
training split the run takes a handful of steps per epoch, and at an lr tuned for
small batches it barely moves (Goyal et al., 2017: the lr scales with the batch).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from phases.diagnostic.answers import Recommendation
from phases.diagnostic.evidence import Evidence
from phases.diagnostic.rules._base import Finding, Rule, Severity
from phases.diagnostic.rules._optimizer import loss_fall

if TYPE_CHECKING:
    from phases.diagnostic.answers import Context, Priority

__all__ = ["FewSteps", "steps"]

FEW_STEPS_PER_EPOCH = 4
STEPS_PER_EPOCH_WANTED = 16  # the batch recommended gives at least this many steps an epoch
SMALLEST_BATCH = 16


def steps(ev: Evidence) -> tuple[int, int, int] | None:
    """(training samples, steps per epoch, steps in the run); None: the split's size unknown."""
    sizes = [run.train_size for run in ev.runs if run.train_size]
    if not sizes:
        return None
    size = min(sizes)
    per_epoch = math.ceil(size / ev.config.data.batch_size)
    return size, per_epoch, per_epoch * ev.config.training.epochs


class FewSteps(Rule):
    id = "few_steps"
    reads = ("data.batch_size", "training.epochs")
    title = "Too few optimizer steps: the batch is too large for the lr and the data"
    hides_others = True
    answers = ("smaller_batch",)
    settings = ("data.batch_size",)

    def check(self, ev: Evidence) -> Finding | None:
        counted = steps(ev)
        if counted is None:
            return None
        size, per_epoch, total = counted
        # the batch is the cause only when an epoch is a handful of steps; a short run of
        # many-step epochs is too few epochs (not_converged's to say)
        if per_epoch >= FEW_STEPS_PER_EPOCH:
            return None
        fall = loss_fall(ev)
        slow = fall is not None and fall.slow
        severity: Severity = "high" if slow else "low"
        batch = ev.config.data.batch_size
        text = (f"batch {batch} on {size} training samples is {per_epoch} steps an epoch "
                f"(under {FEW_STEPS_PER_EPOCH}), {total} in the whole run, at lr "
                f"{ev.config.optimizer.lr:g}")
        if fall is not None:
            text += f"; train loss fell {100 * fall.reduction:.0f}% over the run"
        return self.found(severity, {"batch_size": batch, "train_size": size,
                                     "steps_per_epoch": per_epoch, "steps_total": total,
                                     "slow": slow, **(fall.numbers() if fall else {})}, text)

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        size = int(finding.evidence.get("train_size", 0))
        batch = ctx.config.data.batch_size
        wanted = max(SMALLEST_BATCH, 2 ** int(math.log2(max(1, size // STEPS_PER_EPOCH_WANTED))))
        if wanted >= batch:
            return []
        return [Recommendation(
            name="smaller_batch",
            title=f"Use a smaller batch ({batch} -> {wanted})",
            priority=primary,
            changes={"data.batch_size": wanted},
            finding=self.id,
            rationale=f"{math.ceil(size / wanted)} steps an epoch instead of "
            f"{math.ceil(size / batch)}: the lr was set for steps of this size",
            expected_gain=ctx.prior(self.id, 0.3, 0.9),
            risk="smaller batches take longer an epoch on a device that is not saturated",
            cost=1.5,
        )]
