"""Class imbalance: accuracy well above balanced accuracy at the best epoch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from phases.diagnostic.answers import Recommendation
from phases.diagnostic.evidence import Evidence, mean
from phases.diagnostic.rules._base import Finding, Rule, having, pts

if TYPE_CHECKING:
    from phases.diagnostic.answers import Context, Priority

__all__ = ["ClassImbalance"]

IMBALANCE_GAP = 0.05
IMBALANCE_GAP_HIGH = 0.10


class ClassImbalance(Rule):
    id = "class_imbalance"
    title = "Class imbalance"
    answers = ("monitor_balanced_accuracy",)
    needs = ("accuracy",)
    settings = ("training.monitor",)

    def check(self, ev: Evidence) -> Finding | None:
        runs = having(ev.usable, "val_accuracy", "val_balanced_accuracy")
        if not runs:
            return None
        rows = [ev.best_row(run) for run in runs]
        accuracy = mean(row["val_accuracy"] for row in rows)
        balanced = mean(row["val_balanced_accuracy"] for row in rows)
        gap = accuracy - balanced
        if gap <= IMBALANCE_GAP:
            return None
        return self.found("high" if gap > IMBALANCE_GAP_HIGH else "medium", {
            "val_accuracy": pts(accuracy),
            "val_balanced_accuracy": pts(balanced),
            "gap_points": pts(gap),
            "gap_threshold_points": pts(IMBALANCE_GAP),
        }, f"val balanced accuracy ({100 * balanced:.1f}%) is {100 * gap:.1f} points below val "
           f"accuracy ({100 * accuracy:.1f}%): the rare classes are mostly missed",
            seeds=[run.seed for run in runs])

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        if ctx.config.training.monitor == "val_balanced_accuracy":
            return []
        gap = float(finding.evidence.get("gap_points", 0.0))
        return [Recommendation(
            name="monitor_balanced_accuracy",
            title="Keep the checkpoint with the best balanced accuracy",
            priority=primary,
            changes={"training.monitor": "val_balanced_accuracy"},
            finding=self.id,
            rationale="the best epoch is picked by a metric the majority classes dominate; "
            "class weights or resampling are not trainer settings yet",
            expected_gain=ctx.gain(gap, 0.0, 0.25),
            risk="plain accuracy may drop slightly as rare classes gain",
        )]
