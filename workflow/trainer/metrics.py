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
    matrix = matrix.double()
    true_positive = matrix.diagonal()
    support = matrix.sum(dim=1)
    predicted = matrix.sum(dim=0)
    total = matrix.sum()
    accuracy = (true_positive.sum() / total).item() if total > 0 else 0.0
    present = support > 0
    recall = true_positive[present] / support[present]
    balanced = recall.mean().item() if present.any() else 0.0
    seen = present | (predicted > 0)
    denominator = support + predicted
    f1 = torch.where(denominator > 0, 2 * true_positive / denominator.clamp_min(1), 0.0)
    macro_f1 = f1[seen].mean().item() if seen.any() else 0.0
    return {"accuracy": accuracy, "balanced_accuracy": balanced, "macro_f1": macro_f1}
