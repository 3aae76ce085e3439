"""The sweep's re-runs race: a candidate clearly out trains on no further fresh seed."""

from __future__ import annotations

from pathlib import Path

from phases.optimization.sweep.records import TrialRecord
from phases.optimization.sweep.rerun import choose, race, rerun_top
from tests.optimization.sweep.conftest import tiny_base
from workflow.arms import Arm
from workflow.metric import Metric
from workflow.trainer.result import RunResult, RunStatus

ACCURACY = Metric.named("val_accuracy")


def _arm(label: str, values: list[float], metric: str = "val_accuracy") -> Arm:
    results = {
        seed: RunResult(status=RunStatus.COMPLETED, seed=seed, history=[], best_epoch=1,
                        best={metric: v}, final={}, monitor=metric,
                        wall_time_s=0.0, samples_per_sec=0.0)
        for seed, v in enumerate(values)
    }
    return Arm(label, Path("."), tiny_base(), results)


# rule: an arm is out only when its 95% interval lies wholly below the leader's; overlapping
# intervals keep both in the race, whichever way the metric points
def test_only_a_clearly_worse_arm_is_out() -> None:
    leader = _arm("a", [0.90, 0.91, 0.92])
    assert race({"a": leader, "b": _arm("b", [0.50, 0.51, 0.52])}, ACCURACY) == {
        "b": "out of the race after 3 seeds: its 95% interval lies below a's"}
    assert race({"a": leader, "b": _arm("b", [0.80, 0.95, 0.88])}, ACCURACY) == {}
    loss = Metric.named("val_loss")
    assert set(race({"a": _arm("a", [0.90, 0.91, 0.92], "val_loss"),
                     "b": _arm("b", [0.50, 0.51, 0.52], "val_loss")}, loss)) == {"a"}


# rule: with five fresh seeds, a candidate clearly out after three trains no further; the race
# is then decided, so the leader stops too, and the choice is still the best re-run mean
def test_a_candidate_out_of_the_race_trains_no_further(tmp_path: Path) -> None:
    def record(number: int, lr: float) -> TrialRecord:
        return TrialRecord(number=number, state="complete", value=0.9, params={
            "optimizer.lr": lr}, epochs_run=2, time_s=1.0, reason="")

    top = [record(0, 0.01), record(1, 1e-6)]  # an lr that learns nothing in two epochs
    fresh = [100, 101, 102, 103, 104]
    candidates = rerun_top(tiny_base(epochs=2), top, tmp_path, metric=ACCURACY,
                           fresh_seeds=fresh, baseline_values=[0.1, 0.12, 0.11], workers=1)
    good, bad = candidates
    assert "out of the race after 3 seeds" in bad.note and bad.seeds == fresh[:3]
    assert good.seeds == fresh[:3] and good.note == ""
    assert sorted(p.name for p in bad.rerun_dir.iterdir()) == [f"seed-{s}" for s in fresh[:3]]
    assert choose(candidates, ACCURACY) is good
    assert good.comparison is not None and bad.comparison is not None  # both reported
