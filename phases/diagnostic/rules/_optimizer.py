"""How the optimizer is set up: SGD without momentum, Adam's betas, L2 decay under Adam.

Each reads the config for the setting and the curves for what it cost: a slow
train-loss fall (the share of the run's drop made in its first half, the total
drop) is what turns a setting worth a look into a root cause. Adam's epsilon is
not a setting of the built-in trainer (torch's 1e-8 always): nothing to judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from phases.diagnostic.answers import Recommendation
from phases.diagnostic.evidence import Evidence, mean
from phases.diagnostic.rules._base import Finding, Rule, Severity, having, r

if TYPE_CHECKING:
    from phases.diagnostic.answers import Context, Priority

__all__ = ["AdamBetas", "AdamL2Decay", "SgdNoMomentum", "loss_fall"]

# a run is slow when its train loss fell by less than this share of the first epoch's
SLOW_TOTAL_REDUCTION = 0.60
# ... or when it made less than this share of its drop in the first half of the epochs
SLOW_FIRST_HALF_SHARE = 0.75
MOMENTUM = 0.9
# Adam's betas the field uses; further than this from them is a setting worth a look
BETA1_LOW, BETA1_HIGH = 0.5, 0.99
BETA2_LOW = 0.95
# L2 weight decay under Adam (coupled): from this strength on it is a setting to fix
ADAM_L2_MIN = 1e-4


@dataclass(frozen=True)
class LossFall:
    """How fast the train loss fell: first and last values, the total drop, the first half's."""

    first: float
    last: float
    reduction: float  # (first - best) / first
    first_half_share: float  # share of the drop made in the first half of the epochs
    seeds: list[int]

    @property
    def slow(self) -> bool:
        return (self.reduction < SLOW_TOTAL_REDUCTION
                or self.first_half_share < SLOW_FIRST_HALF_SHARE)

    def numbers(self) -> dict[str, float]:
        return {
            "train_loss_first": r(self.first, 4),
            "train_loss_last": r(self.last, 4),
            "train_loss_reduction_pct": r(100 * self.reduction, 1),
            "first_half_share_pct": r(100 * self.first_half_share, 1),
        }


