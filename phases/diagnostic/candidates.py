"""The field's usual answers to each finding, as concrete config patches.

Against overfitting: augmentation, dropout, weight decay, earlier stopping,
less capacity. Against underfitting: more capacity, less regularization, longer
training, a 10x learning rate. A learning rate too high or too low: a new rate
(the range test's suggestion when it ran), gradient clipping, a schedule with
warmup. Not converged: longer training; saturated early: shorter. Early
stopping's patience, class imbalance, resources, and the config's gaps.

Each answer is a `Recommendation`: a dotted-path patch of `TrainConfig`, the
finding it answers, a rationale, an expected gain, a risk, and the knobs a
sweep would search. Gains are heuristic ranges in points of the target metric
(100x its units: one point is 0.01 of accuracy): a share of the room the
finding's own numbers show (an overfitting gap, an underfit's shortfall),
capped by the headroom between the baseline and a perfect score.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from phases.diagnostic.config_analysis import LR_RANGES, is_image_data
from phases.diagnostic.evidence import Evidence
from phases.diagnostic.findings import Finding
from workflow.trainer.config import TrainConfig

__all__ = [
    "CANDIDATES",
    "Context",
    "Priority",
    "Recommendation",
    "fallbacks",
    "priority_of",
]

Priority = Literal["HIGH", "MEDIUM", "LOW"]

_OF_SEVERITY: dict[str, Priority] = {"high": "HIGH", "medium": "MEDIUM", "low": "LOW"}
_LOWER: dict[Priority, Priority] = {"HIGH": "MEDIUM", "MEDIUM": "LOW", "LOW": "LOW"}
IMAGE_AUGMENTATION: list[dict[str, Any]] = [{"name": "affine", "degrees": 10.0, "translate": 0.1}]
FEATURE_AUGMENTATION: list[dict[str, Any]] = [{"name": "mixup", "alpha": 0.2}]


def priority_of(severity: str) -> Priority:
    """A finding's severity as the priority of its primary answer."""
    return _OF_SEVERITY[severity]


@dataclass(frozen=True)
class Recommendation:
    """One concrete config patch, the finding it answers, and what it should gain."""

    name: str
    title: str
    priority: Priority
    changes: dict[str, Any]
    finding: str
    rationale: str
    expected_gain: tuple[float, float]  # points of the target metric
    risk: str
    space: dict[str, dict[str, Any]] = field(default_factory=dict)  # knobs for a sweep
    uncertain: bool = False  # the value is a guess a search should tune
    id: str = ""  # R1, R2, ... in priority order

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["expected_gain"] = list(self.expected_gain)
        return data

    def fact(self) -> dict[str, Any]:
        """The record kept in facts.json (phase3.recommendations)."""
        return {
            "id": self.id,
            "name": self.name,
            "priority": self.priority,
            "changes": self.changes,
            "expected_gain": list(self.expected_gain),
            "finding": self.finding,
        }


@dataclass(frozen=True)
class Context:
    config: TrainConfig
    evidence: Evidence
    headroom: float
    found: frozenset[str]

    @property
    def lr(self) -> float:
        return self.config.optimizer.lr

    def probe_lr(self) -> float | None:
        value = (self.evidence.probes.get("lr_range") or {}).get("suggested_lr")
        return float(value) if value else None

    def probe_batch(self) -> int | None:
        value = (self.evidence.probes.get("batch") or {}).get("suggested_batch_size")
        return int(value) if value else None

    def gain(self, room: float, low: float, high: float) -> tuple[float, float]:
        """A share (low, high) of `room` points, capped by the headroom."""
        room = max(0.0, min(room, self.headroom))
        return (round(low * room, 1), round(high * room, 1))


