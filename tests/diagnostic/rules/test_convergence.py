"""phases.diagnostic.rules._convergence: not converged, or saturated early."""

from __future__ import annotations

import pytest

from phases.diagnostic.rules import find_all
from tests.diagnostic.histories import by_id, clean_config, evidence, seeds


def test_not_converged_when_still_improving() -> None:
    # val accuracy climbs 1 point per epoch to the very end: the last 5 epochs gained 5 points
    runs = seeds(val_accuracy=lambda e: 0.70 + 0.01 * e, val_balanced_accuracy=lambda e: 0.7)
    config = clean_config(**{"training.early_stopping": None})
    found = by_id(find_all(evidence(runs, config=config)))
    late = found["not_converged"]
    assert late.evidence["late_gain"] == pytest.approx(5.0)
    assert late.evidence["window_epochs"] == 5
    assert late.evidence["best_epoch"] == 20
    assert late.severity == "high"  # more than 2 points still to gain
    assert "saturated_early" not in found


def test_saturated_early() -> None:
    # val accuracy peaks at epoch 4 of 20 and never beats it: 80% of the epochs bought nothing
    runs = seeds(val_accuracy=lambda e: 0.95 if e == 4 else 0.94,
                 val_balanced_accuracy=lambda e: 0.94)
    early = by_id(find_all(evidence(runs)))["saturated_early"]
    assert early.evidence["best_epoch"] == 4
    assert early.evidence["idle_epochs_pct"] == 80.0
    assert early.severity == "low"
