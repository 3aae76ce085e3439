"""Answers that change how the optimizer steps: a new lr, a schedule, gradient clipping."""

from __future__ import annotations

from typing import Any

from phases.diagnostic.answers._recommendation import (
    Context,
    Priority,
    Recommendation,
    log_range,
    sig,
)

__all__ = ["grad_clip", "schedule", "set_lr"]


def set_lr(
    ctx: Context,
    new: float,
    finding: str,
    priority: Priority,
    gain: tuple[float, float],
    rationale: str,
    *,
    raise_: bool,
) -> Recommendation:
    """The lr set to `new` (the range test's suggestion when it ran, else a guess to search)."""
    probed = ctx.probe_lr() is not None
    new = sig(new)
    how = "the range test's suggestion" if probed else f"{new / ctx.lr:.2g}x"
    if probed:
        space = log_range(new / 3, new * 3)
    elif raise_:
        space = log_range(ctx.lr, ctx.lr * 30)
    else:
        space = log_range(new / 100, new)
    return Recommendation(
        name="raise_lr" if raise_ else "lower_lr",
        title=f"{'Raise' if raise_ else 'Lower'} the learning rate to {new:g} ({how})",
        priority=priority,
        changes={"optimizer.lr": new},
        finding=finding,
        rationale=rationale,
        expected_gain=gain,
        risk="the best lr is narrow: a guess may overshoot (run --probe lr to measure it)"
        if not probed
        else "the range test ran on one seed and ~100 steps",
        space={"optimizer.lr": space},
        uncertain=not probed,
    )


def schedule(
    ctx: Context, finding: str, priority: Priority, gain: tuple[float, float], *, warmup: bool
) -> list[Recommendation]:
    """Cosine decay where there is no schedule, and a warmup epoch when `warmup` asks for one."""
    s = ctx.config.schedule
    changes: dict[str, Any] = {}
    if s.name == "none":
        changes["schedule.name"] = "cosine"
    if warmup and s.warmup_epochs == 0 and s.name != "onecycle":
        changes["schedule.warmup_epochs"] = 1.0
    if not changes:
        return []
    parts = (("cosine decay", "schedule.name"), ("1 warmup epoch", "schedule.warmup_epochs"))
    what = " and ".join(part for part, key in parts if key in changes)
    space: dict[str, dict[str, Any]] = {}
    if "schedule.warmup_epochs" in changes:
        space["schedule.warmup_epochs"] = {"type": "float", "low": 0.0, "high": 3.0, "log": False}
    if "schedule.name" in changes:
        space["schedule.name"] = {"type": "categorical", "choices": ["none", "cosine"]}
    return [
        Recommendation(
            name="lr_schedule",
            title=f"Add an lr schedule ({what})",
            priority=priority,
            changes=changes,
            finding=finding,
            rationale=" and ".join(
                why for why, key in (
                    ("warmup steadies the first steps", "schedule.warmup_epochs"),
                    ("a decaying lr settles into a minimum instead of bouncing around it",
                     "schedule.name"),
                ) if key in changes
            ),
            expected_gain=gain,
            risk="a schedule tuned for the epoch count must be revisited if the epochs change",
            space=space,
        )
    ]


def grad_clip(
    ctx: Context, finding: str, priority: Priority, gain: tuple[float, float]
) -> list[Recommendation]:
    if ctx.config.training.grad_clip is not None:
        return []
    return [
        Recommendation(
            name="grad_clip",
            title="Clip the gradient norm at 1.0",
            priority=priority,
            changes={"training.grad_clip": 1.0},
            finding=finding,
            rationale="clipping bounds each step, so one bad batch cannot throw the weights away",
            expected_gain=gain,
            risk="too tight a clip slows learning",
            space={"training.grad_clip": log_range(0.1, 10.0)},
        )
    ]
