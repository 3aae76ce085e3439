"""phases.diagnostic.findings: each finding on a crafted history, with its numbers; a clean one."""

from __future__ import annotations

import math

import pytest

from phases.diagnostic import findings as F
from phases.diagnostic.evidence import SeedRun
from phases.diagnostic.findings import find_all
from tests.diagnostic.histories import by_id, clean_config, evidence, history, seeds


def test_clean_history_has_no_finding() -> None:
    # a healthy run on a config without gaps: no check fires
    assert find_all(evidence(seeds())) == []


def test_overfitting_by_the_accuracy_gap() -> None:
    # train accuracy 100% against val 75% at the last epoch: a 25-point gap (> 15) is overfitting
    runs = seeds(train_accuracy=lambda e: min(1.0, 0.5 + 0.05 * e),
                 val_accuracy=lambda e: min(0.75, 0.4 + 0.05 * e))
    found = by_id(find_all(evidence(runs)))
    overfit = found["overfitting"]
    assert overfit.evidence["train_accuracy"] == 100.0
    assert overfit.evidence["val_accuracy"] == 75.0
    assert overfit.evidence["gap_points"] == 25.0
    assert overfit.severity == "medium"  # 25 is not above OVERFIT_GAP_HIGH, and val loss is flat
    assert "25.0-point gap" in overfit.text
    assert overfit.root_cause


def test_overfitting_by_val_loss_rising_while_train_loss_falls() -> None:
    # val loss bottoms out at epoch 8 and ends 30% higher while train loss keeps falling
    def val_loss(e: int) -> float:
        return 0.5 + 0.05 * abs(e - 8) if e < 8 else 0.5 * (1 + 0.3 * (e - 8) / 12)

    runs = seeds(val_loss=val_loss, val_accuracy=lambda e: 0.9, train_accuracy=lambda e: 0.93)
    overfit = by_id(find_all(evidence(runs)))["overfitting"]
    assert overfit.evidence["seeds_val_loss_rising"] == 3
    assert overfit.evidence["val_loss_min_epoch"] == 8
    assert overfit.evidence["val_loss_rise_pct"] == pytest.approx(30.0)
    assert overfit.evidence["gap_points"] == pytest.approx(3.0)  # the gap alone would not say it


def test_underfitting_with_a_plateau_high() -> None:
    # train accuracy stuck at 60% (below the 97% goal) and train loss flat at 1.2 from epoch 5
    runs = seeds(train_loss=lambda e: 1.2 + 1.0 * math.exp(-e),
                 train_accuracy=lambda e: 0.60, val_accuracy=lambda e: 0.58,
                 val_balanced_accuracy=lambda e: 0.575)
    found = by_id(find_all(evidence(runs, goal=0.97)))
    under = found["underfitting"]
    assert under.evidence["train_accuracy_best"] == 60.0
    assert under.evidence["reference"] == 97.0
    assert under.evidence["shortfall_points"] == 37.0
    assert under.evidence["plateau"] is True
    assert under.severity == "high"
    assert "lr_too_low" not in found  # fast early progress: a capacity problem, not the lr


def test_lr_too_high_when_seeds_diverge() -> None:
    # a non-finite loss at epoch 3 in every seed: the run diverged, the lr is too high
    runs = seeds(train_loss=lambda e: math.nan if e == 3 else 1.0)
    ev = evidence(runs)
    assert all(run.status == "diverged" and len(run.history) == 2 for run in ev.runs)
    high = by_id(find_all(ev))["lr_too_high"]
    assert high.severity == "high"
    assert high.evidence["diverged_seeds"] == 3
    assert high.evidence["first_divergence_epoch"] == 3
    assert high.evidence["lr"] == 1e-3
    assert "3 of 3 seeds diverged" in high.text


def test_lr_too_high_by_loss_spikes() -> None:
    # train loss doubles at epochs 6 and 12 (well above 10% of the first loss): spikes
    def loss(e: int) -> float:
        return 0.3 + 1.2 * math.exp(-e / 2) + (0.8 if e in (6, 12) else 0.0)

    high = by_id(find_all(evidence(seeds(train_loss=loss))))["lr_too_high"]
    assert high.evidence["spikes"] == 6  # two in each of 3 seeds
    assert high.evidence["seeds_with_spikes"] == 3
    assert high.severity == "high"  # repeated spikes


