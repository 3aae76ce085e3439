"""A metric's name, direction and units: the one place that knows.

Every question "is lower better?", "is this a rate?", "which epoch is best?",
"how many points is this difference?" goes through `Metric`. Nothing else in
phasegate looks at a metric's name to decide.

| metric                                   | default direction | rate | a difference of 0.01 is |
|------------------------------------------|-------------------|------|-------------------------|
| `*loss`                                  | minimize (always) | no   | 100 * 0.01 / abs(ref) % |
| `*error`, `*mse`, `*mae`, `*rmse`        | minimize          | no   | 100 * 0.01 / abs(ref) % |
| `*accuracy`, `*f1`, `*auc`, `*map`, `*rate`, ... | maximize     | yes  | 1 point                 |
| anything else (`cider`, `bleu`, `r2`)    | maximize          | no   | 100 * 0.01 / abs(ref) % |

A project names its metric and direction (`target:`); the direction given wins
over the default (except that a loss is never maximized). A rate is a fraction
in [0, 1]: its goal is bounded, it is written as a percentage and its
differences in points.

A history is a list of per-epoch rows (dicts of floats, as in history.csv).
The best epoch is the first row with the best finite value of the metric: a
NaN or infinite row is never best, and ties keep the earliest epoch, as the
trainer keeps its best checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Direction", "Metric"]

Direction = Literal["maximize", "minimize"]


# a lower-is-better metric that is not a loss (a regression's error): minimized by default
_ERRORS = ("error", "mse", "mae", "rmse")
# fractions in [0, 1], by the ending of their name
_RATES = ("accuracy", "f1", "precision", "recall", "auc", "iou", "map", "rate")


def _is_loss(name: str) -> bool:
    return name.endswith("loss")


@dataclass(frozen=True)
class Metric:
    """A metric and which way is better."""

    name: str
    higher_is_better: bool

    @classmethod
    def named(cls, name: str, direction: Direction | None = None) -> Metric:
        """`name` with its direction: given, else minimize for a loss and maximize otherwise."""
        if direction is None:
            direction = cls.default_direction(name)
        return cls(name, direction == "maximize")

    @staticmethod
    def default_direction(name: str) -> Direction:
        lower = name.lower()
        return "minimize" if _is_loss(lower) or lower.endswith(_ERRORS) else "maximize"

    @property
    def direction(self) -> Direction:
        return "maximize" if self.higher_is_better else "minimize"

    @property
    def mode(self) -> Literal["max", "min"]:
        """The direction as the trainer's monitor and early stopping spell it."""
        return "max" if self.higher_is_better else "min"

    @property
    def is_loss(self) -> bool:
        return _is_loss(self.name)

    @property
    def is_rate(self) -> bool:
        """A fraction in [0, 1] (accuracy, balanced accuracy, F1): 0.01 is one point."""
        return not self.is_loss and self.name.lower().endswith(_RATES)

    def better(self, a: float, b: float) -> bool:
        """Whether `a` is strictly better than `b`."""
        return a > b if self.higher_is_better else a < b

    def meets(self, value: float, goal: float) -> bool:
        """Whether `value` reaches `goal` (or is better), forgiving floating-point rounding.

        A mean of 0.8999999999999999 meets a goal of 0.9: sums of per-seed values carry
        rounding in the last bits, which no user means as a miss.
        """
        if math.isclose(value, goal, rel_tol=1e-9, abs_tol=1e-12):
            return True
        return not self.better(goal, value)

    def oriented(self, diff: float) -> float:
        """A raw difference (candidate - reference) turned so that positive means better."""
        return diff if self.higher_is_better else -diff

    def best_index(self, values: Sequence[float | None]) -> int | None:
        """The index of the first best finite value; None when no value is finite."""
        best: int | None = None
        for i, value in enumerate(values):
            if value is None or not math.isfinite(value):
                continue
            if best is None or self.better(value, float(values[best])):  # type: ignore[arg-type]
                best = i
        return best

    def best_row(self, history: Sequence[Mapping[str, float]]) -> Mapping[str, float] | None:
        """The row of `history` whose value of this metric is best (None: no finite value)."""
        index = self.best_index([row.get(self.name) for row in history])
        return None if index is None else history[index]

    def points(self, diff: float, reference: float | None = None) -> float:
        """A difference in points: x100 for a rate, else percent of |reference| (x100 if none)."""
        if self.is_rate or reference is None or reference == 0 or not math.isfinite(reference):
            return 100.0 * diff
        return 100.0 * diff / abs(reference)

    @property
    def unit(self) -> str:
        """How `points` is written: 'points' for a rate, '%' of the reference otherwise."""
        return "points" if self.is_rate else "%"

    def format(self, value: float | None) -> str:
        """0.9689 as '96.89%' for a rate, 0.1234 as '0.1234' otherwise; None as words."""
        if value is None or not math.isfinite(value):
            return "not measured"
        return f"{100 * value:.2f}%" if self.is_rate else f"{value:.4f}"
