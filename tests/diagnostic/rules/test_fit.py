"""phases.diagnostic.rules._fit: overfitting and underfitting on crafted histories."""

from __future__ import annotations

import math

import pytest

from phases.diagnostic.rules import find_all
from tests.diagnostic.histories import by_id, evidence, seeds
from workflow.metric import Metric


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


def _val_loss_rising(e: int) -> float:
    # val loss bottoms out at epoch 8 and ends 30% higher
    return 0.5 + 0.05 * abs(e - 8) if e < 8 else 0.5 * (1 + 0.3 * (e - 8) / 12)


def test_a_rising_val_loss_alone_is_not_overfitting() -> None:
    # issue 12: val accuracy still rising at the end while val loss rises (a classifier grows
    # confident): the monitored metric did not get worse, so there is no overfitting
    runs = seeds(val_loss=_val_loss_rising, val_accuracy=lambda e: 0.80 + 0.005 * e,
                 train_accuracy=lambda e: 0.83 + 0.005 * e)
    assert "overfitting" not in by_id(find_all(evidence(runs)))


def test_overfitting_on_the_monitored_metric_with_the_loss_as_support() -> None:
    # val accuracy peaks at epoch 8 (92%) and falls back 4 points while train loss keeps
    # falling: overfitting on the target itself; the rising val loss supports it (high)
    runs = seeds(val_loss=_val_loss_rising,
                 val_accuracy=lambda e: 0.92 - 0.01 * abs(e - 8) * (1 if e < 8 else 0.4),
                 train_accuracy=lambda e: 0.93)
    overfit = by_id(find_all(evidence(runs)))["overfitting"]
    assert overfit.evidence["metric"] == "val_accuracy"
    assert overfit.evidence["best_epoch"] == 8
    assert overfit.evidence["fall_back"] == pytest.approx(4.8, abs=0.01)
    assert overfit.evidence["seeds_declined"] == 3
    assert overfit.evidence["seeds_val_loss_rising"] == 3
    assert overfit.evidence["val_loss_rise_pct"] == pytest.approx(30.0)
    assert overfit.evidence["gap_points"] < 15  # the gap alone would not say it
    assert overfit.severity == "high"
    assert "(supporting)" in overfit.text


def test_overfitting_on_a_minimized_metric_of_a_regression() -> None:
    # a regression scored by val_mse (minimized, no accuracy): val_mse bottoms at epoch 6 and
    # ends 20% higher while the train loss falls: overfitting, judged on val_mse alone
    def mse(e: int) -> float:
        return 0.5 + 0.02 * (6 - e) if e < 6 else 0.5 * (1 + 0.2 * (e - 6) / 14)

    runs = [[{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.0, "val_mse": mse(e)}
             for e in range(1, 21)] for _ in range(3)]
    ev = evidence(runs, target=Metric.named("val_mse"))
    overfit = by_id(find_all(ev))["overfitting"]
    assert overfit.evidence["fall_back"] == pytest.approx(20.0, abs=0.01)
    assert overfit.evidence["fall_back_unit"] == "%"
    assert "gap_points" not in overfit.evidence


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
