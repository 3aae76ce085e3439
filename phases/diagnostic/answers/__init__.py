"""The field's usual answers to a finding, as concrete config patches.

Against overfitting: augmentation, dropout, weight decay, earlier stopping,
less capacity. Against underfitting: more capacity, less regularization, longer
training, a 10x learning rate. A learning rate too high or too low: a new rate
(the range test's suggestion when it ran), gradient clipping, a schedule with
warmup. Each rule (`phases.diagnostic.rules`) composes its answers from these
builders; an answer only one rule gives is written in that rule.

Each answer is a `Recommendation`: a dotted-path patch of `TrainConfig`, the
finding it answers, a rationale, an expected gain, a risk, and the knobs a
sweep would search. `ANSWERS` names every one a rule may offer.
"""

from __future__ import annotations

from phases.diagnostic.answers._fallbacks import FALLBACK_ANSWERS, fallbacks
from phases.diagnostic.answers._optimization import grad_clip, schedule, set_lr
from phases.diagnostic.answers._recommendation import (
    ANSWERS,
    RESTRAINING,
    Context,
    Priority,
    Recommendation,
    log_range,
    lower,
    priority_of,
    sig,
)
from phases.diagnostic.answers._regularization import (
    FEATURE_AUGMENTATION,
    IMAGE_AUGMENTATION,
    augment,
    capacity,
    dropout,
    label_smoothing,
    weight_decay,
)

__all__ = [
    "ANSWERS",
    "FALLBACK_ANSWERS",
    "FEATURE_AUGMENTATION",
    "RESTRAINING",
    "IMAGE_AUGMENTATION",
    "Context",
    "Priority",
    "Recommendation",
    "augment",
    "capacity",
    "dropout",
    "fallbacks",
    "grad_clip",
    "label_smoothing",
    "log_range",
    "lower",
    "priority_of",
    "schedule",
    "set_lr",
    "sig",
    "weight_decay",
]