def loss_fall(ev: Evidence) -> LossFall | None:
    """The train loss's fall over the usable runs (None: no run with 2 epochs or more)."""
    runs = [run for run in having(ev.usable, "train_loss") if len(run.history) >= 2]
    if not runs:
        return None
    reductions, shares, first, last = [], [], [], []
    for run in runs:
        loss = run.column("train_loss")
        start, low = loss[0], min(loss)
        reductions.append((start - low) / start if start > 0 else 0.0)
        half = max(1, len(loss) // 2)
        shares.append((start - min(loss[:half])) / (start - low) if start > low else 0.0)
        first.append(start)
        last.append(loss[-1])
    return LossFall(mean(first), mean(last), mean(reductions), mean(shares),
                    [run.seed for run in runs])


class SgdNoMomentum(Rule):
    id = "sgd_no_momentum"
    reads = ("optimizer.name", "optimizer.momentum")
    title = "SGD without momentum"
    hides_others = True
    answers = ("add_momentum",)
    settings = ("optimizer.momentum",)

    def check(self, ev: Evidence) -> Finding | None:
        opt = ev.config.optimizer
        if opt.name != "sgd" or opt.momentum > 0:
            return None
        fall = loss_fall(ev)
        slow = fall is not None and fall.slow
        severity: Severity = "high" if slow else "medium"
        numbers = fall.numbers() if fall is not None else {}
        how = (
            f"; train loss fell only {numbers['train_loss_reduction_pct']:.0f}% "
            f"({numbers['train_loss_first']:g} -> {numbers['train_loss_last']:g}), "
            f"{numbers['first_half_share_pct']:.0f}% of it in the first half"
            if fall is not None else ""
        )
        return self.found(severity, {"optimizer": "sgd", "momentum": opt.momentum,
                                     "lr": opt.lr, "slow": slow, **numbers},
                          f"plain SGD (momentum 0) at lr {opt.lr:g} takes each step from one "
                          f"batch's gradient alone{how}; momentum {MOMENTUM} averages the "
                          "steps and moves about 10x as far at the same lr",
                          seeds=fall.seeds if fall is not None else ())

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        return [Recommendation(
            name="add_momentum",
            title=f"Use momentum {MOMENTUM} with SGD",
            priority=primary,
            changes={"optimizer.momentum": MOMENTUM},
            finding=self.id,
            rationale="momentum is the standard SGD setting: it smooths the gradient over "
            "batches and speeds the descent along consistent directions about tenfold",
            expected_gain=ctx.prior(self.id, 0.3, 0.9),
            risk="at an lr already near its limit, the 10x longer steps may overshoot",
            space={"optimizer.momentum": {"type": "float", "low": 0.5, "high": 0.95,
                                          "log": False}},
        )]


class AdamBetas(Rule):
    id = "adam_betas"
    reads = ("optimizer.name", "optimizer.betas")
    title = "Adam's betas far from the usual"
    answers = ("usual_betas",)
    settings = ("optimizer.betas",)

    def check(self, ev: Evidence) -> Finding | None:
        opt = ev.config.optimizer
        if opt.name not in ("adam", "adamw"):
            return None
        beta1, beta2 = opt.betas
        odd = []
        if not BETA1_LOW <= beta1 <= BETA1_HIGH:
            odd.append(f"beta1 {beta1:g} (usual 0.9: the momentum of the gradient's average)")
        if beta2 < BETA2_LOW:
            odd.append(f"beta2 {beta2:g} (usual 0.999: below {BETA2_LOW:g} the per-weight "
                       "scale follows single batches and steps jump)")
        if not odd:
            return None
        fall = loss_fall(ev)
        slow = fall is not None and fall.slow
        return self.found("high" if slow else "medium", {
            "beta1": beta1, "beta2": beta2, "slow": slow,
            **(fall.numbers() if fall is not None else {}),
        }, f"{opt.name} runs with " + " and ".join(odd))

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        return [Recommendation(
            name="usual_betas",
            title="Use Adam's usual betas (0.9, 0.999)",
            priority=primary,
            changes={"optimizer.betas": [0.9, 0.999]},
            finding=self.id,
            rationale="the defaults are what Adam's step size was tuned for",
            expected_gain=ctx.prior(self.id, 0.1, 0.5),
            risk="none known: a tuned pair is rare",
        )]


class AdamL2Decay(Rule):
    id = "adam_l2_decay"
    reads = ("optimizer.name", "optimizer.weight_decay")
    title = "Weight decay with Adam is L2, not decoupled"
    root_cause = False
    answers = ("decoupled_decay",)
    settings = ("optimizer.weight_decay",)

    def check(self, ev: Evidence) -> Finding | None:
        opt = ev.config.optimizer
        if opt.name != "adam" or opt.weight_decay < ADAM_L2_MIN:
            return None
        return self.found("low", {"optimizer": "adam", "weight_decay": opt.weight_decay},
                          f"adam with weight_decay {opt.weight_decay:g} adds it to the "
                          "gradient, where Adam's per-weight scaling shrinks it for the "
                          "weights with large gradients; AdamW decays every weight alike "
                          "(Loshchilov and Hutter, 2019)")

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        return [Recommendation(
            name="decoupled_decay",
            title="Switch to AdamW (decoupled weight decay)",
            priority=primary,
            changes={"optimizer.name": "adamw"},
            finding=self.id,
            rationale="decoupled decay regularizes as intended; the same value is a "
            "different strength there, so it may need retuning",
            expected_gain=ctx.prior(self.id, 0.0, 0.2),
            risk="the decay's strength changes meaning",
        )]
