"""How long to train: not converged (still improving at the end) or saturated early (the best
epoch comes early). One reading of the target's late progress feeds both; not converged wins."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from phases.diagnostic.answers import Recommendation, lower, schedule
from phases.diagnostic.evidence import Evidence, mean
from phases.diagnostic.rules._base import Finding, Rule, Severity, having, majority, r, window

if TYPE_CHECKING:
    from phases.diagnostic.answers import Context, Priority

__all__ = ["NotConverged", "SaturatedEarly"]

# still improving by 0.5 points (a rate) or 1% (otherwise) in the last quarter of the epochs,
# or the best epoch within the first 40% of them
STILL_IMPROVING_POINTS = 0.5
STILL_IMPROVING_LOSS_REL = 0.01
NOT_CONVERGED_HIGH_POINTS = 2.0
SATURATED_FRACTION = 0.40
MIN_EPOCHS = 4


@dataclass(frozen=True)
class LateProgress:
    """Per seed: the target's gain in the last quarter, its best epoch, the epochs run."""

    seeds: int
    improving: list[int]
    saturated: list[int]
    gains: list[float]
    best_epochs: list[int]
    lengths: list[int]

    @property
    def improving_mostly(self) -> bool:
        return majority(len(self.improving), self.seeds)


def late_progress(ev: Evidence) -> LateProgress | None:
    """The late progress of every completed run of 4 epochs or more (None: no such run)."""
    runs = [run for run in having(ev.usable, ev.metric)
            if run.status == "completed" and len(run.history) >= MIN_EPOCHS]
    if not runs:
        return None
    target = ev.target
    improving, saturated, gains, best_epochs, lengths = [], [], [], [], []
    for run in runs:
        values = run.column(ev.metric)
        n = len(values)
        w = window(n)
        before, late = values[: n - w], values[n - w :]
        best_before = before[target.best_index(before) or 0]
        best_late = late[target.best_index(late) or 0]
        diff = target.oriented(best_late - best_before)
        if target.is_rate:
            gain = 100 * diff
            still = gain > STILL_IMPROVING_POINTS
        else:  # the gain relative to the best before the window, in percent
            gain = 100 * diff / abs(best_before) if best_before else 0.0
            still = gain > 100 * STILL_IMPROVING_LOSS_REL
        best = (target.best_index(values) or 0) + 1
        gains.append(gain)
        best_epochs.append(best)
        lengths.append(n)
        if still:
            improving.append(run.seed)
        if best <= SATURATED_FRACTION * n:
            saturated.append(run.seed)
    return LateProgress(len(runs), improving, saturated, gains, best_epochs, lengths)


class NotConverged(Rule):
    id = "not_converged"
    title = "Not converged: still improving at the last epoch"
    explained_by = ("lr_too_low", "sgd_no_momentum", "few_steps")
    answers = ("train_longer", "lr_schedule")
    settings = ("training.epochs",)

    def check(self, ev: Evidence) -> Finding | None:
        p = late_progress(ev)
        if p is None or not p.improving_mostly:
            return None
        unit = ev.target.unit
        gain, length = mean(p.gains), mean(p.lengths)
        severity: Severity = "high" if gain > NOT_CONVERGED_HIGH_POINTS else "medium"
        return self.found(severity, {
            "late_gain": r(gain, 2),
            "late_gain_unit": unit,
            "window_epochs": window(int(length)),
            "best_epoch": r(mean(p.best_epochs), 1),
            "epochs": r(length, 1),
            "seeds_improving": len(p.improving),
            "seeds": p.seeds,
        }, f"the target {ev.metric} still gained {gain:.2f} {unit} in the last "
           f"{window(int(length))} of {length:.0f} epochs in {len(p.improving)} of {p.seeds} "
           f"seeds (best epoch {mean(p.best_epochs):.1f}): train longer", seeds=p.improving)

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        late = (float(finding.evidence.get("late_gain", 0.0)) if ctx.evidence.target.is_rate
                else 1.0)
        epochs = ctx.config.training.epochs
        recs = [Recommendation(
            name="train_longer",
            title=f"Train 2x longer ({epochs} -> {2 * epochs} epochs)",
            priority=primary,
            changes={"training.epochs": 2 * epochs},
            finding=self.id,
            rationale="the target was still improving when training stopped",
            expected_gain=ctx.gain(max(2 * late, 1.0), 0.25, 1.0),
            risk="2x the training time; may start to overfit (watch val loss)",
            cost=2.0,
            space={"training.epochs": {"type": "int", "low": epochs + epochs // 2,
                                       "high": 4 * epochs}},
        )]
        recs += schedule(ctx, self.id, lower(primary), ctx.gain(max(late, 1.0), 0.0, 1.0),
                         warmup=False)
        return recs


class SaturatedEarly(Rule):
    id = "saturated_early"
    title = "Saturated early: the best epoch comes early"
    explained_by = ("overfitting", "lr_too_high")
    answers = ("train_shorter",)
    settings = ("training.epochs",)

    def check(self, ev: Evidence) -> Finding | None:
        p = late_progress(ev)
        if p is None or p.improving_mostly or not majority(len(p.saturated), p.seeds):
            return None
        best, length = mean(p.best_epochs), mean(p.lengths)
        idle = 1 - best / length
        return self.found("low", {
            "best_epoch": r(best, 1),
            "epochs": r(length, 1),
            "idle_epochs_pct": r(100 * idle, 1),
            "seeds_saturated": len(p.saturated),
            "seeds": p.seeds,
        }, f"the target {ev.metric} peaked at epoch {best:.1f} of {length:.0f} on average "
           f"({len(p.saturated)} of {p.seeds} seeds within the first "
           f"{100 * SATURATED_FRACTION:.0f}%), so {100 * idle:.0f}% of the epochs bought "
           "nothing: train shorter", seeds=p.saturated)

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        best = float(finding.evidence.get("best_epoch", ctx.config.training.epochs))
        epochs = ctx.config.training.epochs
        shorter = max(2, math.ceil(1.5 * best))
        if shorter >= epochs:
            return []
        return [Recommendation(
            name="train_shorter",
            title=f"Train shorter ({epochs} -> {shorter} epochs)",
            priority=primary,
            changes={"training.epochs": shorter},
            finding=self.id,
            rationale=f"the best epoch comes at {best:.0f}: the rest is compute spent for nothing",
            expected_gain=(0.0, 0.0),
            risk="a seed that peaks late loses its best epoch",
            cost=shorter / epochs,
        )]
