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
from pathlib import Path
from typing import Any

from workflow.io import atomic_write_text
from workflow.trainer.result import HISTORY_COLUMNS

__all__ = ["finite", "publish", "staging_dir", "write_history", "write_predictions"]


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
