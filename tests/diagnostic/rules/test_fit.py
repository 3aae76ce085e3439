"""phases.diagnostic.rules._fit: overfitting and underfitting on crafted histories."""

from __future__ import annotations

import math

import pytest

from phases.diagnostic.rules import find_all
from tests.diagnostic.histories import by_id, evidence, seeds


def test_overfitting_by_the_accuracy_gap() -> None:
    # train accuracy 100% against val 75% at the last epoch: a 25-point gap (> 15) is overfitting
    runs = seeds(train_accuracy=lambda e: min(1.0, 0.5 + 0.05 * e),
                 val_accuracy=lambda e: min(0.75, 0.4 + 0.05 * e))
    found = by_id(find_all(evidence(runs)))
    overfit = found["overfitting"]
    assert overfit.evidence["train_accuracy"] == 100.0
    assert overfit.evidence["val_accuracy"] == 75.0
    assert overfit.evidence["gap_points"] == 25.0
    assert overfit.severity == "medium"  # 25 is not above OVERFIT_GAP_HIGH, and val loss is flat
    assert "25.0-point gap" in overfit.text
    assert overfit.root_cause


def test_overfitting_by_val_loss_rising_while_train_loss_falls() -> None:
    # val loss bottoms out at epoch 8 and ends 30% higher while train loss keeps falling
    def val_loss(e: int) -> float:
        return 0.5 + 0.05 * abs(e - 8) if e < 8 else 0.5 * (1 + 0.3 * (e - 8) / 12)

    runs = seeds(val_loss=val_loss, val_accuracy=lambda e: 0.9, train_accuracy=lambda e: 0.93)
    overfit = by_id(find_all(evidence(runs)))["overfitting"]
    assert overfit.evidence["seeds_val_loss_rising"] == 3
    assert overfit.evidence["val_loss_min_epoch"] == 8
    assert overfit.evidence["val_loss_rise_pct"] == pytest.approx(30.0)
    assert overfit.evidence["gap_points"] == pytest.approx(3.0)  # the gap alone would not say it


def test_underfitting_with_a_plateau_high() -> None:
    # train accuracy stuck at 60% (below the 97% goal) and train loss flat at 1.2 from epoch 5
    runs = seeds(train_loss=lambda e: 1.2 + 1.0 * math.exp(-e),
                 train_accuracy=lambda e: 0.60, val_accuracy=lambda e: 0.58,
                 val_balanced_accuracy=lambda e: 0.575)
    found = by_id(find_all(evidence(runs, goal=0.97)))
    under = found["underfitting"]
    assert under.evidence["train_accuracy_best"] == 60.0
    assert under.evidence["reference"] == 97.0
    assert under.evidence["shortfall_points"] == 37.0
    assert under.evidence["plateau"] is True
    assert under.severity == "high"
    assert "lr_too_low" not in found  # fast early progress: a capacity problem, not the lr
