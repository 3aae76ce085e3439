"""The winner's curse, stage one: the sweep's top trials re-run on fresh seeds, one chosen.

The best of many trials is biased upward: its score was the one selected. So the top
k distinct configurations are trained again as arms (workflow.arms) on the project's
fresh seeds and the best re-run mean is chosen, never the best sweep score. That mean
is itself a maximum of k means, biased upward in turn, so it only *chooses*: the sweep
strategy measures the chosen config on the project's seeds, which chose nothing, and
decides on that. The re-runs' comparisons with the baseline (Holm over the k) are
reported as the selection's evidence; they decide nothing.

The re-runs race, so that they cost less than the search: every candidate trains on
the first three fresh seeds, then on one more seed per round; after each round a
candidate whose 95% interval of its mean lies wholly below the leader's (or with a
seed that diverged) is clearly out and trains no further, and once one candidate is
left the race is decided. The choice is still the best re-run mean, and the gain is
still measured on the project's seeds: the race only spends less on the losers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from phases.optimization.sweep.records import Candidate, TrialRecord
from workflow.arms import Arm, train_arm
from workflow.metric import Metric
from workflow.progress import Progress, QuietProgress

if TYPE_CHECKING:
    from workflow.trainer.config import TrainConfig

__all__ = ["RACE_LEVEL", "choose", "race", "rerun_top", "top_trials"]

RACE_LEVEL = 0.95  # a candidate is out when this interval of its mean is below the leader's


def top_trials(records: Sequence[TrialRecord], k: int, metric: Metric) -> list[TrialRecord]:
    """The k best completed trials, one per distinct configuration (a retried trial or a
    repeated grid point would otherwise take two places); ties go to the earlier trial."""
    scored = [r for r in records if r.state == "complete" and r.value is not None]
    ordered = sorted(scored, key=lambda r: (-metric.oriented(r.value or 0.0), r.number))
    seen: set[str] = set()
    top = []
    for record in ordered:
        key = repr(sorted((name, repr(v)) for name, v in record.params.items()))
        if key in seen:
            continue
        seen.add(key)
        top.append(record)
        if len(top) == k:
            break
    return top


def choose(candidates: Sequence[Candidate], metric: Metric) -> Candidate | None:
    """The best re-run mean: the choice (the sweep strategy measures it on other seeds)."""
    best: Candidate | None = None
    for c in candidates:
        if c.summary is None:
            continue
        if best is None or best.summary is None or metric.better(c.summary.mean, best.summary.mean):
            best = c
    return best


def rerun_top(
    base: TrainConfig,
    top: Sequence[TrialRecord],
    root: Path,
    *,
    metric: Metric,
    fresh_seeds: Sequence[int],
    baseline_values: Sequence[float] | None,
    trainer: str = "builtin",
    workers: int | None = None,
    alpha: float = 0.05,
    min_effect: float = 0.0,
    progress: Progress | None = None,
) -> list[Candidate]:
    """Race `top` on the fresh seeds (see the module docstring; finished seeds are not
    trained again) and compare each with the baseline, Holm-adjusted over the candidates."""
    progress = progress or QuietProgress()
    seeds = list(fresh_seeds)
    if top:
        progress.step("Phase 4", f"sweep: re-run the top {len(top)} trial(s) on fresh seeds "
                      f"{', '.join(map(str, seeds))}")
    configs = {f"trial-{r.number}": base.with_changes(r.params, source=f"trial {r.number}")
               for r in top}
    arms: dict[str, Arm] = {}
    out: dict[str, str] = {}
    first = min(len(seeds), _min_seeds())
    for done in range(first, len(seeds) + 1):
        alive = [label for label in configs if label not in out]
        if done > first and len(alive) < 2:
            break  # the race is decided
        for label in alive:
            arms[label] = _train(label, configs[label], seeds[:done], root, trainer, workers,
                                 progress)
        out.update(race({label: arms[label] for label in alive}, metric))
    notes = {}
    for arm in arms.values():  # a seed with no finite value fails its arm, as in compare_arms
        bad = arm.unusable(metric.name)
        notes[arm.label] = f"{', '.join(bad)}: not compared" if bad else ""
    comparisons = {}
    comparable = {
        arm.label: list(arm.values(metric.name).values())
        for arm in arms.values()
        if not notes[arm.label] and len(arm.values(metric.name)) >= _min_seeds()
    }
    if baseline_values is not None and comparable:
        from workflow.stats import compare_many

        comparisons = compare_many(
            list(baseline_values), comparable, higher_is_better=metric.higher_is_better,
            alpha=alpha, min_effect=min_effect,
        )
    candidates = []
    for rank, record in enumerate(top, start=1):
        from workflow.stats import summarize

        arm = arms[f"trial-{record.number}"]
        values = list(arm.values(metric.name).values())
        note = notes[arm.label] or ("no baseline to compare with" if baseline_values is None
                                    else "")
        if arm.label in out and not notes[arm.label]:
            note = "; ".join(n for n in (note, out[arm.label]) if n)
        candidates.append(
            Candidate(
                rank=rank,
                trial=record.number,
                params=record.params,
                config=arm.config,
                sweep_value=float(record.value or 0.0),
                seeds=arm.seeds,
                values=values,
                summary=summarize(values) if values and not notes[arm.label] else None,
                comparison=comparisons.get(arm.label),
                rerun_dir=arm.root,
                note=note,
            )
        )
    return candidates


def race(arms: dict[str, Arm], metric: Metric, level: float = RACE_LEVEL) -> dict[str, str]:
    """The arms clearly out of the race, and why: a seed with no finite value, or a `level`
    interval of the mean wholly worse than the leader's (the best mean's)."""
    from scipy.stats import t

    from workflow.stats import summarize

    out = {}
    intervals = {}
    for label, arm in arms.items():
        values = list(arm.values(metric.name).values())
        if arm.unusable(metric.name):
            out[label] = f"out of the race after {len(arm.seeds)} seeds: a seed failed"
            continue
        if len(values) < 2:
            continue
        summary = summarize(values)
        half = float(t.ppf((1 + level) / 2, summary.n - 1)) * summary.std / summary.n ** 0.5
        mean = metric.oriented(summary.mean)  # higher is better from here on
        intervals[label] = (mean - half, mean, mean + half)
    if not intervals:
        return out
    leader = max(intervals, key=lambda label: intervals[label][1])
    for label, (_, _, upper) in intervals.items():
        if label != leader and upper < intervals[leader][0]:
            out[label] = (f"out of the race after {len(arms[label].seeds)} seeds: its "
                          f"{level:.0%} interval lies below {leader}'s")
    return out


def _train(
    label: str,
    config: TrainConfig,
    seeds: list[int],
    root: Path,
    trainer: str,
    workers: int | None,
    progress: Progress,
) -> Arm:
    return train_arm(label, config, seeds, root / label, trainer=trainer, workers=workers,
                     progress=progress, shown_as=f"sweep re-run of {label}")


def _min_seeds() -> int:
    from workflow.stats import MIN_SEEDS

    return MIN_SEEDS
