"""The winner's curse: which trials are re-run, how they are compared, which one is chosen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from phases.optimization.sweep.records import Candidate, TrialRecord
from phases.optimization.sweep.rerun import choose, rerun_top, top_trials
from tests.optimization.sweep.conftest import RecordedProgress, tiny_base
from workflow.metric import Metric
from workflow.stats import summarize


def record(number: int, value: float | None, params: dict[str, Any], state: str = "complete"
           ) -> TrialRecord:
    return TrialRecord(number=number, state=state, value=value, params=params,
                       epochs_run=3, time_s=1.0, reason="")


def candidate(trial: int, values: list[float] | None) -> Candidate:
    return Candidate(rank=trial, trial=trial, params={}, config=tiny_base(), sweep_value=0.0,
                     seeds=[100, 101, 102], values=values or [],
                     summary=summarize(values) if values else None, comparison=None,
                     rerun_dir=Path("."))


def test_the_top_trials_follow_the_metrics_direction_one_per_configuration() -> None:
    # a loss is best low, an accuracy best high; a repeated configuration takes one place,
    # ties go to the earlier trial, and only completed trials with a value count
    records = [
        record(0, 0.50, {"lr": 0.1}), record(1, 0.30, {"lr": 0.2}),
        record(2, 0.30, {"lr": 0.2}), record(3, 0.20, {"lr": 0.3}),
        record(4, 0.90, {"lr": 0.4}, "pruned"), record(5, None, {"lr": 0.5}),
        record(6, 0.10, {"lr": 0.6}, "failed"),
    ]
    loss, accuracy = Metric.named("val_loss"), Metric.named("val_accuracy")
    assert [r.number for r in top_trials(records, 3, loss)] == [3, 1, 0]
    assert [r.number for r in top_trials(records, 2, accuracy)] == [0, 1]


def test_the_chosen_candidate_has_the_best_rerun_mean_in_the_metrics_direction() -> None:
    # the choice is the re-run mean, never the sweep score; a candidate with no re-run
    # summary (a seed diverged) is never chosen
    candidates = [candidate(0, [0.4, 0.5, 0.6]), candidate(1, [0.2, 0.3, 0.4]),
                  candidate(2, None)]
    assert choose(candidates, Metric.named("val_accuracy")) is candidates[0]
    assert choose(candidates, Metric.named("val_loss")) is candidates[1]
    assert choose([candidate(2, None)], Metric.named("val_loss")) is None


def test_the_top_trials_are_trained_as_arms_and_compared_with_holm(tmp_path: Path) -> None:
    # each candidate is one arm on every fresh seed, resumed when run again; the comparison
    # with the baseline is Holm-adjusted over the candidates; progress hears of each training
    top = [record(0, 0.9, {"optimizer.lr": 0.01}), record(1, 0.8, {"optimizer.lr": 0.05})]
    progress = RecordedProgress()
    candidates = rerun_top(
        tiny_base(epochs=2), top, tmp_path / "rerun", metric=Metric.named("val_accuracy"),
        fresh_seeds=[100, 101, 102], baseline_values=[0.1, 0.12, 0.11], workers=1,
        progress=progress,
    )
    assert [c.trial for c in candidates] == [0, 1]
    for c in candidates:
        assert c.summary is not None and c.summary.n == 3 and c.note == ""
        assert c.comparison is not None and c.comparison.correction == "holm"
        assert sorted(p.name for p in c.rerun_dir.iterdir()) == ["seed-100", "seed-101",
                                                                 "seed-102"]
    assert candidates[0].config.optimizer.lr == pytest.approx(0.01)
    assert progress.trainings == ["sweep re-run of trial-0", "sweep re-run of trial-1"]
    mtimes = [(c.rerun_dir / "seed-100" / "metrics.json").stat().st_mtime_ns for c in candidates]
    again = rerun_top(
        tiny_base(epochs=2), top, tmp_path / "rerun", metric=Metric.named("val_accuracy"),
        fresh_seeds=[100, 101, 102], baseline_values=None, workers=1,
    )
    assert [(c.rerun_dir / "seed-100" / "metrics.json").stat().st_mtime_ns
            for c in again] == mtimes  # finished seeds are not trained again
    assert all(c.comparison is None and c.note == "no baseline to compare with" for c in again)
