"""Classification metrics from a confusion matrix, computed once per epoch."""

from __future__ import annotations

import numpy as np
import torch


def confusion(targets: torch.Tensor, predictions: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Rows are true classes, columns predicted classes."""
    flat = targets.long() * num_classes + predictions.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


def classification_metrics(matrix: torch.Tensor) -> dict[str, float]:
    """Accuracy, balanced accuracy (mean recall, UAR) and macro-F1.

    As scikit-learn does: balanced accuracy averages over the classes present in
    the targets; macro-F1 over the classes present in targets or predictions.
    """
    m = matrix.cpu().numpy().astype(np.float64)  # a small matrix: numpy beats many tiny torch ops
    true_positive = np.diag(m)
    support, predicted, total = m.sum(axis=1), m.sum(axis=0), m.sum()
    present = support > 0
    seen = present | (predicted > 0)
    denominator = support + predicted
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros_like(m[0]), where=denominator > 0)
    return {
        "accuracy": float(true_positive.sum() / total) if total > 0 else 0.0,
        "balanced_accuracy": float((true_positive[present] / support[present]).mean())
        if present.any()
        else 0.0,
        "macro_f1": float(f1[seen].mean()) if seen.any() else 0.0,
    }
