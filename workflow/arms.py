"""An arm: one config trained on several seeds, the unit every comparison is made of.

The baseline, each Phase 4 attempt, a sweep winner's re-run and Phase 5's final
training are all arms: `root/seed-<n>/` for each seed. This module is the one
place that loads an arm (built-in runs, and histories a user imported), trains
one through workflow.runner (a seed already finished is not trained again) and
compares two with workflow.stats. A run's value is its metric at the best epoch
(the checkpoint kept); an imported history's best epoch is chosen by
`Metric.best_row`, the one best-epoch rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflow import tracking
from workflow.errors import RunFailed, StateError, WrongState
from workflow.metric import Metric
from workflow.own_config import RunConfig, as_view
from workflow.progress import Progress, QuietProgress
from workflow.trainer.result import HISTORY_FILE, METRICS_FILE, RunResult, RunStatus, read_history

if TYPE_CHECKING:
    from workflow.project import ProjectConfig
    from workflow.stats import Rule

# a history whose loss is no longer finite has diverged at that row
LOSS_COLUMNS = ("train_loss", "val_loss")

__all__ = [
    "Arm",
    "ArmComparison",
    "compare_arms",
    "load_arm",
    "load_baseline",
    "mean_std",
    "rule_for",
    "run_from_history",
    "train_arm",
]


@dataclass(frozen=True)
class Arm:
    """One config trained on several seeds: `root/seed-<n>/` for each seed."""

    label: str  # "baseline" or "attempt-<k>"
    root: Path
    config: RunConfig  # phasegate's TrainConfig, or the trainer's own
    results: dict[int, RunResult]

    @property
    def seeds(self) -> list[int]:
        return sorted(self.results)

    def usable(self) -> dict[int, RunResult]:
        return {s: r for s, r in sorted(self.results.items()) if r.status.is_usable()}

    def value(self, seed: int, metric: str) -> float | None:
        """The seed's target metric at its best epoch (the checkpoint kept), if usable."""
        result = self.results.get(seed)
        if result is None or not result.status.is_usable():
            return None
        value = result.best.get(metric)
        if value is None or not math.isfinite(float(value)):
            return None
        return float(value)

    def values(self, metric: str, seeds: Sequence[int] | None = None) -> dict[int, float]:
        out = {}
        for seed in seeds if seeds is not None else self.seeds:
            value = self.value(seed, metric)
            if value is not None:
                out[seed] = value
        return out

    def unusable(self, metric: str) -> list[str]:
        """Each seed with no finite value of `metric` and why ("seed 2 diverged"): such a
        seed fails the arm in a comparison."""
        values = self.values(metric)
        return [f"seed {s} {r.status.value}" for s, r in sorted(self.results.items())
                if s not in values]

    def best_seed(self, metric: Metric) -> int:
        """The usable seed with the best value of `metric` (its checkpoints are the model).

        Ties go to the smallest seed.
        """
        values = self.values(metric.name)
        if not values:
            raise RunFailed(f"{self.label}: no usable seed (every one diverged or was pruned)")
        seeds = sorted(values)
        index = metric.best_index([values[s] for s in seeds])
        assert index is not None  # values are finite by construction
        return seeds[index]

    def histories(self) -> list[list[dict[str, float]]]:
        return [r.history for _, r in sorted(self.results.items()) if r.history]


def load_arm(label: str, root: Path, config: RunConfig, seeds: Sequence[int]) -> Arm:
    """An arm whose seeds have all finished (a `StateError` names a missing one)."""
    results = {}
    for seed in seeds:
        folder = root / f"seed-{seed}"
        if not (folder / METRICS_FILE).is_file():
            raise StateError(f"{label}: seed {seed} has no finished run in {folder}")
        results[seed] = RunResult.load(folder)
    return Arm(label, root, config, results)


def load_baseline(root: Path, config: RunConfig, seeds: Sequence[int]) -> Arm:
    """The baseline's runs; a seed Phase 3 imported (history.csv only) is read from its history."""
    results: dict[int, RunResult] = {}
    for seed in seeds:
        folder = root / f"seed-{seed}"
        if (folder / METRICS_FILE).is_file():
            results[seed] = RunResult.load(folder)
        elif (folder / HISTORY_FILE).is_file():
            results[seed] = _imported(folder, seed, config)
        else:
            raise WrongState(
                f"the baseline has no run of seed {seed} in {folder}: run phasegate baseline first"
            )
    return Arm("baseline", root, config, results)


def _imported(folder: Path, seed: int, config: RunConfig) -> RunResult:
    training = as_view(config).training
    return run_from_history(
        seed,
        read_history(folder / HISTORY_FILE),
        monitor=training.monitor,
        configured_epochs=training.epochs,
        early_stopping=training.early_stopping is not None,
    )


