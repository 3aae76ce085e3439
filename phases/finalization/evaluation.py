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

__all__ = ["arm_metrics", "compare_on_test", "compare_values", "confusion_matrix",
           "paired_errors", "plot_confusion", "wilson"]

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


def compare_values(evaluation: TestEvaluation, *, task: str,
                   trainer_metrics: dict[str, dict[str, float]],
                   final: str = "final", baseline: str = "baseline") -> dict[str, Any]:
    """The content of test_metrics.json for a trainer whose task is not classification.

    A regression is compared on the paired per-example squared errors (the same test
    examples, baseline against final): their mean difference with a t interval and a
    paired t-test; each arm's MSE, RMSE and MAE beside the trainer's own metrics. For any
    other task the predictions are not errors phasegate can read, so the comparison is
    the trainer's metrics alone, and the paired test is said not to apply.
    """
    n = evaluation.size
    out: dict[str, Any] = {
        "task": task, "n": n, "evaluated_at": evaluation.evaluated_at,
        "predictions_sha256": evaluation.sha256, "trainer_metrics": trainer_metrics,
        "mcnemar": None,
        "not_applicable": ["McNemar's test, the confusion matrix and per-class metrics "
                           f"(the task is {task}, not classification)"],
    }
    if task != "regression":
        out["not_applicable"].append(
            "a paired per-example test (phasegate cannot read the predictions of a "
            f"{task} task as errors); the comparison is the trainer's own metrics")
        out["comparison"] = None
        return out
    targets = np.asarray(evaluation.targets, dtype=np.float64)
    errors = {}
    for arm in (final, baseline):
        predicted = np.asarray(evaluation.predictions[arm], dtype=np.float64)
        squared = (predicted - targets) ** 2
        errors[arm] = squared
        out[arm] = {"mse": float(squared.mean()), "rmse": float(math.sqrt(squared.mean())),
                    "mae": float(np.abs(predicted - targets).mean()),
                    "mse_ci95": list(_t_interval(squared))}
    out["comparison"] = paired_errors(errors[baseline], errors[final], a_name=baseline,
                                      b_name=final)
    return out


def paired_errors(a: Any, b: Any, *, a_name: str = "baseline", b_name: str = "final"
                  ) -> dict[str, Any]:
    """Model b against model a on the same examples: the mean of (b's squared error - a's),
    negative when b is better, with its 95% t interval and the paired t-test's p."""
    from scipy import stats

    diff = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    low, high = _t_interval(diff)
    if len(diff) < 2 or float(np.std(diff)) == 0.0:
        p = 1.0 if float(np.mean(diff)) == 0.0 else 0.0
    else:
        p = float(stats.ttest_rel(b, a).pvalue)
    return {"method": "paired t-test on per-example squared errors", "n": int(len(diff)),
            "mean_difference": float(diff.mean()), "ci95": [low, high], "p_value": p,
            "model_a": a_name, "model_b": b_name}


def _t_interval(values: Any) -> tuple[float, float]:
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    return mean - half, mean + half