def _sig(value: float, digits: int = 2) -> float:
    """`value` rounded to `digits` significant digits (a learning rate a person can read)."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def _log_range(low: float, high: float) -> dict[str, Any]:
    return {"type": "float", "low": _sig(low), "high": _sig(high), "log": True}


# ---- candidate changes per finding ------------------------------------------------------

Candidates = Callable[[Finding, Context, Priority], list[Recommendation]]


def _augment(ctx: Context, finding: str, priority: Priority, gain: tuple[float, float]) -> (
    list[Recommendation]
):
    if ctx.config.data.augment:
        return []
    images = is_image_data(ctx.config)
    augment = IMAGE_AUGMENTATION if images else FEATURE_AUGMENTATION
    kind = "affine augmentation (small rotations and shifts)" if images else "mixup augmentation"
    return [
        Recommendation(
            name="add_augmentation",
            title=f"Add {kind}",
            priority=priority,
            changes={"data.augment": augment},
            finding=finding,
            rationale="augmentation shows the model new variants of each sample, the strongest "
            "cure for memorizing a small training set",
            expected_gain=gain,
            risk="too strong a transform changes labels (a rotated 6 is a 9); slower epochs",
            space={"data.augment": {"type": "categorical", "choices": [[], augment]}},
        )
    ]


def _dropout(ctx: Context, finding: str, priority: Priority, gain: tuple[float, float]) -> (
    list[Recommendation]
):
    current = ctx.config.model.dropout
    if current >= 0.3:
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


def _weight_decay(
    ctx: Context, finding: str, priority: Priority, gain: tuple[float, float]
) -> list[Recommendation]:
    opt = ctx.config.optimizer
    if opt.name in ("adam", "adamw"):
        value = max(0.05, opt.weight_decay * 10)
        changes: dict[str, Any] = {"optimizer.name": "adamw", "optimizer.weight_decay": value}
        space = {"optimizer.weight_decay": _log_range(1e-3, 0.3)}
        how = "decoupled weight decay (AdamW)"
    else:
        value = max(5e-4, opt.weight_decay * 10)
        changes = {"optimizer.weight_decay": value}
        space = {"optimizer.weight_decay": _log_range(1e-5, 1e-2)}
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


def _capacity(ctx: Context, factor: float) -> dict[str, Any] | None:
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


def _overfitting(f: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
    room = float(f.evidence.get("gap_points", 0.0))
    recs = _augment(ctx, f.id, primary, ctx.gain(room, 0.15, 0.4))
    recs += _dropout(ctx, f.id, primary, ctx.gain(room, 0.1, 0.3))
    # a smaller model competes with augmentation and dropout rather than adding to them (all
    # together underfit): it is the answer only once both are in place
    shrink = not recs
    recs += _weight_decay(ctx, f.id, _LOWER[primary], ctx.gain(room, 0.05, 0.2))
    if ctx.config.training.early_stopping is None:
        recs.append(
            Recommendation(
                name="add_early_stopping",
                title="Stop earlier (early stopping on val loss, patience 5)",
                priority="LOW",
                changes={
                    "training.early_stopping": {"monitor": "val_loss", "mode": "min", "patience": 5}
                },
                finding=f.id,
                rationale="the epochs after val loss turns up only memorize; the best "
                "checkpoint is kept either way, so the gain is mostly time",
                expected_gain=ctx.gain(room, 0.0, 0.05),
                risk="a noisy val loss can stop a run that would still improve",
            )
        )
    smaller = _capacity(ctx, 0.5) if shrink else None
    if smaller:
        recs.append(
            Recommendation(
                name="less_capacity",
                title="Halve the model's capacity",
                priority="LOW",
                changes=smaller,
                finding=f.id,
                rationale="a smaller model has less room to memorize the training set",
                expected_gain=ctx.gain(room, 0.0, 0.15),
                risk="too small a model underfits",
            )
        )
    return recs


def _underfitting(f: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
    room = float(f.evidence.get("shortfall_points", 0.0))
    recs = []
    bigger = _capacity(ctx, 2.0)
    if bigger:
        recs.append(
            Recommendation(
                name="more_capacity",
                title="Double the model's capacity",
                priority=primary,
                changes=bigger,
                finding=f.id,
                rationale="the model cannot even fit the training set: give it more parameters",
                expected_gain=ctx.gain(room, 0.2, 0.5),
                risk="slower steps; may overfit once it fits",
            )
        )
    cfg = ctx.config
    if cfg.optimizer.weight_decay > 0 or cfg.model.dropout > 0:
        recs.append(
            Recommendation(
                name="less_regularization",
                title="Halve the regularization (dropout, weight decay)",
                priority=primary,
                changes={
                    "model.dropout": round(cfg.model.dropout / 2, 3),
                    "optimizer.weight_decay": cfg.optimizer.weight_decay / 2,
                },
                finding=f.id,
                rationale="regularization holds back a model that is not overfitting",
                expected_gain=ctx.gain(room, 0.1, 0.3),
                risk="may start to overfit",
            )
        )
    epochs = cfg.training.epochs
    recs.append(
        Recommendation(
            name="train_longer",
            title=f"Train 3x longer ({epochs} -> {3 * epochs} epochs)",
            priority=_LOWER[primary],
            changes={"training.epochs": 3 * epochs},
            finding=f.id,
            rationale="more steps let an underfit model keep descending (2-5x is usual)",
            expected_gain=ctx.gain(room, 0.1, 0.4),
            risk="3x the training time",
            space={"training.epochs": {"type": "int", "low": 2 * epochs, "high": 5 * epochs}},
        )
    )
    if "lr_too_high" not in ctx.found:
        high = LR_RANGES[cfg.optimizer.name][1]
        new = ctx.probe_lr() or min(10 * ctx.lr, high)
        if new > ctx.lr:
            recs.append(_set_lr(ctx, new, f.id, _LOWER[primary], ctx.gain(room, 0.0, 0.4),
                                "a larger step size escapes the plateau sooner", raise_=True))
    return recs


def _set_lr(
    ctx: Context,
    new: float,
    finding: str,
    priority: Priority,
    gain: tuple[float, float],
    rationale: str,
    *,
    raise_: bool,
) -> Recommendation:
    probed = ctx.probe_lr() is not None
    new = _sig(new)
    how = "the range test's suggestion" if probed else f"{new / ctx.lr:.2g}x"
    if probed:
        space = _log_range(new / 3, new * 3)
    elif raise_:
        space = _log_range(ctx.lr, ctx.lr * 30)
    else:
        space = _log_range(new / 100, new)
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


def _schedule(
    ctx: Context, finding: str, priority: Priority, gain: tuple[float, float], *, warmup: bool
) -> list[Recommendation]:
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


def _grad_clip(
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
            space={"training.grad_clip": _log_range(0.1, 10.0)},
        )
    ]


def _lr_too_high(f: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
    seeds = max(1, int(f.evidence.get("seeds", 1)))
    share = int(f.evidence.get("diverged_seeds", 0)) / seeds
    room = ctx.headroom * (share + (1 - share) * 0.3)
    factor = 10.0 if share > 0 else 3.0
    # never above the top of the optimizer's usual range: lr 5 with Adam becomes 0.01, not 0.5
    new = ctx.probe_lr() or min(ctx.lr / factor, LR_RANGES[ctx.config.optimizer.name][1])
    recs = [
        _set_lr(ctx, new, f.id, primary, ctx.gain(room, 0.4, 0.9),
                "the loss blows up or bounces: smaller steps stay inside the basin", raise_=False)
    ]
    recs += _grad_clip(ctx, f.id, _LOWER[primary], ctx.gain(room, 0.1, 0.4))
    recs += _schedule(ctx, f.id, _LOWER[primary], ctx.gain(room, 0.05, 0.3), warmup=True)
    return recs


def _lr_too_low(f: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
    room = ctx.headroom * 0.5
    # 10x, but not past the top of the optimizer's usual range (unless it is already there)
    high = LR_RANGES[ctx.config.optimizer.name][1]
    new = ctx.probe_lr() or max(min(10 * ctx.lr, high), 3 * ctx.lr)
    recs = [
        _set_lr(ctx, new, f.id, primary, ctx.gain(room, 0.3, 0.8),
                "the loss falls slowly and steadily: larger steps cover the same ground sooner",
                raise_=True)
    ]
    recs += _schedule(ctx, f.id, _LOWER[primary], ctx.gain(room, 0.1, 0.4), warmup=True)
    return recs


def _not_converged(f: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
    late = float(f.evidence.get("late_gain", 0.0)) if ctx.evidence.is_rate else 1.0
    epochs = ctx.config.training.epochs
    recs = [
        Recommendation(
            name="train_longer",
            title=f"Train 2x longer ({epochs} -> {2 * epochs} epochs)",
            priority=primary,
            changes={"training.epochs": 2 * epochs},
            finding=f.id,
            rationale="the target was still improving when training stopped",
            expected_gain=ctx.gain(max(2 * late, 1.0), 0.25, 1.0),
            risk="2x the training time; may start to overfit (watch val loss)",
            space={"training.epochs": {"type": "int", "low": epochs + epochs // 2,
                                       "high": 4 * epochs}},
        )
    ]
    recs += _schedule(ctx, f.id, _LOWER[primary], ctx.gain(max(late, 1.0), 0.0, 1.0), warmup=False)
    return recs


def _saturated_early(f: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
    best = float(f.evidence.get("best_epoch", ctx.config.training.epochs))
    epochs = ctx.config.training.epochs
    shorter = max(2, math.ceil(1.5 * best))
    if shorter >= epochs:
        return []
    return [
        Recommendation(
            name="train_shorter",
            title=f"Train shorter ({epochs} -> {shorter} epochs)",
            priority=primary,
            changes={"training.epochs": shorter},
            finding=f.id,
            rationale=f"the best epoch comes at {best:.0f}: the rest is compute spent for nothing",
            expected_gain=(0.0, 0.0),
            risk="a seed that peaks late loses its best epoch",
        )
    ]


def _early_stopping_eager(f: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
    es = ctx.config.training.early_stopping
    if es is None:
        return []
    patience = max(2 * es.patience, 5)
    return [
        Recommendation(
            name="more_patience",
            title=f"Give early stopping more patience ({es.patience} -> {patience})",
            priority=primary,
            changes={"training.early_stopping.patience": patience,
                     "training.early_stopping.min_delta": 0.0},
            finding=f.id,
            rationale="the runs stopped while the train loss was still falling",
            expected_gain=ctx.gain(ctx.headroom * 0.2, 0.0, 1.0),
            risk="longer runs",
            space={"training.early_stopping.patience": {"type": "int", "low": patience // 2 + 1,
                                                         "high": 3 * patience}},
        )
    ]


def _early_stopping_never(f: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
    es = ctx.config.training.early_stopping
    if es is None:
        return []
    metric = ctx.evidence.metric
    mode = "max" if ctx.evidence.higher_is_better else "min"
    patience = min(es.patience, max(2, ctx.config.training.epochs // 4))
    return [
        Recommendation(
            name="early_stopping_on_target",
            title=f"Stop on {metric} with a minimum improvement",
            priority=primary,
            changes={"training.early_stopping": {"monitor": metric, "mode": mode,
                                                 "patience": patience, "min_delta": 0.001}},
            finding=f.id,
            rationale=f"{es.monitor} keeps inching while {metric} has stopped improving",
            expected_gain=(0.0, 0.0),
            risk="a late-peaking seed may stop before its best epoch",
        )
    ]


def _class_imbalance(f: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
    if ctx.config.training.monitor == "val_balanced_accuracy":
        return []
    gap = float(f.evidence.get("gap_points", 0.0))
    return [
        Recommendation(
            name="monitor_balanced_accuracy",
            title="Keep the checkpoint with the best balanced accuracy",
            priority=primary,
            changes={"training.monitor": "val_balanced_accuracy"},
            finding=f.id,
            rationale="the best epoch is picked by a metric the majority classes dominate; "
            "class weights or resampling are not trainer settings yet",
            expected_gain=ctx.gain(gap, 0.0, 0.25),
            risk="plain accuracy may drop slightly as rare classes gain",
        )
    ]


def _resource_waste(f: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
    batch = ctx.config.data.batch_size
    sizes = [r.train_size for r in ctx.evidence.runs if r.train_size]
    new = ctx.probe_batch() or 4 * batch
    if sizes:
        new = min(new, max(batch, min(sizes) // 4))
    if new <= batch:
        return []
    return [
        Recommendation(
            name="larger_batch",
            title=f"Raise the batch size ({batch} -> {new})",
            priority=primary,
            changes={"data.batch_size": new},
            finding=f.id,
            rationale="larger batches amortize the per-step data and launch overhead",
            expected_gain=(0.0, 0.0),
            risk="fewer steps per epoch: the lr may need to scale with the batch",
            space={"data.batch_size": {"type": "categorical", "choices": [batch, new]}},
        )
    ]


def _config_gaps(f: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
    # generic hygiene: never above LOW, so it never crowds out an answer to a root cause
    settings = set(f.evidence.get("settings", []))
    h = ctx.headroom
    recs: list[Recommendation] = []
    if "schedule.name" in settings:
        recs += _schedule(ctx, f.id, "LOW", ctx.gain(h, 0.0, 0.15), warmup=False)
    if "data.augment" in settings:
        recs += _augment(ctx, f.id, "LOW", ctx.gain(h, 0.0, 0.15))
    if "regularization" in settings and ctx.config.training.label_smoothing == 0:
        recs.append(
            Recommendation(
                name="label_smoothing",
                title="Add label smoothing (0.1)",
                priority="LOW",
                changes={"training.label_smoothing": 0.1},
                finding=f.id,
                rationale="softer targets discourage over-confident logits",
                expected_gain=ctx.gain(h, 0.0, 0.1),
                risk="calibrated probabilities shift; little effect on small models",
                space={"training.label_smoothing": {"type": "float", "low": 0.0, "high": 0.2,
                                                    "log": False}},
            )
        )
    if "training.grad_clip" in settings:
        recs += _grad_clip(ctx, f.id, "LOW", ctx.gain(h, 0.0, 0.05))
    if "model.pretrained" in settings and ctx.config.optimizer.backbone_lr is None:
        recs.append(
            Recommendation(
                name="backbone_lr",
                title="Train the pretrained backbone at a tenth of the head's lr",
                priority="LOW",
                changes={"optimizer.backbone_lr": _sig(ctx.lr / 10)},
                finding=f.id,
                rationale="a pretrained backbone needs small steps to keep what it learned",
                expected_gain=ctx.gain(h, 0.0, 0.2),
                risk="the backbone adapts slowly to a distant domain",
            )
        )
    return recs


CANDIDATES: dict[str, Candidates] = {
    "overfitting": _overfitting,
    "underfitting": _underfitting,
    "lr_too_high": _lr_too_high,
    "lr_too_low": _lr_too_low,
    "not_converged": _not_converged,
    "saturated_early": _saturated_early,
    "early_stopping_eager": _early_stopping_eager,
    "early_stopping_never_fires": _early_stopping_never,
    "class_imbalance": _class_imbalance,
    "resource_waste": _resource_waste,
    "config_gaps": _config_gaps,
}


def fallbacks(ctx: Context) -> list[Recommendation]:
    """Generic changes that fill the list to three when the findings propose fewer."""
    h = ctx.headroom
    recs = _schedule(ctx, "none", "LOW", ctx.gain(h, 0.0, 0.15), warmup=True)
    recs += _grad_clip(ctx, "none", "LOW", ctx.gain(h, 0.0, 0.05))
    if ctx.config.training.label_smoothing == 0:
        recs.append(
            Recommendation(
                name="label_smoothing",
                title="Add label smoothing (0.1)",
                priority="LOW",
                changes={"training.label_smoothing": 0.1},
                finding="none",
                rationale="softer targets discourage over-confident logits",
                expected_gain=ctx.gain(h, 0.0, 0.1),
                risk="little effect on small models",
            )
        )
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
            space={"optimizer.lr": _log_range(ctx.lr / 3, ctx.lr * 3)},
            uncertain=True,
        )
    )
    return recs