def run_from_history(
    seed: int,
    history: Sequence[Mapping[str, float]],
    *,
    monitor: str,
    configured_epochs: int | None = None,
    early_stopping: bool = False,
) -> RunResult:
    """A run known only by its history (a user's own training, imported): the one rule.

    The rows up to the first non-finite train or val loss are kept, as the trainer
    keeps them, and the run is then `diverged`; a history shorter than the configured
    epochs under early stopping is `early_stopped`; otherwise `completed`. The best
    epoch is the monitor's best row (`Metric.best_row`).
    """
    rows: list[dict[str, float]] = []
    diverged_epoch = None
    for row in history:
        if any(not math.isfinite(row.get(column, 0.0)) for column in LOSS_COLUMNS):
            diverged_epoch = int(row.get("epoch", len(rows) + 1))
            break
        rows.append(dict(row))
    stop_reason = None
    if diverged_epoch is not None:
        status = RunStatus.DIVERGED
        stop_reason = f"the loss became non-finite at epoch {diverged_epoch}"
    elif early_stopping and configured_epochs is not None and len(rows) < configured_epochs:
        status, stop_reason = RunStatus.EARLY_STOPPED, f"stopped after {len(rows)} epochs"
    else:
        status = RunStatus.COMPLETED
    best = Metric.named(monitor).best_row(rows) or (rows[-1] if rows else {})
    return RunResult(
        status=status,
        seed=seed,
        history=rows,
        best_epoch=int(best["epoch"]) if "epoch" in best else None,
        best=dict(best),
        final=dict(rows[-1]) if rows else {},
        monitor=monitor,
        wall_time_s=0.0,
        samples_per_sec=0.0,
        stop_reason=stop_reason,
        diverged_at={"epoch": diverged_epoch} if diverged_epoch is not None else None,
    )


def mean_std(arm: Arm, metric: str) -> dict[str, Any]:
    """The arm's mean and sample std of `metric` over its usable seeds (None when undefined)."""
    from workflow.stats import summarize

    values = list(arm.values(metric).values())
    if not values:
        return {"mean": None, "std": None, "n": 0}
    summary = summarize(values)
    return {"mean": summary.mean, "std": summary.std if len(values) > 1 else None, "n": summary.n}


def train_arm(
    label: str,
    config: RunConfig,
    seeds: Sequence[int],
    root: Path,
    *,
    trainer: str = "builtin",
    workers: int | None = None,
    progress: Progress | None = None,
    shown_as: str | None = None,
) -> Arm:
    """Train `config` on every seed not already finished in `root` (workflow.runner resumes).

    `progress` is told the training (`shown_as`, else `label`; the seeds, those finished
    earlier), each epoch and each seed's end, and that the training is over, even when
    it fails.
    """
    from workflow.runner import finished_run, seed_dir, train_seeds

    shown = progress or QuietProgress()
    seeds = list(seeds)
    done = [s for s in seeds if finished_run(seed_dir(root, s), config) is not None]
    shown.training(shown_as or label, seeds, done, config.training.epochs)

    # the project's tracking (workflow.tracking) logs each epoch and each run as it finishes
    def epoch(seed: int, number: int, row: Mapping[str, float]) -> None:
        shown.epoch(seed, number, row)
        tracking.epoch_done(seed_dir(root, seed), number, row)

    def seed_done(result: RunResult) -> None:
        shown.seed_done(result.seed, result.status.value, len(result.history))
        tracking.run_done(seed_dir(root, result.seed))

    try:
        results = train_seeds(config, seeds, root, trainer=trainer, workers=workers,
                              on_epoch=epoch, on_done=seed_done)
    finally:
        shown.end_training()
    return Arm(label, root, config, dict(results))


@dataclass(frozen=True)
class ArmComparison:
    """A comparison of two arms on the seeds usable in both, or why there is none."""

    comparison: Any | None  # workflow.stats.Comparison
    seeds: list[int]
    note: str  # the seeds left out, and why


def rule_for(project: ProjectConfig) -> Rule:
    """The project's significance rule: its alpha, family-wise over Phase 4's attempts."""
    from workflow.stats import Rule

    return Rule(alpha=project.alpha, min_effect=project.min_effect, power=project.power,
                family=project.iteration_limit)


def compare_arms(reference: Arm, candidate: Arm, *, metric: Metric, rule: Rule) -> ArmComparison:
    """Compare the target metric's per-seed values of two arms under `rule` (workflow.stats).

    A seed that is not usable in the candidate (diverged, pruned) fails the arm: there is
    no comparison, and `note` says why. A seed missing from the reference alone is left
    out of both arms. Arms on the same seeds are compared seed by seed for the paired
    view reported beside the verdict.
    """
    from workflow.stats import MIN_SEEDS

    cand = candidate.values(metric.name)
    failed = candidate.unusable(metric.name)
    if failed:
        return ArmComparison(None, [], f"{candidate.label}: {', '.join(failed)}: not compared")
    ref = reference.values(metric.name)
    note = ""
    aligned = set(reference.results) == set(candidate.results)
    if aligned:
        # the same seeds in both arms: a seed lost in either is left out of both
        shared = [s for s in sorted(cand) if s in ref]
        if len(shared) < len(cand):
            left = sorted(set(cand) - set(shared))
            note = f"seeds {left} are not usable in {reference.label} and are left out of both arms"
        ref_values, cand_values = [ref[s] for s in shared], [cand[s] for s in shared]
    else:  # different seeds (a baseline imported on other seeds): two independent samples
        shared = sorted(cand)
        ref_values, cand_values = list(ref.values()), [cand[s] for s in shared]
    if min(len(ref_values), len(cand_values)) < MIN_SEEDS:
        return ArmComparison(
            None, shared, f"only {min(len(ref_values), len(cand_values))} usable seed(s) in an "
            f"arm, fewer than {MIN_SEEDS}: not compared"
        )
    comparison = rule.compare(ref_values, cand_values, higher_is_better=metric.higher_is_better,
                              paired=aligned)
    return ArmComparison(comparison, shared, note)
