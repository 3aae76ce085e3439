"""The winner's curse, stage one: the sweep's top trials re-run on fresh seeds, one chosen.

The best of many trials is biased upward: its score was the one selected. So the top
k distinct configurations are trained again as arms (workflow.arms) on the project's
fresh seeds and the best re-run mean is chosen, never the best sweep score. That mean
is itself a maximum of k means, biased upward in turn, so it only *chooses*: the sweep
strategy measures the chosen config on the project's seeds, which chose nothing, and
decides on that. The re-runs' comparisons with the baseline (Holm over the k) are
reported as the selection's evidence; they decide nothing.

The re-runs race, so that they cost less than the search: every candidate trains on
the first three fresh seeds, then on one more seed per round. The candidates train on
the same fresh seeds, so after each round the leader (the best mean) is compared with
each other candidate by the paired t-test on their shared seeds (workflow.stats, Holm
over the others); a candidate the leader beats at RACE_ALPHA (or with a seed that
diverged) is clearly out and trains no further. With a minimum effect, a candidate that
is significantly not better than the leader by it is out too. Once one candidate is left
the race is decided, and that one trains on the rest of the fresh seeds: its re-run mean
(the selection's evidence) is then no more biased than with every candidate re-run on
every seed. The choice is still the best re-run mean, and the gain is still measured on
the project's seeds: the race only spends less on the losers. Dropping a candidate that
is truly as good as the leader costs nothing (the two are as good a choice); dropping
one truly better is what the test's level bounds. `benchmarks/calibration.py` measures
the race against re-running every candidate on every seed: the chance of choosing the
best, the true gain given up, and the seeds trained.

Why three seeds first, not two: at two seeds the paired test has one degree of freedom
(critical t 6.3 at 0.05), so it drops a candidate only when it trails by about six seed
standard deviations, and a sweep's top trials lie within one or two of each other; and
`workflow.stats` compares nothing below MIN_SEEDS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from phases.optimization.sweep.records import Candidate, TrialRecord
from workflow.arms import Arm, train_arm
from workflow.metric import Metric
from workflow.progress import Progress, QuietProgress

if TYPE_CHECKING:
    from workflow.own_config import RunConfig

__all__ = ["RACE_ALPHA", "choose", "race", "rerun_top", "run_race", "top_trials"]

RACE_ALPHA = 0.05  # a candidate is out when the leader beats it at this level (paired, Holm)

# a candidate's values on the seeds given, or None when one of them gave no finite value
Measure = Callable[[str, list[int]], "list[float] | None"]


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
    """The best re-run mean: the choice (the sweep strategy measures it on other seeds).

    Only the candidates the race kept compete: they trained on the most seeds, and one out
    of the race has the mean of its first seeds only (its later seeds never trained)."""
    best: Candidate | None = None
    most = max((len(c.seeds) for c in candidates if c.summary is not None), default=0)
    for c in candidates:
        if c.summary is None or len(c.seeds) < most:
            continue
        if best is None or best.summary is None or metric.better(c.summary.mean, best.summary.mean):
            best = c
    return best


def rerun_top(
    base: RunConfig,
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

    def measure(label: str, on: list[int]) -> list[float] | None:
        arms[label] = _train(label, configs[label], on, root, trainer, workers, progress)
        if arms[label].unusable(metric.name):
            return None
        return list(arms[label].values(metric.name, on).values())

    out = run_race(list(configs), seeds, measure, metric, min_effect=min_effect)
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


def run_race(
    labels: Sequence[str],
    seeds: Sequence[int],
    measure: Measure,
    metric: Metric,
    *,
    alpha: float = RACE_ALPHA,
    min_effect: float = 0.0,
) -> dict[str, str]:
    """Race `labels` on `seeds` (the module docstring; `race` says who is out after each
    round): `measure(label, seeds)` trains a candidate on those seeds (those it has are not
    trained again) and gives its values. Returns the candidates out of the race, and why."""
    out: dict[str, str] = {}
    first = min(len(seeds), _min_seeds())
    for done in range(first, len(seeds) + 1):
        alive = [label for label in labels if label not in out]
        if done > first and len(alive) < 2:
            # the race is decided: the one left trains on every fresh seed, so its re-run
            # mean is no more a maximum of few seeds than with no race at all
            for label in alive:
                measure(label, list(seeds))
            break
        values = {}
        for label in alive:
            got = measure(label, list(seeds[:done]))
            if got is None:
                out[label] = f"out of the race after {done} seeds: a seed failed"
            else:
                values[label] = got
        out.update(race(values, metric, alpha, min_effect))
    return out


def race(values: Mapping[str, Sequence[float]], metric: Metric, alpha: float = RACE_ALPHA,
         min_effect: float = 0.0) -> dict[str, str]:
    """The candidates clearly out of the race, and why. `values`: each candidate's finite
    values, on the same seeds in the same order. The leader has the best mean; each other
    candidate is compared with it by the paired t-test on their shared seeds, Holm-adjusted
    over the others, at `alpha`, and is out when the leader is better, or (`min_effect` >
    0) when it is not better than the leader by min_effect, the smallest gain worth
    claiming: choosing the leader then gives up less than min_effect."""
    from workflow.stats import compare, holm

    if len(values) < 2 or min(len(v) for v in values.values()) < _min_seeds():
        return {}
    means = {label: metric.oriented(sum(v) / len(v)) for label, v in values.items()}
    leader = max(means, key=means.__getitem__)
    others = [label for label in values if label != leader]
    # the leader against each other candidate (is it better?), and each other candidate
    # against the leader (could it be better by min_effect?)
    ahead = [compare(values[label], values[leader], higher_is_better=metric.higher_is_better,
                     alpha=alpha, paired=True).p_value for label in others]
    gains = [compare(values[leader], values[label], higher_is_better=metric.higher_is_better,
                     alpha=alpha, min_effect=min_effect, paired=True).p_below
             for label in others]
    behind = holm(ahead)
    within = holm([1.0 if p is None else p for p in gains])
    out = {}
    for label, p_behind, p_within in zip(others, behind, within, strict=True):
        seeds = f"out of the race after {len(values[label])} seeds"
        if p_behind < alpha:
            out[label] = (f"{seeds}: {leader} is better on the same seeds (paired t, "
                          f"Holm-adjusted p = {p_behind:.3g} < {alpha:g})")
        elif p_within < alpha:
            out[label] = (f"{seeds}: it is not better than {leader} by the minimum effect "
                          f"{min_effect:g} (paired t, Holm-adjusted p = {p_within:.3g} < "
                          f"{alpha:g}), so {leader} gives up less than that")
    return out


def _train(
    label: str,
    config: RunConfig,
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
