"""Targeted: apply Phase 3's HIGH and MEDIUM recommendations at once, train, compare.

The first attempt applies Phase 3's plan to the baseline as it stands (even a
recommendation that changes nothing: its evidence says so). Later attempts (after
B) apply the next recommendations of the diagnosis of the best arm so far, to it.
A change set an earlier attempt tried is never tried again (targeted.select).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from phases.optimization.iterative import next_recommendations
from phases.optimization.targeted import AttemptPlan, Mode, apply, select
from workflow.strategy import AttemptResult, Strategy

if TYPE_CHECKING:
    from phases.optimization.context import Context
    from workflow.arms import Arm

__all__ = ["TargetedStrategy"]


class TargetedStrategy(Strategy):
    """Every HIGH and MEDIUM recommendation in one attempt (the top three when none)."""

    #: how many recommendations an attempt takes (targeted.select)
    mode: ClassVar[Mode] = "targeted"

    def plan(self, context: Context, attempt: int) -> AttemptPlan | None:
        best, record = context.best()
        tried = context.tried()
        if record is None:
            source = "phase3"
            chosen = select(context.phase3_recommendations(), mode=self.mode, tried=tried)
        else:
            diagnosis = context.rediagnose(best, record)
            source = f"the diagnosis of {best.label}"
            chosen = next_recommendations(
                diagnosis.recommendations, base=best.config, tried=tried, mode=self.mode
            )
        if not chosen:
            return None
        config = apply(best.config, chosen)
        return AttemptPlan(attempt, self.mode, best.label, source, chosen,
                           config.model_dump(mode="json"))

    def run(self, context: Context, plan: AttemptPlan, reference: Arm) -> AttemptResult:
        arm = context.train(plan)
        compared = context.compare(reference, arm)
        return AttemptResult(plan, arm, compared.comparison, compared.note)
