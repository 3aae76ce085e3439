"""What a diagnosis reads: each baseline seed's history, its status, and the project's target.

`SeedRun` is one seed's record (trained by phasegate, or imported from a user's
own `history.csv`); `Evidence` bundles every seed with the baseline config and
the project's target, and answers the questions every finding asks (the usable
runs, a column's values, the best epoch). Torch-free: a diagnosis only reads.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflow.errors import ConfigError, WrongState
from workflow.io import read_json
from workflow.metric import Metric
from workflow.own_config import OwnConfig, RunConfig, as_view
from workflow.trainer.config import TrainConfig
from workflow.trainer.result import HISTORY_FILE, METRICS_FILE, RunResult, read_history

if TYPE_CHECKING:
    from workflow.stats import Rule

__all__ = [
    "IMPORT_MARKER",
    "REQUIRED_COLUMNS",
    "SUMMARY_METRICS",
    "Evidence",
    "SeedRun",
    "check_history_file",
    "load_seed_runs",
    "mean",
    "std",
]

# an imported seed folder holds history.csv and this marker (no metrics.json: the
# runner then never mistakes it for a finished run of its own)
IMPORT_MARKER = "imported.json"
# columns an imported history.csv must have; the others of HISTORY_COLUMNS are optional
# and the findings that need them are skipped when they are absent
REQUIRED_COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy")
# the metrics summarized across seeds (each at its seed's best epoch): baseline facts, report
SUMMARY_METRICS = (
    "val_accuracy", "val_balanced_accuracy", "val_macro_f1", "val_loss", "train_accuracy"
)
USABLE = ("completed", "early_stopped")


def mean(values: Iterable[float]) -> float:
    items = list(values)
    return statistics.fmean(items) if items else math.nan


def std(values: Iterable[float]) -> float:
    """Sample standard deviation (ddof=1); 0.0 for a single value, NaN for none."""
    items = list(values)
    if len(items) >= 2:
        return statistics.stdev(items)
    return 0.0 if items else math.nan


@dataclass(frozen=True)
class SeedRun:
    """One seed's baseline run as the diagnosis sees it."""

    seed: int
    status: str  # completed | early_stopped | diverged | pruned
    history: list[dict[str, float]]
    stop_reason: str | None = None
    diverged_epoch: int | None = None
    train_size: int | None = None
    source: str = "trained"  # trained | imported

    @property
    def usable(self) -> bool:
        """Finished with a finite history: its numbers can be averaged with the others."""
        return self.status in USABLE and bool(self.history)

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"

    def column(self, name: str) -> list[float]:
        """The column's values over the epochs (rows that lack it are left out)."""
        return [float(row[name]) for row in self.history if name in row]

    def has(self, name: str) -> bool:
        return bool(self.history) and all(name in row for row in self.history)

    @classmethod
    def from_history(
        cls,
        seed: int,
        history: Sequence[dict[str, float]],
        *,
        configured_epochs: int | None = None,
        early_stopping: bool = False,
        source: str = "imported",
    ) -> SeedRun:
        """A run known only by its history, read by the one rule of `workflow.arms`.

        The rows up to the first non-finite loss are kept (as the trainer keeps them).
        A history shorter than the configured epochs under early stopping is early-stopped.
        """
        from workflow.arms import run_from_history

        result = run_from_history(seed, history, monitor="val_loss",
                                  configured_epochs=configured_epochs,
                                  early_stopping=early_stopping)
        return replace(cls.from_result(result), source=source)

    @classmethod
    def from_result(cls, result: RunResult) -> SeedRun:
        split = result.extra.get("split") or {}
        sizes = split.get("sizes") or {}
        train_size = sizes.get("train")
        diverged_epoch = (result.diverged_at or {}).get("epoch")
        return cls(
            seed=result.seed,
            status=result.status.value,
            history=[dict(row) for row in result.history],
            stop_reason=result.stop_reason,
            diverged_epoch=int(diverged_epoch) if diverged_epoch is not None else None,
            train_size=int(train_size) if train_size is not None else None,
            source="trained",
        )


