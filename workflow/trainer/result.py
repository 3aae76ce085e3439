"""What a training run returns and leaves on disk; readable without torch.

A run directory holds `config.yaml`, `history.csv`, `metrics.json`,
`val_predictions.csv` and `checkpoints/{best,last}.pt`. `RunResult` is the
frozen record of it; `RunResult.load(run_dir)` rebuilds it from the files, so
phases and gates read finished runs without importing torch.
"""

from __future__ import annotations

import csv
import enum
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workflow.io import read_json

CONFIG_FILE = "config.yaml"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "val_predictions.csv"
CHECKPOINT_DIR = "checkpoints"

# per-epoch columns of history.csv, in order; the last three are timings that
# differ between two runs of the same seed
HISTORY_COLUMNS = (
    "epoch",
    "stage",
    "lr",
    "train_loss",
    "train_accuracy",
    "train_balanced_accuracy",
    "train_macro_f1",
    "val_loss",
    "val_accuracy",
    "val_balanced_accuracy",
    "val_macro_f1",
    "epoch_time",
    "samples_per_sec",
    "data_wait_fraction",
)
TIMING_COLUMNS = ("epoch_time", "samples_per_sec", "data_wait_fraction")


class RunStatus(str, enum.Enum):
    COMPLETED = "completed"
    EARLY_STOPPED = "early_stopped"
    DIVERGED = "diverged"
    PRUNED = "pruned"

    def is_usable(self) -> bool:
        """A run whose best checkpoint and metrics can be compared."""
        return self in (RunStatus.COMPLETED, RunStatus.EARLY_STOPPED)


@dataclass(frozen=True)
class RunResult:
    """The frozen record of one training run (the trainer contract's return value)."""

    status: RunStatus
    seed: int
    history: list[dict[str, float]]
    best_epoch: int | None
    best: dict[str, float]
    final: dict[str, float]
    monitor: str
    wall_time_s: float
    samples_per_sec: float
    checkpoints: dict[str, str] = field(default_factory=dict)
    predictions_path: str | None = None
    stop_reason: str | None = None
    diverged_at: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_metrics(self) -> dict[str, Any]:
        """The content of metrics.json (the history lives in history.csv)."""
        data = asdict(self)
        data["status"] = self.status.value
        data.pop("history")
        return data

    @classmethod
    def load(cls, run_dir: str | Path) -> RunResult:
        run_dir = Path(run_dir)
        data = read_json(run_dir / METRICS_FILE)
        data["status"] = RunStatus(data["status"])
        data["history"] = read_history(run_dir / HISTORY_FILE)
        known = set(cls.__dataclass_fields__)
        extra = {k: v for k, v in data.items() if k not in known}
        data = {k: v for k, v in data.items() if k in known}
        data.setdefault("extra", {}).update(extra)
        return cls(**data)


def read_history(path: str | Path) -> list[dict[str, float]]:
    """history.csv as a list of rows; numbers as floats (epoch and stage as ints)."""
    with open(path, newline="") as handle:
        rows = []
        for row in csv.DictReader(handle):
            parsed: dict[str, float] = {}
            for key, value in row.items():
                if value in ("", None):
                    continue
                parsed[key] = int(value) if key in ("epoch", "stage") else float(value)
            rows.append(parsed)
        return rows
