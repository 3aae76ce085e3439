"""What holds an underfit model back in its config: too few units, too much regularization,
frozen layers. Each names the setting and the numbers that show what it cost; an underfit
with none of them is left to `underfitting` itself."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from phases.diagnostic.answers import Recommendation, capacity
from phases.diagnostic.evidence import Evidence
from phases.diagnostic.rules._base import Finding, Rule, Severity, pts
from phases.diagnostic.rules._fit import shortfall

if TYPE_CHECKING:
    from phases.diagnostic.answers import Context, Priority
    from workflow.trainer.config import TrainConfig

__all__ = ["FrozenLayers", "HeavyRegularization", "TooLittleCapacity", "heavy", "narrowest"]

# an mlp or cnn layer narrower than this holds too little to fit ten classes of images
NARROW_WIDTH = 16
# regularization that holds a model back by itself, whatever the data
HEAVY_DROPOUT = 0.5
HEAVY_DECAY = {"sgd": 2e-2, "rmsprop": 2e-2, "adam": 1e-2, "adamw": 0.2}


def narrowest(config: TrainConfig) -> int | None:
    """The narrowest hidden layer of a built-in mlp or cnn (None: another model, or none)."""
    model = config.model
    if model.name == "mlp":
        widths = model.hidden_widths()
        return min(widths) if widths else 0
    if model.name == "cnn":
        return min(model.channels)
    return None


def heavy(config: TrainConfig) -> list[str]:
    """The regularization settings of `config` strong enough to underfit on their own."""
    out = []
    if config.model.dropout >= HEAVY_DROPOUT:
        out.append(f"dropout {config.model.dropout:g} (>= {HEAVY_DROPOUT:g})")
    bar = HEAVY_DECAY[config.optimizer.name]
    if config.optimizer.weight_decay >= bar:
        out.append(f"weight_decay {config.optimizer.weight_decay:g} (>= {bar:g} for "
                   f"{config.optimizer.name})")
    return out


def _underfit(ev: Evidence) -> tuple[bool, dict[str, object]]:
    fit = shortfall(ev)
    if fit is None:
        return False, {}
    return fit.underfit, {"train_accuracy_best": pts(fit.train_best),
                          "val_accuracy_best": pts(fit.val_best),
                          "reference": pts(fit.reference)}


class TooLittleCapacity(Rule):
    id = "too_little_capacity"
    reads = ("model.widths|model.width",)
    title = "Too little capacity"
    needs = ("accuracy",)
    answers = ("more_capacity",)
    settings = ("model.capacity",)

    def check(self, ev: Evidence) -> Finding | None:
        width = narrowest(ev.config)
        underfit, numbers = _underfit(ev)
        if width is None or width >= NARROW_WIDTH or not underfit or heavy(ev.config):
            return None
        return self.found("high", {"narrowest_layer": width, "narrow_below": NARROW_WIDTH,
                                   **numbers},
                          f"the model's narrowest layer has {width} units (under "
                          f"{NARROW_WIDTH}) and even on its training set it peaks at "
                          f"{numbers['train_accuracy_best']}% against a reference of "
                          f"{numbers['reference']}%: it cannot represent the task")

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        width = int(finding.evidence.get("narrowest_layer", 1)) or 1
        factor = max(2.0, 2 ** math.ceil(math.log2(4 * NARROW_WIDTH / width)))
        bigger = capacity(ctx, factor)
        if not bigger:
            return []
        return [Recommendation(
            name="more_capacity",
            title=f"Widen the model {factor:g}x",
            priority=primary,
            changes=bigger,
            finding=self.id,
            rationale="a layer this narrow is a bottleneck no optimizer setting can open",
            expected_gain=ctx.prior(self.id, 0.3, 0.9),
            risk="slower steps; may overfit once it fits",
            cost=1.5,
        )]


class HeavyRegularization(Rule):
    id = "heavy_regularization"
    reads = ("model.dropout", "optimizer.weight_decay")
    title = "Too much regularization"
    answers = ("less_regularization",)
    settings = ("regularization",)

    def check(self, ev: Evidence) -> Finding | None:
        strong = heavy(ev.config)
        if not strong:
            return None
        underfit, numbers = _underfit(ev)
        severity: Severity = "high" if underfit else "low"
        text = f"{' and '.join(strong)}: strong enough to hold the model back"
        if numbers:
            text += (f"; train accuracy peaks at {numbers['train_accuracy_best']}% "
                     f"(reference {numbers['reference']}%)")
        return self.found(severity, {"dropout": ev.config.model.dropout,
                                     "weight_decay": ev.config.optimizer.weight_decay,
                                     "underfit": underfit, **numbers}, text)

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        cfg = ctx.config
        changes: dict[str, float] = {}
        if cfg.model.dropout >= HEAVY_DROPOUT:
            changes["model.dropout"] = 0.1
        if cfg.optimizer.weight_decay >= HEAVY_DECAY[cfg.optimizer.name]:
            changes["optimizer.weight_decay"] = cfg.optimizer.weight_decay / 100
        return [Recommendation(
            name="less_regularization",
            title="Cut the regularization (" + ", ".join(
                f"{k.split('.')[-1]} -> {v:g}" for k, v in changes.items()
            ) + ")",
            priority=primary,
            changes=changes,
            finding=self.id,
            rationale="regularization holds back a model that does not even fit its training set",
            expected_gain=ctx.prior(self.id, 0.3, 0.9),
            risk="may start to overfit",
        )]


class FrozenLayers(Rule):
    id = "frozen_layers"
    reads = ("model.freeze",)
    title = "Frozen layers hold the model back"
    answers = ("unfreeze",)
    settings = ("model.freeze",)

    def check(self, ev: Evidence) -> Finding | None:
        frozen = ev.config.model.freeze
        if not frozen or ev.config.model.pretrained is not None:
            return None  # a pretrained backbone is frozen on purpose
        underfit, numbers = _underfit(ev)
        severity: Severity = "high" if underfit else "medium"
        text = (f"model.freeze keeps {', '.join(frozen)} at their random initialization for "
                "the whole run (no pretrained weights): only the rest learns")
        if numbers:
            text += (f"; train accuracy peaks at {numbers['train_accuracy_best']}% "
                     f"(reference {numbers['reference']}%)")
        return self.found(severity, {"frozen": list(frozen), "pretrained": False,
                                     "underfit": underfit, **numbers}, text)

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        return [Recommendation(
            name="unfreeze",
            title="Train every layer (model.freeze: [])",
            priority=primary,
            changes={"model.freeze": []},
            finding=self.id,
            rationale="random weights that never train are noise the head has to undo",
            expected_gain=ctx.prior(self.id, 0.3, 0.9),
            risk="none without pretrained weights",
        )]