def test_lr_too_high_by_oscillation() -> None:
    # train loss zigzags by 0.3 every epoch around a slow decline: it bounces, it does not settle
    def loss(e: int) -> float:
        return 1.0 - 0.01 * e + (0.3 if e % 2 else 0.0)

    high = by_id(find_all(evidence(seeds(train_loss=loss))))["lr_too_high"]
    assert high.evidence["seeds_oscillating"] == 3
    assert high.evidence["oscillation_pct"] == 100.0
    assert high.evidence["spikes"] == 0
    assert high.severity == "medium"


def test_lr_too_low_and_the_underfit_it_explains() -> None:
    # train loss falls in a straight slow line from 2.30 to 1.92: the lr is too low; the
    # resulting low train accuracy is marked a symptom of it, not a root cause
    runs = seeds(train_loss=lambda e: 2.32 - 0.02 * e, val_loss=lambda e: 2.35 - 0.02 * e,
                 train_accuracy=lambda e: 0.2 + 0.01 * e, val_accuracy=lambda e: 0.2 + 0.01 * e,
                 val_balanced_accuracy=lambda e: 0.2 + 0.01 * e)
    found = by_id(find_all(evidence(runs)))
    low = found["lr_too_low"]
    assert low.evidence["train_loss_first"] == pytest.approx(2.30)
    assert low.evidence["train_loss_last"] == pytest.approx(1.92)
    assert low.evidence["total_reduction_pct"] == pytest.approx(16.5, abs=0.1)
    assert low.evidence["first_half_share_pct"] == pytest.approx(47.4, abs=0.1)
    assert low.severity == "high"  # under 20% in the whole run: stuck
    assert found["underfitting"].explained_by == "lr_too_low"
    assert not found["underfitting"].root_cause


def test_not_converged_when_still_improving() -> None:
    # val accuracy climbs 1 point per epoch to the very end: the last 5 epochs gained 5 points
    runs = seeds(val_accuracy=lambda e: 0.70 + 0.01 * e, val_balanced_accuracy=lambda e: 0.7)
    config = clean_config(**{"training.early_stopping": None})
    found = by_id(find_all(evidence(runs, config=config)))
    late = found["not_converged"]
    assert late.evidence["late_gain"] == pytest.approx(5.0)
    assert late.evidence["window_epochs"] == 5
    assert late.evidence["best_epoch"] == 20
    assert late.severity == "high"  # more than 2 points still to gain
    assert "saturated_early" not in found


def test_saturated_early() -> None:
    # val accuracy peaks at epoch 4 of 20 and never beats it: 80% of the epochs bought nothing
    runs = seeds(val_accuracy=lambda e: 0.95 if e == 4 else 0.94,
                 val_balanced_accuracy=lambda e: 0.94)
    early = by_id(find_all(evidence(runs)))["saturated_early"]
    assert early.evidence["best_epoch"] == 4
    assert early.evidence["idle_epochs_pct"] == 80.0
    assert early.severity == "low"


def test_early_stopping_too_eager() -> None:
    # patience 2 stops every seed at epoch 5 of 30 while train loss still falls fast
    config = clean_config(**{"training.epochs": 30, "training.early_stopping.patience": 2})
    runs = seeds(epochs=5, train_loss=lambda e: 2.0 - 0.3 * e)
    ev = evidence(runs, config=config)
    assert all(run.status == "early_stopped" for run in ev.runs)
    eager = by_id(find_all(ev))["early_stopping_eager"]
    assert eager.evidence["stop_epoch"] == 5
    assert eager.evidence["patience"] == 2
    assert eager.evidence["epochs_configured"] == 30
    assert eager.evidence["train_loss_drop_last_patience_pct"] == pytest.approx(100 * 0.6 / 1.1,
                                                                                abs=0.1)


def test_early_stopping_never_fires() -> None:
    # a patience of 40 over 20 epochs can never fire, though val accuracy peaked at epoch 6
    config = clean_config(**{"training.early_stopping.patience": 40})
    runs = seeds(val_accuracy=lambda e: 0.95 if e == 6 else 0.94)
    never = by_id(find_all(evidence(runs, config=config)))["early_stopping_never_fires"]
    assert never.evidence["best_epoch"] == 6
    assert never.evidence["seeds_stopped"] == 0
    assert "patience (40) is not below the 20 epochs" in never.text


