"""The frozen records of a sweep: one per trial, one per re-run candidate, and the whole result.

Readable without torch or Optuna: the report, the gates and `phasegate status`
work from these (and from their files) long after the study is closed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phases.optimization.sweep import study as st
from workflow.metric import Direction

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from phases.optimization.sweep.space import SearchSpace
    from workflow.own_config import RunConfig
    from workflow.stats import ArmSummary, Comparison

__all__ = ["FINISHED", "TrialRecord", "Candidate", "SweepResult", "trial_records"]

# trial states in trials.csv: what a person reads, finer than Optuna's
FINISHED = ("complete", "pruned", "failed", "diverged")


@dataclass(frozen=True)
class TrialRecord:
    """One trial as trials.csv shows it."""

    number: int
    state: str  # complete | pruned | failed | diverged | interrupted | running
    value: float | None  # complete: the best monitored value; pruned: the best before pruning
    params: dict[str, Any]  # the config changes, decoded (lists stay lists)
    epochs_run: int
    time_s: float | None
    reason: str
    retry_of: int | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "state": self.state,
            "value": self.value,
            "params": self.params,
            "epochs_run": self.epochs_run,
            "time_s": self.time_s,
            "reason": self.reason,
            "retry_of": self.retry_of,
        }


def trial_records(trials: list[FrozenTrial], space: SearchSpace) -> list[TrialRecord]:
    """Every trial that ran or runs, in number order (waiting and skipped ones left out)."""
    from optuna.trial import TrialState

    records = []
    for t in sorted(trials, key=lambda t: t.number):
        outcome = t.user_attrs.get(st.OUTCOME)
        if t.state == TrialState.WAITING or outcome == "skipped":
            continue
        if t.state == TrialState.COMPLETE:
            state, value = "complete", t.value
        elif t.state == TrialState.PRUNED:
            state, value = "pruned", t.user_attrs.get("best_value", t.value)
        elif t.state == TrialState.RUNNING:
            state, value = "running", None
        elif outcome == "interrupted":
            state, value = "interrupted", None
        elif outcome == "diverged":
            state, value = "diverged", None
        else:
            state, value = "failed", None
        time_s = t.user_attrs.get("time_s")
        if time_s is None and t.datetime_start and t.datetime_complete:
            time_s = (t.datetime_complete - t.datetime_start).total_seconds()
        records.append(
            TrialRecord(
                number=t.number,
                state=state,
                value=float(value) if value is not None and math.isfinite(value) else None,
                params=space.decode(t.params),
                epochs_run=int(t.user_attrs.get(st.EPOCHS, 0) or 0),
                time_s=float(time_s) if time_s is not None else None,
                reason=str(t.user_attrs.get(st.REASON) or ""),
                retry_of=t.user_attrs.get(st.RETRY_OF),
            )
        )
    return records


@dataclass(frozen=True)
class Candidate:
    """One of the sweep's top trials, re-run on fresh seeds (the winner's curse)."""

    rank: int  # 1 = the sweep's best
    trial: int
    params: dict[str, Any]
    config: RunConfig
    sweep_value: float
    seeds: list[int]
    values: list[float]  # the monitored value of each fresh seed (usable runs only)
    summary: ArmSummary | None
    comparison: Comparison | None  # against the baseline, Holm-adjusted over the candidates
    rerun_dir: Path
    note: str = ""  # why it has no comparison (a seed diverged, no baseline given)

    @property
    def verdict(self) -> str:
        return self.comparison.verdict if self.comparison is not None else "not_compared"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "trial": self.trial,
            "params": self.params,
            "sweep_value": self.sweep_value,
            "seeds": self.seeds,
            "values": self.values,
            "rerun": self.summary.to_dict() if self.summary is not None else None,
            "verdict": self.verdict,
            "comparison": self.comparison.to_dict() if self.comparison is not None else None,
            "rerun_dir": str(self.rerun_dir),
            "note": self.note,
        }


@dataclass(frozen=True)
class SweepResult:
    """Everything a sweep did and decided; what the optimization report renders."""

    study_name: str
    storage: str  # password hidden
    sweep_dir: Path
    method: str
    pruner: str
    monitor: str
    direction: Direction
    space: list[dict[str, str]]  # SearchSpace.describe()
    trials: list[TrialRecord]
    stop_reason: str
    total_epochs: int
    wall_time_s: float
    best_trial: TrialRecord | None  # the sweep's best by its own (biased) score
    candidates: list[Candidate]
    chosen: Candidate | None  # the best re-run mean among the candidates
    importance: dict[str, float]
    artifacts: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self.trials:
            counts[record.state] = counts.get(record.state, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "study_name": self.study_name,
            "storage": self.storage,
            "sweep_dir": str(self.sweep_dir),
            "method": self.method,
            "pruner": self.pruner,
            "monitor": self.monitor,
            "direction": self.direction,
            "space": self.space,
            "counts": self.counts,
            "stop_reason": self.stop_reason,
            "total_epochs": self.total_epochs,
            "wall_time_s": self.wall_time_s,
            "best_trial": self.best_trial.to_dict() if self.best_trial else None,
            "candidates": [c.to_dict() for c in self.candidates],
            "chosen": self.chosen.to_dict() if self.chosen else None,
            "chosen_config": self.chosen.config.model_dump(mode="json") if self.chosen else None,
            "importance": self.importance,
            "artifacts": {k: str(v) for k, v in self.artifacts.items()},
            "notes": self.notes,
            "trials": [t.to_dict() for t in self.trials],
        }
