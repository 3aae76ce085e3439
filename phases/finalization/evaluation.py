"""The final model against the baseline on the test set: accuracies, McNemar, per-class metrics.

Everything here works on the saved predictions of the one look at the test
split (`TestEvaluation`), never on the split itself. McNemar's test pairs the
two models example by example (exact binomial below 25 discordant pairs).
Each accuracy also gets its Wilson 95% interval: a test set is one sample,
and the model card says how wide the uncertainty it leaves is.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from phases.finalization.predictions import TestEvaluation
from workflow.plots import new_figure, save_figure
from workflow.stats import mcnemar

__all__ = ["arm_metrics", "compare_on_test", "confusion_matrix", "plot_confusion", "wilson"]

Z95 = 1.959963984540054


def confusion_matrix(targets: Sequence[int], predictions: Sequence[int], n: int) -> list[list[int]]:
    """Rows are true classes, columns predicted classes."""
    matrix = np.zeros((n, n), dtype=np.int64)
    np.add.at(matrix, (np.asarray(targets), np.asarray(predictions)), 1)
    return matrix.tolist()


def wilson(correct: int, total: int) -> tuple[float, float]:
    """The Wilson score 95% interval of a proportion."""
    if total == 0:
        return 0.0, 1.0
    p = correct / total
    denominator = 1 + Z95**2 / total
    centre = (p + Z95**2 / (2 * total)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / total + Z95**2 / (4 * total**2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def arm_metrics(
    targets: Sequence[int], predictions: Sequence[int], class_names: Sequence[str]
) -> dict[str, Any]:
    """Accuracy (with its interval), balanced accuracy, macro-F1, per-class metrics, confusion."""
    n = len(class_names)
    matrix = np.asarray(confusion_matrix(targets, predictions, n), dtype=np.float64)
    true_positive = np.diag(matrix)
    support, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    total = int(matrix.sum())
    correct = int(true_positive.sum())
    precision = np.divide(true_positive, predicted, out=np.zeros(n), where=predicted > 0)
    recall = np.divide(true_positive, support, out=np.zeros(n), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros(n), where=both > 0)
    present = support > 0
    low, high = wilson(correct, total)
    return {
        "n": total,
        "correct": correct,
        "accuracy": correct / total if total else 0.0,
        "accuracy_ci95": [low, high],
        "balanced_accuracy": float(recall[present].mean()) if present.any() else 0.0,
        "macro_f1": float(f1[present | (predicted > 0)].mean()) if total else 0.0,
        "per_class": [
            {"class": str(class_names[k]), "precision": float(precision[k]),
             "recall": float(recall[k]), "f1": float(f1[k]), "support": int(support[k])}
            for k in range(n)
        ],
        "confusion": matrix.astype(np.int64).tolist(),
    }


def compare_on_test(evaluation: TestEvaluation, *, final: str = "final",
                 baseline: str = "baseline") -> dict[str, Any]:
    """The content of test_metrics.json: both arms, their difference and McNemar's test."""
    names = evaluation.class_names or [str(k) for k in range(max(evaluation.targets) + 1)]
    arms = {arm: arm_metrics(evaluation.targets, evaluation.predictions[arm], names)
            for arm in (final, baseline)}
    test = mcnemar(evaluation.targets, evaluation.predictions[baseline],
                   evaluation.predictions[final])
    return {
        "n": evaluation.size,
        "class_names": list(names),
        "evaluated_at": evaluation.evaluated_at,
        "predictions_sha256": evaluation.sha256,
        "final": arms[final],
        "baseline": arms[baseline],
        "accuracy_difference": arms[final]["accuracy"] - arms[baseline]["accuracy"],
        # b: the baseline right where the final model is wrong; c: the other way round
        "mcnemar": {**test.to_dict(), "model_a": baseline, "model_b": final},
    }


def plot_confusion(
    path: str | os.PathLike[str], matrix: Sequence[Sequence[int]], class_names: Sequence[str],
    *, title: str,
) -> Path:
    """Draw a confusion matrix (counts, rows true, columns predicted) into the PNG `path`."""
    data = np.asarray(matrix)
    n = len(class_names)
    size = max(4.0, 0.45 * n + 2.0)
    figure, axes = new_figure(figsize=(size, size * 0.9))
    image = axes.imshow(data, cmap="Blues")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    axes.set_xticks(range(n), labels=[str(c) for c in class_names], rotation=45, ha="right")
    axes.set_yticks(range(n), labels=[str(c) for c in class_names])
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(title)
    if n <= 30:
        threshold = data.max() / 2 if data.size else 0
        for i in range(n):
            for j in range(n):
                if data[i, j]:
                    axes.text(j, i, str(data[i, j]), ha="center", va="center", fontsize=8,
                              color="white" if data[i, j] > threshold else "black")
    figure.tight_layout()
    return save_figure(figure, path, dpi=100)
