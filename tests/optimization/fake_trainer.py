"""A trainer with phasegate's contract and scripted results: no torch, exact numbers.

Used as the project's `trainer: tests.optimization.fake_trainer:fit`. It writes a run
folder as the real trainer does (config.yaml, history.csv, metrics.json, both
checkpoints) with an overfitting-shaped history whose best val accuracy is

    BASE + STEP * k + NOISE[seed % 3]

where k is the attempt number read from the run folder (`attempt-<k>/seed-<n>`; 0 for
the baseline): every attempt is a clear, significant gain over the one before, so a
test controls how Phase 4 goes without training anything. `FAKE_CALLS` (an env
variable naming a file) gets one line per seed trained, to count them.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workflow.trainer.config import TrainConfig
from workflow.trainer.result import HISTORY_COLUMNS, RunResult, RunStatus

BASE = 0.60
STEP = 0.05
NOISE = (0.0, 0.004, -0.004)


def attempt_of(out_dir: Path) -> int:
    match = re.search(r"attempt-(\d+)", str(out_dir))
    return int(match.group(1)) if match else 0


def best_accuracy(out_dir: Path, seed: int) -> float:
    return BASE + STEP * attempt_of(out_dir) + NOISE[seed % 3]


def fit(
    config: Any,
    seed: int,
    out_dir: str | Path,
    *,
    report: Callable[[int, dict[str, float]], None] | None = None,
    should_stop: Callable[[], str | None] | None = None,
) -> RunResult:
    config = config if isinstance(config, TrainConfig) else TrainConfig.model_validate(config)
    out_dir = Path(out_dir)
    (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    epochs = config.training.epochs
    peak = best_accuracy(out_dir, seed)
    best_epoch = max(1, epochs // 2)
    history = []
    for epoch in range(1, epochs + 1):
        # train accuracy climbs to 1; val accuracy peaks mid-run; val loss turns up after it
        rise = min(1.0, epoch / best_epoch)
        val_acc = peak - (0.0 if epoch <= best_epoch else 0.002 * (epoch - best_epoch))
        row = {
            "epoch": epoch,
            "stage": 1,
            "lr": config.optimizer.lr,
            "train_loss": 1.5 / epoch,
            "train_accuracy": min(1.0, 0.5 + 0.5 * epoch / best_epoch),
            "train_balanced_accuracy": min(1.0, 0.5 + 0.5 * epoch / best_epoch),
            "train_macro_f1": min(1.0, 0.5 + 0.5 * epoch / best_epoch),
            "val_loss": 1.0 - 0.5 * rise + 0.08 * max(0, epoch - best_epoch),
            "val_accuracy": val_acc * rise + 0.1 * (1 - rise),
            "val_balanced_accuracy": val_acc * rise + 0.1 * (1 - rise),
            "val_macro_f1": val_acc * rise + 0.1 * (1 - rise),
            "epoch_time": 0.01,
            "samples_per_sec": 5000.0,
            "data_wait_fraction": 0.01,
        }
        history.append(row)
        if report is not None:
            report(epoch, row)
    best = next(r for r in history if r["epoch"] == best_epoch)
    metrics_only = {k: v for k, v in best.items() if k.startswith(("train_", "val_"))}
    final = {k: v for k, v in history[-1].items() if k.startswith(("train_", "val_"))}
    checkpoints = {}
    for name in ("best", "last"):
        path = out_dir / "checkpoints" / f"{name}.pt"
        path.write_bytes(f"fake {name} checkpoint of seed {seed}\n".encode())
        checkpoints[name] = str(path)
    with open(out_dir / "history.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(HISTORY_COLUMNS))
        writer.writeheader()
        writer.writerows(history)
    (out_dir / "config.yaml").write_text(config.model_copy(update={"seed": seed}).to_yaml())
    result = RunResult(
        status=RunStatus.COMPLETED,
        seed=seed,
        history=history,
        best_epoch=best_epoch,
        best=metrics_only,
        final=final,
        monitor=config.training.monitor,
        wall_time_s=0.01 * epochs,
        samples_per_sec=5000.0,
        checkpoints=checkpoints,
        extra={"epochs_run": epochs},
    )
    (out_dir / "metrics.json").write_text(json.dumps(result.to_metrics()))
    calls = os.environ.get("FAKE_CALLS")
    if calls:
        with open(calls, "a") as handle:
            handle.write(f"{out_dir}\n")
    return result
