"""The Phase 4 decision after each attempt: A, B, C, D or budget, with its one-sentence reason.

An attempt is a candidate config trained on the project's seeds and compared with
its reference, the best so far (the baseline until an attempt beats it). The rules,
checked in this order:

| code   | when                                                          | transition | next       |
|--------|---------------------------------------------------------------|------------|------------|
| A      | significant gain and the target is met                        | accept     | optimized  |
| D      | ceiling: the recent attempts each gained less than min_effect | ceiling    | optimized  |
|        | and none improved                                             |            |            |
| budget | time or attempts spent                                        | budget     | optimized  |
| B      | improvement, target not met, attempts left                    | iterate    | optimizing |
| C      | worse, or no improvement, attempts left                       | revert     | diagnosed  |

"Significant" is the rule of workflow.stats (Welch, alpha split over the iteration
limit). An *improvement* is a significant gain that is not significantly smaller than
min_effect; a significant gain that meets the goal is A however small. "The recent
attempts" are those since the last improvement (or since Phase 4 began). After an
improvement, one attempt that gains under min_effect is the ceiling: the best so far
is kept. Without any improvement it takes two such attempts in a row; a single failed
attempt is C (back to Phase 3 with its evidence). An attempt whose gain could not be
measured (a seed diverged) counts as gaining nothing.

Gains are in the metric's unit (`Metric.points`): points for a rate (accuracy 0.01 is
one point), percent of the reference mean for a loss; the ceiling is min_effect in the
same unit. The target is met when the candidate's mean reaches the project's goal
(`Metric.meets`); a project without a goal is met by any improvement. Pure functions:
no store, no files; phase.py records what this decides.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workflow.metric import Metric

__all__ = [
    "AttemptBudget",
    "Decision",
    "DecisionCode",
    "AttemptEvidence",
    "decide",
    "gain_points",
    "target_check",
]

class DecisionCode(str, enum.Enum):
    """The five outcomes of a Phase 4 attempt; the value is what `phase4.decision` records."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    BUDGET = "budget"

    @property
    def transition(self) -> str:
        """The phase-graph transition this decision selects (see workflow.machine)."""
        return _TRANSITIONS[self]

    def is_final(self) -> bool:
        """Phase 4 ends here (optimized): A, D and budget."""
        return self in (DecisionCode.A, DecisionCode.D, DecisionCode.BUDGET)

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_TRANSITIONS = {
    DecisionCode.A: "accept",
    DecisionCode.B: "iterate",
    DecisionCode.C: "revert",
    DecisionCode.D: "ceiling",
    DecisionCode.BUDGET: "budget",
}
_MEANINGS = {
    DecisionCode.A: "accepted: the target is met by a significant improvement",
    DecisionCode.B: "iterate: a significant improvement, short of the target",
    DecisionCode.C: "reverted: no significant improvement; back to Phase 3",
    DecisionCode.D: "ceiling: further changes gain too little; the best so far is kept",
    DecisionCode.BUDGET: "budget spent: the best so far is kept, flagged",
}


@dataclass(frozen=True)
class AttemptEvidence:
    """What the decision needs of one attempt's comparison with its reference."""

    attempt: int
    significant: bool
    gain_points: float | None  # None: not measurable (a seed diverged, too few seeds)
    verdict_reason: str  # the comparison's one sentence (workflow.stats), or why there is none
    below_min_effect: bool = False  # significant, but significantly smaller than min_effect

    @property
    def improves(self) -> bool:
        """A significant gain worth keeping: not significantly smaller than min_effect."""
        return self.significant and not self.below_min_effect

    def small(self, ceiling: float) -> bool:
        """Gained under the ceiling (min_effect in points; an unmeasurable gain is none)."""
        return self.gain_points is None or self.gain_points < ceiling

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "significant": self.significant,
            "gain_points": self.gain_points,
            "verdict_reason": self.verdict_reason,
            "below_min_effect": self.below_min_effect,
        }


@dataclass(frozen=True)
class AttemptBudget:
    """What Phase 4 may still spend: attempts (the iteration limit) and minutes."""

    attempts_used: int  # including the attempt being decided
    iteration_limit: int
    minutes_used: float = 0.0
    time_budget_minutes: float | None = None

    def __post_init__(self) -> None:
        if self.attempts_used < 1:
            raise ValueError(
                f"attempts_used counts the attempt decided, but got {self.attempts_used=}."
            )
        if self.iteration_limit < 1:
            raise ValueError(
                f"iteration_limit must be at least 1, but got {self.iteration_limit=}."
            )

    @property
    def attempts_spent(self) -> bool:
        return self.attempts_used >= self.iteration_limit

    @property
    def time_spent(self) -> bool:
        limit = self.time_budget_minutes
        return limit is not None and self.minutes_used >= limit

    def spent(self) -> str | None:
        """Why the budget is spent, or None."""
        if self.time_spent:
            return (
                f"{self.minutes_used:.1f} of the {self.time_budget_minutes:g} minutes of the "
                "time budget are used"
            )
        if self.attempts_spent:
            return f"{self.attempts_used} of {self.iteration_limit} attempts are used"
        return None


