"""phases.diagnostic.rules._early_stopping: too eager, or never firing."""

from __future__ import annotations

import pytest

from phases.diagnostic.rules import find_all
from tests.diagnostic.histories import by_id, clean_config, evidence, seeds


def test_early_stopping_too_eager() -> None:
    # patience 2 stops every seed at epoch 5 of 30 while train loss still falls fast
    config = clean_config(**{"training.epochs": 30, "training.early_stopping.patience": 2})
    runs = seeds(epochs=5, train_loss=lambda e: 2.0 - 0.3 * e)
    ev = evidence(runs, config=config)
    assert all(run.status == "early_stopped" for run in ev.runs)
    eager = by_id(find_all(ev))["early_stopping_eager"]
    assert eager.evidence["stop_epoch"] == 5
    assert eager.evidence["patience"] == 2
    assert eager.evidence["epochs_configured"] == 30
    assert eager.evidence["train_loss_drop_last_patience_pct"] == pytest.approx(100 * 0.6 / 1.1,
                                                                                abs=0.1)


def test_early_stopping_never_fires() -> None:
    # a patience of 40 over 20 epochs can never fire, though val accuracy peaked at epoch 6
    config = clean_config(**{"training.early_stopping.patience": 40})
    runs = seeds(val_accuracy=lambda e: 0.95 if e == 6 else 0.94)
    never = by_id(find_all(evidence(runs, config=config)))["early_stopping_never_fires"]
    assert never.evidence["best_epoch"] == 6
    assert never.evidence["seeds_stopped"] == 0
    assert "patience (40) is not below the 20 epochs" in never.text
