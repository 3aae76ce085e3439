"""Phase 3's findings, one `Rule` each: its id, its check, its answers, what it explains.

To add a finding, subclass `Rule` in a module of this folder (its thresholds
beside it) and add an instance to `RULES` in `_registry.py`; the registry is
checked when it is imported (unique ids, known answers, known causes, no
circle of "explained by").

- `_fit`: overfitting (on the target metric, the loss as support), underfitting
- `_learning_rate`: lr_too_high, lr_too_low
- `_optimizer`: sgd_no_momentum, adam_betas, adam_l2_decay
- `_capacity`: too_little_capacity, heavy_regularization, frozen_layers
- `_steps`: few_steps (the batch against the data and the lr)
- `_input_scale`: input_scale (the loss at initialization against a uniform guess)
- `_convergence`: not_converged, saturated_early
- `_early_stopping`: early_stopping_eager, early_stopping_never_fires
- `_class_imbalance`, `_seed_noise`, `_resources`, `_config_gaps`: one rule each
"""

from __future__ import annotations

from phases.diagnostic.rules._base import SEVERITY_RANK, Finding, Rule, Severity
from phases.diagnostic.rules._capacity import FrozenLayers, HeavyRegularization, TooLittleCapacity
from phases.diagnostic.rules._class_imbalance import ClassImbalance
from phases.diagnostic.rules._config_gaps import ConfigGaps
from phases.diagnostic.rules._convergence import NotConverged, SaturatedEarly
from phases.diagnostic.rules._early_stopping import EarlyStoppingEager, EarlyStoppingNeverFires
from phases.diagnostic.rules._fit import Overfitting, Underfitting
from phases.diagnostic.rules._input_scale import InputScale
from phases.diagnostic.rules._learning_rate import LrTooHigh, LrTooLow
from phases.diagnostic.rules._optimizer import AdamBetas, AdamL2Decay, SgdNoMomentum
from phases.diagnostic.rules._registry import (
    RULES,
    check_rules,
    find_all,
    not_applicable,
    rule_for,
)
from phases.diagnostic.rules._resources import ResourceWaste
from phases.diagnostic.rules._seed_noise import SeedAdvice, SeedNoise, seed_advice
from phases.diagnostic.rules._steps import FewSteps

__all__ = [
    "RULES",
    "AdamBetas",
    "AdamL2Decay",
    "FewSteps",
    "FrozenLayers",
    "HeavyRegularization",
    "InputScale",
    "SgdNoMomentum",
    "TooLittleCapacity",
    "not_applicable",
    "SeedAdvice",
    "SEVERITY_RANK",
    "ClassImbalance",
    "ConfigGaps",
    "EarlyStoppingEager",
    "EarlyStoppingNeverFires",
    "Finding",
    "LrTooHigh",
    "LrTooLow",
    "NotConverged",
    "Overfitting",
    "ResourceWaste",
    "Rule",
    "SaturatedEarly",
    "SeedNoise",
    "Severity",
    "Underfitting",
    "check_rules",
    "find_all",
    "rule_for",
    "seed_advice",
]