@dataclass(frozen=True)
class Evidence:
    """Every seed of the baseline, its config, and what the project is after."""

    runs: list[SeedRun]
    config: TrainConfig  # phasegate's settings (an own config's `view()`), which rules read
    target: Metric = Metric.named("val_accuracy")
    goal: float | None = None
    min_effect: float = 0.01
    alpha: float = 0.05
    probes: dict[str, Any] = field(default_factory=dict)
    power: float = 0.8
    family: int = 1  # Phase 4's iteration limit: alpha is family-wise over its attempts
    trainer: str = "builtin"  # the project's trainer: which settings reach the model
    own: OwnConfig | None = None  # the trainer's own config, when it takes one

    def declares(self, setting: str) -> bool:
        """Whether the baseline's config holds phasegate's `setting`: always for
        `TrainConfig`; for an own config, when one of its tunable keys means it."""
        return self.own is None or setting in self.own.meant()

    @property
    def rule(self) -> Rule:
        """The significance rule Phase 4 will decide by (workflow.stats): seed advice uses it."""
        from workflow.stats import Rule

        return Rule(alpha=self.alpha, min_effect=self.min_effect, power=self.power,
                    family=self.family)

    @property
    def metric(self) -> str:
        """The target's column in the history."""
        return self.target.name

    @property
    def usable(self) -> list[SeedRun]:
        return [run for run in self.runs if run.usable]

    @property
    def diverged(self) -> list[SeedRun]:
        return [run for run in self.runs if run.diverged]

    def best_row(self, run: SeedRun) -> dict[str, float]:
        """The row of the epoch the trainer keeps as best (by `training.monitor`).

        The one best-epoch rule, `Metric.best_row`: a history without the monitor is
        judged by the target; with no finite value of either, the last row stands. A
        trainer's own config has no monitor of phasegate's unless a key means it: its runs
        are judged by the target.
        """
        monitor = Metric.named(self.config.training.monitor)
        if not run.has(monitor.name) or not self.declares("training.monitor"):
            monitor = self.target
        best = monitor.best_row(run.history) if run.has(monitor.name) else None
        return dict(best) if best is not None else run.history[-1]

    def target_values(self) -> list[float]:
        """Each usable seed's target metric at its best epoch."""
        rows = [self.best_row(run) for run in self.usable]
        return [float(row[self.metric]) for row in rows if self.metric in row]

    @property
    def epochs_configured(self) -> int:
        return self.config.training.epochs


def check_history_file(path: Path, required: Sequence[str]) -> list[dict[str, float]]:
    """Read an imported history.csv; a missing column or a bad value is one `ConfigError` line."""
    import csv

    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    with open(path, newline="") as handle:
        header = next(csv.reader(handle), None)
    if not header:
        raise ConfigError(f"{path}: empty file (expected a header with {', '.join(required)})")
    missing = [c for c in required if c not in header]
    if missing:
        raise ConfigError(
            f"{path}: missing column {missing[0]!r}"
            + (f" (and {', '.join(missing[1:])})" if len(missing) > 1 else "")
            + f"; the columns are those the trainer writes ({', '.join(required)} at least)"
        )
    try:
        rows = read_history(path)
    except ValueError as exc:
        raise ConfigError(f"{path}: not a number ({exc})") from None
    if not rows:
        raise ConfigError(f"{path}: no epochs (only a header)")
    for number, row in enumerate(rows, start=2):
        absent = [c for c in required if c not in row]
        if absent:
            raise ConfigError(f"{path}: line {number}: no value for column {absent[0]!r}")
    return rows


def load_seed_runs(root: Path, seeds: Sequence[int], config: RunConfig) -> list[SeedRun]:
    """The baseline runs of `seeds` under `root` (seed-<n>/), trained or imported.

    Trained seeds are read as the arm they are (`workflow.arms.load_arm`); an imported
    one by its history (`SeedRun.from_history`: the first non-finite loss ends it, and a
    short history under early stopping stopped early), with the size its marker recorded.
    """
    from workflow.arms import load_arm

    imported: dict[int, SeedRun] = {}
    trained = []
    for seed in seeds:
        folder = root / f"seed-{seed}"
        if (folder / METRICS_FILE).is_file():
            trained.append(seed)
        elif (folder / IMPORT_MARKER).is_file():
            imported[seed] = _imported(folder, seed, config)
        else:  # as workflow.arms.load_baseline says it: the project's state, not bad input
            raise WrongState(
                f"{folder}: no baseline run of seed {seed} (neither {METRICS_FILE} nor "
                f"{IMPORT_MARKER}); run phasegate baseline first"
            )
    arm = load_arm("baseline", root, config, trained)
    return [SeedRun.from_result(arm.results[s]) if s in arm.results else imported[s]
            for s in seeds]


def _imported(folder: Path, seed: int, config: RunConfig) -> SeedRun:
    marker = read_json(folder / IMPORT_MARKER)
    training = as_view(config).training
    run = SeedRun.from_history(
        seed,
        read_history(folder / HISTORY_FILE),
        configured_epochs=training.epochs,
        early_stopping=training.early_stopping is not None,
        source="imported",
    )
    size = marker.get("train_size") if isinstance(marker, dict) else None
    return replace(run, train_size=size) if isinstance(size, int) else run
