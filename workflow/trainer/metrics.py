"""Classification metrics from a confusion matrix, computed once per epoch."""

from __future__ import annotations

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
    if matrix.shape[0] > 64:  # many classes: the row sums in torch, the rest per class
        diagonal, support, predicted = (
            torch.stack([matrix.diagonal(), matrix.sum(1), matrix.sum(0)]).tolist())
    else:  # once per epoch on a few classes: plain Python costs less than numpy's calls
        rows = matrix.tolist()
        diagonal = [row[i] for i, row in enumerate(rows)]
        support = [sum(row) for row in rows]
        predicted = [sum(col) for col in zip(*rows, strict=True)]
    total = sum(support)
    recalls = [t / s for t, s in zip(diagonal, support, strict=True) if s > 0]
    f1 = [2 * t / (s + p) for t, s, p in zip(diagonal, support, predicted, strict=True) if s + p]
    return {
        "accuracy": sum(diagonal) / total if total > 0 else 0.0,
        "balanced_accuracy": sum(recalls) / len(recalls) if recalls else 0.0,
        "macro_f1": sum(f1) / len(f1) if f1 else 0.0,
    }
