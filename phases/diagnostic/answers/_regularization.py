"""Answers that change how much the model can memorize: augmentation, dropout, weight decay,
the model's capacity, label smoothing. Each returns [] when the config already has it."""

from __future__ import annotations

from typing import Any

from phases.diagnostic.answers._recommendation import (
    Context,
    Priority,
    Recommendation,
    log_range,
)
from phases.diagnostic.config_analysis import is_image_data

__all__ = [
    "FEATURE_AUGMENTATION",
    "IMAGE_AUGMENTATION",
    "augment",
    "capacity",
    "dropout",
    "label_smoothing",
    "weight_decay",
]

IMAGE_AUGMENTATION: list[dict[str, Any]] = [{"name": "affine", "degrees": 10.0, "translate": 0.1}]
FEATURE_AUGMENTATION: list[dict[str, Any]] = [{"name": "mixup", "alpha": 0.2}]


def augment(ctx: Context, finding: str, priority: Priority, gain: tuple[float, float]) -> (
    list[Recommendation]
):
    if ctx.config.data.augment:
        return []
    images = is_image_data(ctx.config)
    augmentation = IMAGE_AUGMENTATION if images else FEATURE_AUGMENTATION
    kind = "affine augmentation (small rotations and shifts)" if images else "mixup augmentation"
    return [
        Recommendation(
            name="add_augmentation",
            title=f"Add {kind}",
            priority=priority,
            changes={"data.augment": augmentation},
            finding=finding,
            rationale="augmentation shows the model new variants of each sample, the strongest "
            "cure for memorizing a small training set",
            expected_gain=gain,
            risk="too strong a transform changes labels (a rotated 6 is a 9); slower epochs",
            space={"data.augment": {"type": "categorical", "choices": [[], augmentation]}},
        )
    ]


def dropout(ctx: Context, finding: str, priority: Priority, gain: tuple[float, float]) -> (
    list[Recommendation]
):
    if ctx.config.model.dropout >= 0.3:
        return []
    return [
        Recommendation(
            name="add_dropout",
            title="Add dropout (0.3)",
            priority=priority,
            changes={"model.dropout": 0.3},
            finding=finding,
            rationale="dropout stops units from co-adapting to the training samples",
            expected_gain=gain,
            risk="slower convergence; too much dropout underfits",
            space={"model.dropout": {"type": "float", "low": 0.0, "high": 0.5, "log": False}},
        )
    ]


def weight_decay(
    ctx: Context, finding: str, priority: Priority, gain: tuple[float, float]
) -> list[Recommendation]:
    opt = ctx.config.optimizer
    if opt.name in ("adam", "adamw"):
        value = max(0.05, opt.weight_decay * 10)
        changes: dict[str, Any] = {"optimizer.name": "adamw", "optimizer.weight_decay": value}
        space = {"optimizer.weight_decay": log_range(1e-3, 0.3)}
        how = "decoupled weight decay (AdamW)"
    else:
        value = max(5e-4, opt.weight_decay * 10)
        changes = {"optimizer.weight_decay": value}
        space = {"optimizer.weight_decay": log_range(1e-5, 1e-2)}
        how = "weight decay"
    if value > 0.5:
        return []
    return [
        Recommendation(
            name="add_weight_decay",
            title=f"Add {how} ({value:g})",
            priority=priority,
            changes=changes,
            finding=finding,
            rationale="weight decay keeps the weights small, so the model fits smoother functions",
            expected_gain=gain,
            risk="too strong a decay underfits",
            space=space,
        )
    ]


def capacity(ctx: Context, factor: float) -> dict[str, Any] | None:
    """The patch that scales the model's width by `factor` (None: nothing to scale)."""
    model = ctx.config.model
    if model.name == "mlp":
        widths = model.hidden_widths()
        if not widths:
            return {"model.widths": [64]} if factor > 1 else None
        new = [max(8, int(w * factor)) for w in widths]
        return {"model.widths": new} if new != widths else None
    if model.name == "cnn":
        new = [max(8, int(c * factor)) for c in model.channels]
        return {"model.channels": new} if new != model.channels else None
    if model.name in ("resnet18", "resnet34"):
        target = "resnet34" if factor > 1 else "resnet18"
        return {"model.name": target} if target != model.name else None
    return None


def label_smoothing(
    ctx: Context, finding: str, gain: tuple[float, float], *, searched: bool
) -> list[Recommendation]:
    """Label smoothing 0.1 (LOW: hygiene); `searched` gives a sweep its range."""
    if ctx.config.training.label_smoothing != 0:
        return []
    return [
        Recommendation(
            name="label_smoothing",
            title="Add label smoothing (0.1)",
            priority="LOW",
            changes={"training.label_smoothing": 0.1},
            finding=finding,
            rationale="softer targets discourage over-confident logits",
            expected_gain=gain,
            risk="calibrated probabilities shift; little effect on small models"
            if searched else "little effect on small models",
            space={"training.label_smoothing": {"type": "float", "low": 0.0, "high": 0.2,
                                                "log": False}} if searched else {},
        )
    ]
