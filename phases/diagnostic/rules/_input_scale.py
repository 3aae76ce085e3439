"""Input scale: the loss at initialization far above a uniform guess's.

A classifier whose weights start at the usual small scale outputs near-uniform
probabilities on inputs of unit scale, so its first loss is close to ln(classes)
(Karpathy, "A recipe for training neural networks": check the loss at init). A
first loss many times that says the inputs reach the model on the wrong scale
(unnormalized pixels, a feature in different units) or its last layer starts too
large. The number comes from the learning-rate range test's first step (lr ~0),
so without the range test, or for a task with no chance-level loss (a
regression), the finding is not applicable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from phases.diagnostic.answers import Recommendation, set_lr
from phases.diagnostic.config_analysis import LR_RANGES
from phases.diagnostic.evidence import Evidence
from phases.diagnostic.rules._base import Finding, Rule, r

if TYPE_CHECKING:
    from phases.diagnostic.answers import Context, Priority

__all__ = ["InputScale"]

INIT_LOSS_FACTOR = 3.0


def _init(ev: Evidence) -> tuple[float, float] | None:
    probe = ev.probes.get("lr_range") or {}
    initial, chance = probe.get("initial_loss"), probe.get("chance_loss")
    if initial is None or not chance:
        return None
    return float(initial), float(chance)


class InputScale(Rule):
    id = "input_scale"
    title = "Inputs on the wrong scale"
    hides_others = True
    answers = ("lower_lr",)
    settings = ("data.inputs",)

    def not_applicable(self, ev: Evidence) -> str | None:
        if _init(ev) is not None:
            return None
        return ("needs the loss at initialization and a chance-level loss (the learning-rate "
                "range test of a classifier records both)")

    def check(self, ev: Evidence) -> Finding | None:
        measured = _init(ev)
        if measured is None:
            return None
        initial, chance = measured
        if initial <= INIT_LOSS_FACTOR * chance:
            return None
        probe = ev.probes.get("lr_range") or {}
        return self.found("high", {
            "initial_loss": r(initial, 3),
            "chance_loss": r(chance, 3),
            "ratio": r(initial / chance, 1),
            "input_std": probe.get("input_std"),
        }, f"the loss at initialization is {initial:.3g}, {initial / chance:.1f}x the "
           f"{chance:.3g} of a uniform guess: the inputs reach the model on the wrong scale "
           "(or its last layer starts too large). Standardize them where the model or the "
           "dataset function reads them: this is code, not a training setting; a lower lr "
           "only keeps such a run from blowing up")

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        new = ctx.probe_lr() or min(ctx.lr / 10, LR_RANGES[ctx.config.optimizer.name][1])
        if new >= ctx.lr:
            return []
        return [set_lr(ctx, new, self.id, "MEDIUM", ctx.prior(self.id, 0.0, 0.5),
                       "a stop-gap: with inputs this large, smaller steps keep the run stable",
                       raise_=False)]
