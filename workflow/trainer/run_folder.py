"""A run folder's files, written the one way phasegate reads them back.

`history.csv` (one row per epoch), `val_predictions.csv`, `metrics.json` without
NaN, and the staging folder moved into place whole at the end: a killed run
leaves no half-written folder.
"""

from __future__ import annotations

import csv
import io
import math
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflow.io import atomic_open, atomic_write_json, atomic_write_text
from workflow.trainer.result import (
    CHECKPOINT_DIR,
    CONFIG_FILE,
    HISTORY_COLUMNS,
    HISTORY_FILE,
    METRICS_FILE,
    PREDICTIONS_FILE,
)

if TYPE_CHECKING:
    from workflow.trainer.result import RunResult

__all__ = ["finite", "open_staging", "publish", "seal", "staging_dir", "write_history",
           "write_predictions", "write_trained"]


def finite(value: Any) -> Any:
    """JSON has no NaN: non-finite floats become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def write_history(path: Path, history: list[dict[str, float]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})
    atomic_write_text(path, buffer.getvalue())


def write_predictions(path: Path, targets: Any, predictions: Any) -> None:
    """`index,target,prediction` per validation sample (tensors or sequences of labels)."""
    lines = ["index,target,prediction"]
    pairs = zip(_labels(targets), _labels(predictions), strict=True)
    lines += [f"{i},{t},{p}" for i, (t, p) in enumerate(pairs)]
    atomic_write_text(path, "\n".join(lines) + "\n")


def staging_dir(out_dir: Path) -> Path:
    """Where a run of `out_dir` is written until it is finished: `.<name>.partial` beside it."""
    return out_dir.parent / f".{out_dir.name}.partial"


def open_staging(out_dir: Path, config_yaml: str) -> Path:
    """A fresh staging folder for `out_dir`, with its checkpoints folder and `config.yaml`."""
    staging = staging_dir(out_dir)
    shutil.rmtree(staging, ignore_errors=True)
    (staging / CHECKPOINT_DIR).mkdir(parents=True)
    atomic_write_text(staging / CONFIG_FILE, config_yaml)
    return staging


def write_trained(
    staging: Path, out_dir: Path, *, states: Mapping[str, dict[str, Any] | None],
    meta: dict[str, Any], val_targets: Any, best_predictions: Any | None,
    history: list[dict[str, float]],
) -> tuple[dict[str, str], str | None]:
    """A trained run's checkpoints (each state with `meta`), its best epoch's validation
    predictions and its history, into `staging`; the checkpoints' and the predictions'
    paths once the run is in `out_dir`."""
    import torch

    checkpoints = {}
    for name, state in states.items():
        if state is not None:
            with atomic_open(staging / CHECKPOINT_DIR / f"{name}.pt", "wb") as handle:
                torch.save({**state, **meta}, handle)
            checkpoints[name] = str(out_dir / CHECKPOINT_DIR / f"{name}.pt")
    predictions = None
    if best_predictions is not None:
        write_predictions(staging / PREDICTIONS_FILE, val_targets, best_predictions)
        predictions = str(out_dir / PREDICTIONS_FILE)
    write_history(staging / HISTORY_FILE, history)
    return checkpoints, predictions


def seal(staging: Path, out_dir: Path, result: RunResult) -> None:
    """`metrics.json` last, then the run moved into place whole."""
    atomic_write_json(staging / METRICS_FILE, finite(result.to_metrics()))
    publish(staging, out_dir)


def publish(staging: Path, out_dir: Path) -> None:
    """Move the finished run into place, replacing an earlier run of the same folder."""
    old = out_dir.parent / f".{out_dir.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        out_dir.rename(old)
    staging.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _labels(values: Any) -> list[Any]:
    return list(values.tolist() if hasattr(values, "tolist") else values)
