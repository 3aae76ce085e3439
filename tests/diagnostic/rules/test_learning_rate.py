"""phases.diagnostic.rules._learning_rate: the lr too high or too low, and what it explains."""

from __future__ import annotations

import math

import pytest

from phases.diagnostic.rules import find_all
from tests.diagnostic.histories import by_id, evidence, seeds


def test_lr_too_high_when_seeds_diverge() -> None:
    # a non-finite loss at epoch 3 in every seed: the run diverged, the lr is too high
    runs = seeds(train_loss=lambda e: math.nan if e == 3 else 1.0)
    ev = evidence(runs)
    assert all(run.status == "diverged" and len(run.history) == 2 for run in ev.runs)
    high = by_id(find_all(ev))["lr_too_high"]
    assert high.severity == "high"
    assert high.evidence["diverged_seeds"] == 3
    assert high.evidence["first_divergence_epoch"] == 3
    assert high.evidence["lr"] == 1e-3
    assert "3 of 3 seeds diverged" in high.text


def test_lr_too_high_by_loss_spikes() -> None:
    # train loss doubles at epochs 6 and 12 (well above 10% of the first loss): spikes
    def loss(e: int) -> float:
        return 0.3 + 1.2 * math.exp(-e / 2) + (0.8 if e in (6, 12) else 0.0)

    high = by_id(find_all(evidence(seeds(train_loss=loss))))["lr_too_high"]
    assert high.evidence["spikes"] == 6  # two in each of 3 seeds
    assert high.evidence["seeds_with_spikes"] == 3
    assert high.severity == "high"  # repeated spikes


def test_lr_too_high_by_oscillation() -> None:
    # train loss zigzags by 0.3 every epoch around a slow decline: it bounces, it does not settle
    def loss(e: int) -> float:
        return 1.0 - 0.01 * e + (0.3 if e % 2 else 0.0)

    high = by_id(find_all(evidence(seeds(train_loss=loss))))["lr_too_high"]
    assert high.evidence["seeds_oscillating"] == 3
    assert high.evidence["oscillation_pct"] == 100.0
    assert high.evidence["spikes"] == 0
    assert high.severity == "medium"


def test_lr_too_low_and_the_underfit_it_explains() -> None:
    # train loss falls in a straight slow line from 2.30 to 1.92: the lr is too low; the
    # resulting low train accuracy is marked a symptom of it, not a root cause
    runs = seeds(train_loss=lambda e: 2.32 - 0.02 * e, val_loss=lambda e: 2.35 - 0.02 * e,
                 train_accuracy=lambda e: 0.2 + 0.01 * e, val_accuracy=lambda e: 0.2 + 0.01 * e,
                 val_balanced_accuracy=lambda e: 0.2 + 0.01 * e)
    found = by_id(find_all(evidence(runs)))
    low = found["lr_too_low"]
    assert low.evidence["train_loss_first"] == pytest.approx(2.30)
    assert low.evidence["train_loss_last"] == pytest.approx(1.92)
    assert low.evidence["total_reduction_pct"] == pytest.approx(16.5, abs=0.1)
    assert low.evidence["first_half_share_pct"] == pytest.approx(47.4, abs=0.1)
    assert low.severity == "high"  # under 20% in the whole run: stuck
    assert found["underfitting"].explained_by == "lr_too_low"
    assert not found["underfitting"].root_cause
