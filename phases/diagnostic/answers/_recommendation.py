"""A recommendation (one config patch answering one finding), its priority, and what it knows.

Gains are heuristic ranges in points of the target metric (100x its units:
one point is 0.01 of accuracy): a share of the room the finding's own numbers
show (an overfitting gap, an underfit's shortfall), capped by the headroom
between the baseline and a perfect score (`Context.gain`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from phases.diagnostic.evidence import Evidence
from workflow.trainer.config import TrainConfig

__all__ = [
    "ANSWERS",
    "RESTRAINING",
    "Context",
    "Priority",
    "Recommendation",
    "log_range",
    "lower",
    "priority_of",
    "sig",
]

Priority = Literal["HIGH", "MEDIUM", "LOW"]

_OF_SEVERITY: dict[str, Priority] = {"high": "HIGH", "medium": "MEDIUM", "low": "LOW"}
_LOWER: dict[Priority, Priority] = {"HIGH": "MEDIUM", "MEDIUM": "LOW", "LOW": "LOW"}

# every answer a rule may offer, by the name its `Recommendation` carries: a rule names
# its answers from this list, and the registry refuses a rule that names another
ANSWERS: dict[str, str] = {
    "add_augmentation": "augment the training data (affine on images, mixup otherwise)",
    "add_dropout": "dropout 0.3",
    "add_weight_decay": "weight decay (decoupled with Adam)",
    "add_early_stopping": "early stopping on val loss",
    "less_capacity": "halve the model",
    "more_capacity": "double the model",
    "less_regularization": "halve dropout and weight decay",
    "train_longer": "more epochs",
    "train_shorter": "fewer epochs",
    "raise_lr": "a larger learning rate",
    "lower_lr": "a smaller learning rate",
    "tune_lr": "a search of the learning rate around its value",
    "lr_schedule": "cosine decay and warmup",
    "grad_clip": "clip the gradient norm",
    "more_patience": "more patience for early stopping",
    "early_stopping_on_target": "early stopping on the target with a minimum improvement",
    "monitor_balanced_accuracy": "keep the checkpoint of the best balanced accuracy",
    "larger_batch": "a larger batch",
    "label_smoothing": "label smoothing 0.1",
    "backbone_lr": "a tenth of the head's lr for a pretrained backbone",
    "add_momentum": "momentum 0.9 for plain SGD",
    "usual_betas": "Adam's usual betas (0.9, 0.999)",
    "decoupled_decay": "AdamW instead of Adam with L2 decay",
    "smaller_batch": "a smaller batch: more steps an epoch",
    "unfreeze": "train every layer",
    "faster_loader": "more loader workers, deeper prefetch, pinned memory",
}
# answers that restrain a model (regularize it, cap its steps, shorten it): never offered to
# a model that underfits, whatever else is found (`recommend.plan` drops them)
RESTRAINING = ("add_augmentation", "add_dropout", "add_weight_decay", "add_early_stopping",
               "less_capacity", "label_smoothing", "grad_clip", "train_shorter")


def priority_of(severity: str) -> Priority:
    """A finding's severity as the priority of its primary answer."""
    return _OF_SEVERITY[severity]


def lower(priority: Priority) -> Priority:
    """One step below `priority` (a secondary answer); LOW stays LOW."""
    return _LOWER[priority]


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
    # the training cost of the changed config against the baseline's (3x the epochs: 3.0);
    # recommendations rank by expected gain per unit of cost within a priority
    cost: float = 1.0
    # where the expected gain comes from: "prior" (a share of the headroom, no measurement),
    # "probe" (short runs of this change), "record" (this project's earlier attempts)
    basis: str = "prior"
    basis_text: str = "a share of the headroom: nothing measured"

    @property
    def gain_per_cost(self) -> float:
        """The middle of the expected gain per unit of training cost: what ranking reads."""
        return (self.expected_gain[0] + self.expected_gain[1]) / 2 / max(self.cost, 1e-9)

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
    """What every answer may read: the config, the evidence, the headroom, the findings' ids."""

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

    def prior(self, finding: str, low: float, high: float) -> tuple[float, float]:
        """The prior gain of an answer to `finding`: a share of the whole headroom (until a
        probe or the project's record measures it, `recommend` replaces it)."""
        return self.gain(self.headroom, low, high)


def sig(value: float, digits: int = 2) -> float:
    """`value` rounded to `digits` significant digits (a learning rate a person can read)."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def log_range(low: float, high: float) -> dict[str, Any]:
    """A sweep knob searched on a log scale from `low` to `high`."""
    return {"type": "float", "low": sig(low), "high": sig(high), "log": True}
