"""Crafted baseline histories for the diagnostic's unit tests: no training, exact numbers.

`healthy_curves` is a clean run (fast early progress, train and val close, a
plateau near the end that is neither rising nor still climbing). Each test
bends one curve of it to plant one finding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from phases.diagnostic.evidence import Evidence, SeedRun
from workflow.trainer.config import TrainConfig

Curve = Callable[[int], float]  # epoch (1-based) -> value

# a config with none of the gaps the analysis looks for
CLEAN_CONFIG: dict[str, Any] = {
    "name": "clean",
    "data": {"dataset": "digits", "batch_size": 64,
             "augment": [{"name": "affine", "degrees": 10, "translate": 0.1}]},
    "model": {"name": "mlp", "widths": [64], "dropout": 0.1},
    "optimizer": {"name": "adamw", "lr": 1e-3, "weight_decay": 0.01},
    "schedule": {"name": "cosine", "warmup_epochs": 1},
    "training": {"epochs": 20, "grad_clip": 1.0, "monitor": "val_accuracy",
                 "early_stopping": {"monitor": "val_loss", "mode": "min", "patience": 5}},
    "device": "cpu",
}


def clean_config(**changes: Any) -> TrainConfig:
    return TrainConfig.model_validate(CLEAN_CONFIG).with_changes(changes)


def healthy_curves(offset: float = 0.0) -> dict[str, Curve]:
    return {
        "train_loss": lambda e: 0.10 + 1.4 * math.exp(-e / 2.0),
        "val_loss": lambda e: 0.20 + 1.2 * math.exp(-e / 2.5),
        "train_accuracy": lambda e: 0.97 - 0.5 * math.exp(-e / 2.0) + offset,
        "val_accuracy": lambda e: 0.955 - 0.4 * math.exp(-e / 2.5) + offset,
        "val_balanced_accuracy": lambda e: 0.950 - 0.4 * math.exp(-e / 2.5) + offset,
        "data_wait_fraction": lambda e: 0.05,
        "samples_per_sec": lambda e: 20000.0,
    }


def history(epochs: int, **curves: Curve | Sequence[float]) -> list[dict[str, float]]:
    """Rows of history.csv; each column a function of the epoch or a list of values."""
    merged: dict[str, Curve | Sequence[float]] = {**healthy_curves(), **curves}
    rows = []
    for epoch in range(1, epochs + 1):
        row: dict[str, float] = {"epoch": epoch, "stage": 1, "lr": 1e-3}
        for name, curve in merged.items():
            row[name] = float(curve(epoch) if callable(curve) else curve[epoch - 1])
        row.setdefault("val_macro_f1", row["val_balanced_accuracy"])
        row.setdefault("train_balanced_accuracy", row["train_accuracy"])
        row.setdefault("train_macro_f1", row["train_accuracy"])
        row.setdefault("epoch_time", 0.1)
        rows.append(row)
    return rows


def evidence(
    histories: Sequence[list[dict[str, float]]],
    config: TrainConfig | None = None,
    **fields: Any,
) -> Evidence:
    """Evidence of one imported-style run per history (seeds 0, 1, ...)."""
    config = config or clean_config()
    runs = [
        SeedRun.from_history(
            seed, rows, configured_epochs=config.training.epochs,
            early_stopping=config.training.early_stopping is not None,
        )
        for seed, rows in enumerate(histories)
    ]
    return Evidence(runs=runs, config=config, **fields)


def seeds(n: int = 3, epochs: int = 20, spread: float = 0.002, **curves: Curve) -> list[
    list[dict[str, float]]
]:
    """`n` histories of the same curves, each seed's accuracies shifted by a little noise."""
    out = []
    for seed in range(n):
        offset = spread * (seed - (n - 1) / 2)
        base = healthy_curves(offset)
        out.append(history(epochs, **{**base, **curves}))
    return out


def by_id(findings: Sequence[Any]) -> dict[str, Any]:
    return {f.id: f for f in findings}