def test_config_gaps() -> None:
    # the trainer's defaults on images: no schedule, no regularization, no augmentation, no clip
    config = clean_config(**{
        "schedule.name": "none", "schedule.warmup_epochs": 0, "optimizer.weight_decay": 0.0,
        "model.dropout": 0.0, "data.augment": [], "training.grad_clip": None,
    })
    gaps = by_id(find_all(evidence(seeds(), config=config)))["config_gaps"]
    assert gaps.evidence["missing"] == 4
    assert gaps.evidence["settings"] == [
        "schedule.name", "regularization", "data.augment", "training.grad_clip"
    ]
    assert gaps.severity == "medium"
    assert not gaps.root_cause


def test_resource_waste_from_data_wait() -> None:
    # 45% of each epoch waiting on data is above the 30% threshold
    waste = by_id(find_all(evidence(seeds(data_wait_fraction=lambda e: 0.45))))["resource_waste"]
    assert waste.evidence["data_wait_pct"] == 45.0
    assert waste.evidence["data_wait_threshold_pct"] == 30.0
    assert waste.severity == "medium"


def test_resource_waste_from_low_throughput_with_a_small_batch() -> None:
    # 300 samples/s with a batch of 8 over 2-second epochs (75 steps): slow, and the batch is why;
    # on 0.1-second epochs (4 steps) fixed costs dominate and throughput is not judged
    config = clean_config(**{"data.batch_size": 8})
    ev = evidence(seeds(samples_per_sec=lambda e: 300.0, epoch_time=lambda e: 2.0), config=config)
    waste = by_id(find_all(ev))["resource_waste"]
    assert waste.evidence["samples_per_sec"] == 300.0
    assert waste.evidence["batch_size"] == 8
    assert waste.severity == "low"
    short = seeds(samples_per_sec=lambda e: 300.0, epoch_time=lambda e: 0.1)
    assert "resource_waste" not in by_id(find_all(evidence(short, config=config)))


def test_seed_noise_against_the_minimum_effect() -> None:
    # val accuracy 2 points apart between seeds (std 2) against a 1-point min_effect: at 80%
    # power and alpha 0.05 a test needs ceil(2 * (2.486 * 2 / 1)^2) = 50 seeds per arm
    runs = seeds(spread=0.02)
    noise = by_id(find_all(evidence(runs, min_effect=0.01)))["seed_noise"]
    assert noise.evidence["std"] == pytest.approx(2.0)
    assert noise.evidence["min_effect"] == 1.0
    assert noise.evidence["seeds_needed"] == 50
    assert noise.evidence["seeds"] == 3
    assert noise.evidence["detectable_effect"] == pytest.approx(2.486 * 2 * math.sqrt(2 / 3), 0.01)
    assert noise.severity == "high"
    # the same spread against a 10-point effect is no problem
    assert "seed_noise" not in by_id(find_all(evidence(runs, min_effect=0.10)))


def test_class_imbalance() -> None:
    # balanced accuracy 12 points below accuracy at the best epoch: the rare classes are missed
    runs = seeds(val_balanced_accuracy=lambda e: 0.955 - 0.4 * math.exp(-e / 2.5) - 0.12)
    imbalance = by_id(find_all(evidence(runs)))["class_imbalance"]
    assert imbalance.evidence["gap_points"] == pytest.approx(12.0)
    assert imbalance.severity == "high"


def test_findings_sort_by_severity() -> None:
    # high before medium before low, whatever order the checks ran in
    runs = seeds(data_wait_fraction=lambda e: 0.45,
                 val_balanced_accuracy=lambda e: 0.955 - 0.4 * math.exp(-e / 2.5) - 0.12,
                 val_accuracy=lambda e: 0.95 if e == 4 else 0.94)
    severities = [f.severity for f in find_all(evidence(runs))]
    assert severities == sorted(severities, key=F.SEVERITY_RANK.__getitem__)


def test_history_import_status_rules() -> None:
    # a history is diverged at its first non-finite loss (rows before it kept), early-stopped
    # when shorter than the configured epochs under early stopping, else completed
    rows = history(6, val_loss=lambda e: math.inf if e == 4 else 1.0)
    run = SeedRun.from_history(7, rows, configured_epochs=6, early_stopping=True)
    assert (run.status, run.diverged_epoch, len(run.history)) == ("diverged", 4, 3)
    short = SeedRun.from_history(7, history(4), configured_epochs=6, early_stopping=True)
    assert short.status == "early_stopped"
    full = SeedRun.from_history(7, history(4), configured_epochs=6, early_stopping=False)
    assert full.status == "completed" and full.usable
