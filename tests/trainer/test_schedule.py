"""Learning-rate schedules: the multiplier of the base lr at each optimizer step."""

from __future__ import annotations

import pytest

from workflow.trainer.config import ScheduleConfig
from workflow.trainer.schedule import LrSchedule


def test_warmup_rises_linearly_then_cosine_decays_to_the_floor() -> None:
    # 1 warmup epoch of 10 steps, then a cosine from 1 down to min_lr_ratio at the last step
    schedule = LrSchedule(ScheduleConfig(name="cosine", warmup_epochs=1, min_lr_ratio=0.1), 10, 5)
    assert schedule.factor(0) == pytest.approx(1 / 11)
    assert schedule.factor(9) == pytest.approx(10 / 11)
    assert schedule.factor(10) == pytest.approx(1.0)
    assert schedule.factor(30) == pytest.approx(0.1 + 0.9 * 0.5)  # half way through the cosine
    assert schedule.factor(50) == pytest.approx(0.1)


def test_step_and_linear() -> None:
    # step: gamma every step_epochs; linear: straight down to min_lr_ratio
    step = LrSchedule(ScheduleConfig(name="step", step_epochs=2, gamma=0.5), 10, 6)
    assert [step.factor(s) for s in (0, 19, 20, 40)] == pytest.approx([1, 1, 0.5, 0.25])
    linear = LrSchedule(ScheduleConfig(name="linear"), 10, 1)
    assert linear.factor(5) == pytest.approx(0.5)


def test_onecycle_peaks_at_max_lr_ratio_then_anneals() -> None:
    # one-cycle: from peak/25 up to the peak at 30% of the run, then down to ~0
    schedule = LrSchedule(ScheduleConfig(name="onecycle", max_lr_ratio=10), 10, 10)
    assert schedule.factor(0) == pytest.approx(0.4)
    assert max(schedule.factor(s) for s in range(100)) == pytest.approx(10, rel=1e-3)
    assert schedule.factor(99) < 0.01


def test_plateau_lowers_after_patience_and_round_trips_its_state() -> None:
    # reduce-on-plateau: after `patience` epochs without improvement the lr is multiplied
    schedule = LrSchedule(
        ScheduleConfig(name="plateau", plateau_patience=1, plateau_factor=0.5), 5, 10
    )
    for value in (1.0, 0.9, 0.95, 0.95):
        schedule.end_epoch(value, "min")
    assert schedule.factor(0) == pytest.approx(0.5)
    other = LrSchedule(ScheduleConfig(name="plateau"), 5, 10)
    other.load_state_dict(schedule.state_dict())
    assert other.factor(0) == pytest.approx(0.5)
