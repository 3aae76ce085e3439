"""workflow.arms: the one rule for an imported history, loading, the best seed, comparing."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.conftest import tiny_config
from workflow.arms import Arm, compare_arms, load_baseline, run_from_history
from workflow.errors import WrongState
from workflow.metric import Metric
from workflow.stats import Rule
from workflow.trainer.config import TrainConfig
from workflow.trainer.result import RunResult, RunStatus
from workflow.trainer.run_folder import write_history

CONFIG = TrainConfig.model_validate(tiny_config())


def rows(accuracies: list[float], losses: list[float] | None = None) -> list[dict[str, float]]:
    losses = losses or [1.0 - a for a in accuracies]
    return [{"epoch": i + 1, "train_loss": loss, "val_loss": loss, "val_accuracy": acc}
            for i, (acc, loss) in enumerate(zip(accuracies, losses, strict=True))]


# rule: the rows up to the first non-finite loss are kept and the run is diverged there
def test_a_non_finite_loss_ends_the_history() -> None:
    run = run_from_history(3, rows([0.5, 0.6, 0.9, 0.95], [0.5, 0.4, math.nan, 0.1]),
                           monitor="val_accuracy")
    assert run.status is RunStatus.DIVERGED
    assert [r["epoch"] for r in run.history] == [1, 2]
    assert run.diverged_at == {"epoch": 3}
    assert run.best_epoch == 2  # the finite rows only: epoch 4's 0.95 came after divergence


# rule: short under early stopping is early-stopped (usable); the best row is the monitor's
def test_short_history_under_early_stopping() -> None:
    run = run_from_history(0, rows([0.5, 0.7, 0.6]), monitor="val_accuracy",
                           configured_epochs=6, early_stopping=True)
    assert run.status is RunStatus.EARLY_STOPPED and run.status.is_usable()
    assert run.best_epoch == 2 and run.best["val_accuracy"] == 0.7
    by_loss = run_from_history(0, rows([0.5, 0.7, 0.6]), monitor="val_loss")
    assert by_loss.status is RunStatus.COMPLETED and by_loss.best_epoch == 2


# rule: a history with no finite epoch is a diverged run, not a crash
def test_no_finite_epoch_is_diverged() -> None:
    run = run_from_history(0, rows([0.5], [math.inf]), monitor="val_accuracy")
    assert run.status is RunStatus.DIVERGED and run.history == [] and run.best == {}


# rule: the baseline loads imported histories beside finished runs; a missing seed is refused
def test_load_baseline_reads_imported_histories(tmp_path: Path) -> None:
    for seed, top in ((0, 0.8), (1, 0.9)):
        (tmp_path / f"seed-{seed}").mkdir()
        write_history(tmp_path / f"seed-{seed}" / "history.csv", rows([0.5, top]))
    arm = load_baseline(tmp_path, CONFIG, [0, 1])
    assert arm.values("val_accuracy") == {0: 0.8, 1: 0.9}
    assert arm.best_seed(Metric.named("val_accuracy")) == 1
    assert arm.best_seed(Metric.named("val_accuracy", "minimize")) == 0
    with pytest.raises(WrongState, match="seed 2"):
        load_baseline(tmp_path, CONFIG, [0, 1, 2])


def _arm(label: str, values: list[float]) -> Arm:
    results = {seed: run_from_history(seed, rows([v]), monitor="val_accuracy")
               for seed, v in enumerate(values)}
    return Arm(label, Path(label), CONFIG, results)


# rule: a clear gain is significant; a diverged seed in the candidate fails the arm
def test_compare_arms() -> None:
    metric = Metric.named("val_accuracy")
    base = _arm("baseline", [0.90, 0.91, 0.89, 0.92, 0.90])
    better = _arm("attempt-1", [0.95, 0.96, 0.94, 0.96, 0.95])
    compared = compare_arms(base, better, metric=metric, rule=Rule(alpha=0.05, family=3))
    assert compared.comparison is not None and compared.comparison.significant
    # the same seeds in both arms: the paired test decides, at alpha / 3; Welch beside it
    assert compared.comparison.test == "paired t" and compared.comparison.df == 4
    assert compared.comparison.beside is not None
    assert compared.comparison.test_alpha == pytest.approx(0.05 / 3)
    broken = dict(better.results)
    broken[2] = RunResult(status=RunStatus.DIVERGED, seed=2, history=[], best_epoch=None,
                          best={}, final={}, monitor="val_accuracy", wall_time_s=0.0,
                          samples_per_sec=0.0)
    failed = compare_arms(base, Arm("attempt-2", Path("x"), CONFIG, broken), metric=metric,
                          rule=Rule())
    assert failed.comparison is None and "seed 2 diverged" in failed.note


# rule: an arm names each seed with no finite value, and why, in seed order
def test_unusable_names_each_failed_seed() -> None:
    arm = _arm("attempt-1", [0.9, 0.91, 0.92])
    assert arm.unusable("val_accuracy") == []
    results = dict(arm.results)
    results[1] = run_from_history(1, rows([0.5], [math.nan]), monitor="val_accuracy")
    broken = Arm("attempt-2", Path("x"), CONFIG, results)
    assert broken.unusable("val_accuracy") == ["seed 1 diverged"]
