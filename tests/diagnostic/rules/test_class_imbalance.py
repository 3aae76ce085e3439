"""phases.diagnostic.rules._class_imbalance: accuracy far above balanced accuracy."""

from __future__ import annotations

import math

import pytest

from phases.diagnostic.rules import find_all
from tests.diagnostic.histories import by_id, evidence, seeds


def test_class_imbalance() -> None:
    # balanced accuracy 12 points below accuracy at the best epoch: the rare classes are missed
    runs = seeds(val_balanced_accuracy=lambda e: 0.955 - 0.4 * math.exp(-e / 2.5) - 0.12)
    imbalance = by_id(find_all(evidence(runs)))["class_imbalance"]
    assert imbalance.evidence["gap_points"] == pytest.approx(12.0)
    assert imbalance.severity == "high"
