"""Generic changes that fill the plan to three recommendations when the findings propose fewer."""

from __future__ import annotations

import math

from phases.diagnostic.answers._optimization import grad_clip, schedule
from phases.diagnostic.answers._recommendation import Context, Recommendation, log_range
from phases.diagnostic.answers._regularization import label_smoothing

__all__ = ["FALLBACK_ANSWERS", "fallbacks"]

# the answers `fallbacks` may make (cross-checked against ANSWERS with the rules')
FALLBACK_ANSWERS = ("lr_schedule", "grad_clip", "label_smoothing", "train_longer", "tune_lr")


def fallbacks(ctx: Context) -> list[Recommendation]:
    """Generic changes, each for no finding ("none"), all LOW."""
    h = ctx.headroom
    recs = schedule(ctx, "none", "LOW", ctx.gain(h, 0.0, 0.15), warmup=True)
    recs += grad_clip(ctx, "none", "LOW", ctx.gain(h, 0.0, 0.05))
    recs += label_smoothing(ctx, "none", ctx.gain(h, 0.0, 0.1), searched=False)
    epochs = ctx.config.training.epochs
    recs.append(
        Recommendation(
            name="train_longer",
            title=f"Train 1.5x longer ({epochs} -> {math.ceil(1.5 * epochs)} epochs)",
            priority="LOW",
            changes={"training.epochs": math.ceil(1.5 * epochs)},
            finding="none",
            rationale="with a decaying lr, more epochs usually buy a little more",
            expected_gain=ctx.gain(h, 0.0, 0.1),
            risk="1.5x the training time",
            cost=1.5,
        )
    )
    recs.append(
        Recommendation(
            name="tune_lr",
            title="Tune the learning rate (a search around the current value)",
            priority="LOW",
            changes={},
            finding="none",
            rationale="the learning rate is the setting most worth a search",
            expected_gain=ctx.gain(h, 0.0, 0.2),
            risk="none beyond the search's cost",
            space={"optimizer.lr": log_range(ctx.lr / 3, ctx.lr * 3)},
            uncertain=True,
        )
    )
    return recs
