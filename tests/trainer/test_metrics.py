"""Per-epoch classification metrics agree with scikit-learn's definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from workflow.trainer.metrics import classification_metrics, confusion


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_scikit_learn(seed: int) -> None:
    # accuracy, balanced accuracy (UAR) and macro-F1 as scikit-learn computes them,
    # including classes that are never predicted or never present
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 6, 200)
    p = np.where(rng.random(200) < 0.6, y, rng.integers(0, 7, 200))
    metrics = classification_metrics(confusion(torch.tensor(y), torch.tensor(p), 7))
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y, p))
    assert metrics["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, p))
    assert metrics["macro_f1"] == pytest.approx(f1_score(y, p, average="macro", zero_division=0))