@dataclass(frozen=True)
class Decision:
    code: DecisionCode
    reason: str  # one sentence

    @property
    def transition(self) -> str:
        return self.code.transition

    @property
    def flagged(self) -> bool:
        """A budget decision is flagged: Phase 4 ran out, it did not finish."""
        return self.code is DecisionCode.BUDGET

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.code.value,
            "reason": self.reason,
            "transition": self.transition,
            "flagged": self.flagged,
            "meaning": self.code.meaning,
        }


def gain_points(mean_diff: float, reference_mean: float, *, metric: Metric) -> float:
    """An oriented mean difference (positive = better) in points (see the module docstring)."""
    return metric.points(mean_diff, reference_mean)


def target_check(
    mean: float | None, goal: float | None, *, metric: Metric, significant: bool,
) -> tuple[bool, str]:
    """Whether the candidate's mean meets the goal (reaches it, or is better), in words too."""
    if goal is None:
        if significant:
            return True, "the project sets no goal, so a significant improvement meets it"
        return False, "the project sets no goal, and the improvement is not significant"
    if mean is None or not math.isfinite(mean):
        return False, f"the mean {metric.name} could not be measured (goal {goal:g})"
    met = metric.meets(mean, goal)  # the goal itself counts as met
    higher = metric.higher_is_better
    op = (">=" if met else "<") if higher else ("<=" if met else ">")
    return met, f"mean {metric.name} {mean:.4g} {op} the goal {goal:g}"


def decide(
    current: AttemptEvidence,
    *,
    earlier: Sequence[AttemptEvidence],
    target_met: bool,
    target_text: str,
    budget: AttemptBudget,
    ceiling: float,
    unit: str = "points",
) -> Decision:
    """The decision for `current`, given the attempts decided before it (oldest first).

    `ceiling`: min_effect in the gains' unit (`unit`, Metric.unit).
    """

    def _points(value: float | None) -> str:
        return "an unmeasurable gain" if value is None else f"{value:+.2f} {unit}"

    k = current.attempt
    if current.significant and target_met:
        return Decision(
            DecisionCode.A,
            f"Attempt {k} gains {_points(current.gain_points)} significantly "
            f"({current.verdict_reason}) and meets the target ({target_text}).",
        )
    window = [current]
    improved_at: int | None = None
    for attempt in reversed(earlier):
        if attempt.improves:
            improved_at = attempt.attempt
            break
        window.append(attempt)
    stalled = not current.improves and all(a.small(ceiling) for a in window)
    if stalled and (improved_at is not None or len(window) >= 2):
        gains = ", ".join(
            f"attempt {a.attempt} gained {_points(a.gain_points)}" for a in reversed(window)
        )
        if improved_at is not None:
            return Decision(
                DecisionCode.D,
                f"Ceiling: after the significant improvement of attempt {improved_at}, "
                f"{gains}: under the minimum effect of {ceiling:.2f} {unit} and no "
                f"improvement ({current.verdict_reason}), so the best so far is kept.",
            )
        return Decision(
            DecisionCode.D,
            f"Ceiling: {gains}, each under the minimum effect of {ceiling:.2f} {unit} and none "
            f"an improvement (attempt {k}: {current.verdict_reason}), so the best so far is "
            "kept.",
        )
    spent = budget.spent()
    if spent is not None:
        what = (
            f"attempt {k} gains {_points(current.gain_points)} significantly but the target is "
            f"not met ({target_text})"
            if current.improves
            else f"attempt {k} gains {_points(current.gain_points)}, not an improvement "
            f"({current.verdict_reason})"
        )
        return Decision(
            DecisionCode.BUDGET,
            f"Budget spent: {spent}; {what}; the best so far is kept and flagged.",
        )
    if current.improves:
        left = budget.iteration_limit - budget.attempts_used
        return Decision(
            DecisionCode.B,
            f"Attempt {k} gains {_points(current.gain_points)} significantly "
            f"({current.verdict_reason}) but the target is not met ({target_text}); "
            f"{left} attempt(s) left, so iterate.",
        )
    return Decision(
        DecisionCode.C,
        f"Attempt {k} gains {_points(current.gain_points)}, which is not an improvement "
        f"({current.verdict_reason}); its changes are dropped and the project returns to "
        "Phase 3.",
    )
