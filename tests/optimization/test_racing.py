"""The sweep's re-runs race: a candidate clearly out trains on no further fresh seed."""

from __future__ import annotations

from pathlib import Path

from phases.optimization.sweep.records import TrialRecord
from phases.optimization.sweep.rerun import choose, race, rerun_top, run_race
from tests.optimization.sweep.conftest import tiny_base
from workflow.metric import Metric

ACCURACY = Metric.named("val_accuracy")
LEADER = [0.90, 0.93, 0.91, 0.95, 0.92]
# a point behind the leader on every seed, give or take a tenth: its interval overlaps the
# leader's (the seeds vary by far more than a point), but the same seeds show it behind
BEHIND = [0.889, 0.921, 0.900, 0.941, 0.909]
# as good as the leader: ahead on some seeds, behind on others
TIE = [0.91, 0.92, 0.905, 0.94, 0.93]


# rule: the leader is compared with each other candidate by the paired t-test on their
# shared seeds: one behind it on every seed is out after three seeds, though the seeds vary
# far more than the gap; a tie stays in; whichever way the metric points
def test_a_candidate_behind_on_the_same_seeds_is_out_and_a_tie_is_not() -> None:
    out = race({"a": LEADER[:3], "b": BEHIND[:3], "c": TIE[:3]}, ACCURACY)
    assert list(out) == ["b"]
    assert out["b"].startswith("out of the race after 3 seeds: a is better on the same seeds")
    assert race({"a": LEADER[:3], "c": TIE[:3]}, ACCURACY) == {}
    loss = Metric.named("val_loss")
    assert list(race({"a": LEADER[:3], "b": BEHIND[:3]}, loss)) == ["a"]
    assert race({"a": LEADER[:2], "b": BEHIND[:2]}, ACCURACY) == {}  # too few seeds to test


# rule: with five fresh seeds, the candidate behind is trained on three and the tie on all
# five, beside the leader; a seed without a value puts its candidate out at once
def test_a_worse_candidate_trains_on_fewer_seeds_than_a_tie() -> None:
    values = {"a": LEADER, "b": BEHIND, "c": TIE, "d": [0.95, float("nan"), 0.9, 0.9, 0.9]}
    trained: dict[str, int] = {}

    def measure(label: str, seeds: list[int]) -> list[float] | None:
        trained[label] = len(seeds)
        got = values[label][:len(seeds)]
        return None if any(v != v for v in got) else got

    out = run_race(list(values), [100, 101, 102, 103, 104], measure, ACCURACY)
    assert trained == {"a": 5, "b": 3, "c": 5, "d": 3}
    assert sorted(out) == ["b", "d"] and out["d"].endswith("a seed failed")


# rule: with a minimum effect, a candidate that is significantly not better than the leader
# by it is out too (choosing the leader gives up less than the smallest gain worth claiming),
# so a race of near-equals ends after the first three seeds
def test_a_candidate_within_the_minimum_effect_is_out() -> None:
    assert race({"a": LEADER[:3], "c": TIE[:3]}, ACCURACY, min_effect=0.0) == {}
    out = race({"a": LEADER[:3], "c": TIE[:3]}, ACCURACY, min_effect=0.05)
    assert "not better than a by the minimum effect 0.05" in out["c"]
    # a twin (the same value on every seed: a knob the trainer ignores) is out too
    twin = race({"a": LEADER[:3], "t": list(LEADER[:3])}, ACCURACY, min_effect=0.05)
    assert list(twin) == ["t"] and "by the minimum effect" in twin["t"]


# rule: with five fresh seeds, a candidate clearly out after three trains no further; the race
# is then decided, the leader trains on every fresh seed, and the choice is still the best
# re-run mean
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
    assert good.seeds == fresh and good.note == ""
    assert sorted(p.name for p in bad.rerun_dir.iterdir()) == [f"seed-{s}" for s in fresh[:3]]
    assert choose(candidates, ACCURACY) is good
    assert good.comparison is not None and bad.comparison is not None  # both reported


# rule: the top trials are never re-run on the trials' own seed (that run is done, and it is
# the one they were selected on); where that would leave too few fresh seeds, it is kept
def test_the_reruns_skip_the_seed_the_trials_trained_on(tmp_path: Path) -> None:
    from phases.optimization.sweep import SweepSettings, parse_space, run_sweep

    space = parse_space({"optimizer.lr": {"type": "float", "low": 1e-3, "high": 0.3,
                                          "grid": [0.01, 0.1]}}, source="test")
    settings = SweepSettings(method="grid", pruner="none", train_seed=100, top_k=2)
    result = run_sweep(tiny_base(epochs=2), space, tmp_path / "a", settings=settings,
                       fresh_seeds=[100, 101, 102, 103], workers=1)
    assert {tuple(c.seeds) for c in result.candidates} == {(101, 102, 103)}
    assert any("skip seed 100" in note for note in result.notes)
    result = run_sweep(tiny_base(epochs=2), space, tmp_path / "b", settings=settings,
                       fresh_seeds=[100, 101, 102], workers=1)
    assert {tuple(c.seeds) for c in result.candidates} == {(100, 101, 102)}


# rule: the choice is among the candidates the race kept: one out of it has the mean of its
# first seeds only, which may beat the winner's mean over every fresh seed by luck (its later
# seeds were never trained); calibration.py measures the race with that choice
def test_a_candidate_out_of_the_race_is_not_chosen_on_its_first_seeds() -> None:
    from phases.optimization.sweep.records import Candidate
    from workflow.stats import summarize

    values = {"a": [0.92, 0.93, 0.925, 0.89, 0.88], "c": [0.915, 0.925, 0.92, 0.92, 0.92]}

    def measure(label: str, seeds: list[int]) -> list[float]:
        return values[label][:len(seeds)]

    out = run_race(list(values), [100, 101, 102, 103, 104], measure, ACCURACY, min_effect=0.05)
    assert list(out) == ["c"]  # near-equals: c is out after three seeds, a trains on five
    candidates = [
        Candidate(rank=rank, trial=rank, params={}, config=None,  # type: ignore[arg-type]
                  sweep_value=0.9, seeds=list(range(n)), values=values[label][:n],
                  summary=summarize(values[label][:n]), comparison=None, rerun_dir=Path("."),
                  note=out.get(label, ""))
        for rank, (label, n) in enumerate((("a", 5), ("c", 3)), start=1)]
    chosen = choose(candidates, ACCURACY)
    assert chosen is not None and chosen.trial == 1
