"""User strategies as a project names them (`strategy: module:Class`), for the tests.

`OneShot` is a whole strategy in a few lines: one attempt, Phase 3's first
recommendation applied to the baseline, trained and compared the project's way.
`NoRun` forgets `run`; `NotAStrategy` does not derive from the base.
"""

from __future__ import annotations

from phases.optimization.context import Context
from phases.optimization.strategies import AttemptResult, Strategy
from phases.optimization.targeted import AttemptPlan, apply, select
from workflow.arms import Arm

SPEC = "tests.optimization.strategies.user_strategy:OneShot"


class OneShot(Strategy):
    """Phase 3's first recommendation, once."""

    def plan(self, context: Context, attempt: int) -> AttemptPlan | None:
        if context.attempts():
            return None
        base, _ = context.best()
        chosen = select(context.phase3_recommendations(), mode="iterative")[:1]
        config = apply(base.config, chosen)
        return AttemptPlan(attempt, "one-shot", base.label, "phase3", chosen,
                    config.model_dump(mode="json"))

    def run(self, context: Context, plan: AttemptPlan, reference: Arm) -> AttemptResult:
        arm = context.train(plan)
        compared = context.compare(reference, arm)
        return AttemptResult(plan, arm, compared.comparison, compared.note)


class NoRun(Strategy):
    """Plans, but cannot run what it plans."""

    def plan(self, context: Context, attempt: int) -> AttemptPlan | None:
        return None


class NotAStrategy:
    def plan(self, context: Context, attempt: int) -> AttemptPlan | None:
        return None
