"""Targeted optimization: apply chosen recommendations to a config, train every seed, compare.

The pieces every Phase 4 attempt is made of, whatever chose its changes:

- `Arm`: one config trained on the project's seeds (the baseline, or an attempt),
  read back from its run folders without torch.
- `select`: which recommendations an attempt applies. Targeted applies every HIGH
  and MEDIUM one (the top three when there are none); iterative, smaller steps,
  applies the HIGH ones (the top one when there are none). A recommendation whose
  changes an earlier attempt already tried is passed over.
- `Plan`: what an attempt applies, to which base config, written to
  `attempt-<k>/plan.json` before anything trains, so a rerun resumes the very same
  attempt.
- `config_yaml`: the candidate config, each changed line commented with what
  changed, from what, and why (`# CHANGED: from 0.0 — R2 answers overfitting: ...`).
- `train_arm` and `compare_arms`: every project seed trained through
  workflow.runner (seeds already finished are not trained again), then the target
  metric's per-seed values compared with workflow.stats.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from workflow.errors import WorkflowError
from workflow.io import atomic_write_json, atomic_write_text, read_json
from workflow.trainer.commented import commented_yaml, flatten, is_unset, lookup, scalar
from workflow.trainer.config import TrainConfig
from workflow.trainer.result import HISTORY_FILE, METRICS_FILE, RunResult, RunStatus, read_history

__all__ = [
    "Arm",
    "Plan",
    "apply",
    "change_key",
    "compare_arms",
    "config_diff",
    "config_yaml",
    "load_arm",
    "load_baseline",
    "mean_std",
    "normalize_recommendation",
    "select",
    "train_arm",
]

Mode = Literal["targeted", "iterative"]
PLAN_FILE = "plan.json"
CONFIG_FILE = "optimization_config.yaml"
PRIORITIES = ("HIGH", "MEDIUM", "LOW")
TOP_TARGETED = 3
TOP_ITERATIVE = 1


# ---- arms -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arm:
    """One config trained on several seeds: `root/seed-<n>/` for each seed."""

    label: str  # "baseline" or "attempt-<k>"
    root: Path
    config: TrainConfig
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

    def best_seed(self, metric: str, higher_is_better: bool) -> int:
        """The usable seed with the best value of `metric` (its checkpoints are the model)."""
        values = self.values(metric)
        if not values:
            raise WorkflowError(f"{self.label}: no usable seed (every one diverged or was pruned)")
        pick = max if higher_is_better else min
        return pick(values, key=lambda s: (values[s], -s))

    def histories(self) -> list[list[dict[str, float]]]:
        return [r.history for _, r in sorted(self.results.items()) if r.history]


def load_arm(label: str, root: Path, config: TrainConfig, seeds: Sequence[int]) -> Arm:
    """An arm whose seeds have all finished (a `WorkflowError` names a missing one)."""
    results = {}
    for seed in seeds:
        folder = root / f"seed-{seed}"
        if not (folder / METRICS_FILE).is_file():
            raise WorkflowError(f"{label}: seed {seed} has no finished run in {folder}")
        results[seed] = RunResult.load(folder)
    return Arm(label, root, config, results)


def load_baseline(root: Path, config: TrainConfig, seeds: Sequence[int]) -> Arm:
    """The baseline's runs; a seed Phase 3 imported (history.csv only) is read from its history."""
    results: dict[int, RunResult] = {}
    for seed in seeds:
        folder = root / f"seed-{seed}"
        if (folder / METRICS_FILE).is_file():
            results[seed] = RunResult.load(folder)
        elif (folder / HISTORY_FILE).is_file():
            results[seed] = _imported(folder, seed, config)
        else:
            raise WorkflowError(
                f"the baseline has no run of seed {seed} in {folder}: run phasegate baseline first"
            )
    return Arm("baseline", root, config, results)


def _imported(folder: Path, seed: int, config: TrainConfig) -> RunResult:
    """A run known only by its history: the best epoch is the monitor's best row."""
    history = read_history(folder / HISTORY_FILE)
    finite = [r for r in history if math.isfinite(r.get("val_loss", 0.0))]
    if not finite:
        raise WorkflowError(f"{folder / HISTORY_FILE}: no finite epoch to compare")
    monitor = config.training.monitor
    pick = min if monitor.endswith("_loss") else max
    best = pick(finite, key=lambda row: row.get(monitor, math.nan))
    return RunResult(
        status=RunStatus.COMPLETED if len(finite) == len(history) else RunStatus.DIVERGED,
        seed=seed,
        history=finite,
        best_epoch=int(best.get("epoch", 0)),
        best=dict(best),
        final=dict(finite[-1]),
        monitor=monitor,
        wall_time_s=0.0,
        samples_per_sec=0.0,
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
    config: TrainConfig,
    seeds: Sequence[int],
    root: Path,
    *,
    trainer: str = "builtin",
    workers: int | None = None,
    on_epoch: Callable[[int, int, dict[str, float]], None] | None = None,
    on_done: Callable[[RunResult], None] | None = None,
) -> Arm:
    """Train `config` on every seed not already finished in `root` (workflow.runner resumes)."""
    from workflow.runner import train_seeds

    results = train_seeds(
        config, list(seeds), root, trainer=trainer, workers=workers, on_epoch=on_epoch,
        on_done=on_done,
    )
    return Arm(label, root, config, dict(results))


@dataclass(frozen=True)
class ArmComparison:
    """A comparison of two arms on the seeds usable in both, or why there is none."""

    comparison: Any | None  # workflow.stats.Comparison
    seeds: list[int]
    note: str  # the seeds left out, and why


def compare_arms(
    reference: Arm,
    candidate: Arm,
    *,
    metric: str,
    higher_is_better: bool,
    alpha: float,
    min_effect: float,
) -> ArmComparison:
    """Compare the target metric's per-seed values of two arms (workflow.stats.compare).

    A seed that is not usable in the candidate (diverged, pruned) fails the arm: there is
    no comparison, and `note` says why. A seed missing from the reference alone is left
    out of both arms.
    """
    from workflow.stats import MIN_SEEDS, compare

    cand = candidate.values(metric)
    failed = [
        f"seed {s} {r.status.value}" for s, r in sorted(candidate.results.items())
        if s not in cand
    ]
    if failed:
        return ArmComparison(None, [], f"{candidate.label}: {', '.join(failed)}: not compared")
    ref = reference.values(metric)
    note = ""
    if set(reference.results) == set(candidate.results):
        # the same seeds in both arms: a seed lost in either is left out of both
        shared = [s for s in sorted(cand) if s in ref]
        if len(shared) < len(cand):
            left = sorted(set(cand) - set(shared))
            note = f"seeds {left} are not usable in {reference.label} and are left out of both arms"
        ref_values, cand_values = [ref[s] for s in shared], [cand[s] for s in shared]
    else:  # a sweep's winner re-run on fresh seeds: two independent samples
        shared = sorted(cand)
        ref_values, cand_values = list(ref.values()), [cand[s] for s in shared]
    if min(len(ref_values), len(cand_values)) < MIN_SEEDS:
        return ArmComparison(
            None, shared, f"only {min(len(ref_values), len(cand_values))} usable seed(s) in an "
            f"arm, fewer than {MIN_SEEDS}: not compared"
        )
    comparison = compare(
        ref_values,
        cand_values,
        higher_is_better=higher_is_better,
        alpha=alpha,
        min_effect=min_effect,
    )
    return ArmComparison(comparison, shared, note)


# ---- recommendations ---------------------------------------------------------------------


def normalize_recommendation(raw: Mapping[str, Any], index: int) -> dict[str, Any]:
    """A recommendation as Phase 3 records it (phase3.recommendations), with every field set."""
    changes = raw.get("changes") or {}
    if not isinstance(changes, Mapping):
        raise WorkflowError(
            f"recommendation {raw.get('id', index)!r}: changes must be a mapping of dotted "
            f"paths to values, but got {changes!r}"
        )
    priority = str(raw.get("priority", "LOW")).upper()
    gain = raw.get("expected_gain") or [0.0, 0.0]
    return {
        "id": str(raw.get("id") or f"R{index}"),
        "name": str(raw.get("name") or raw.get("id") or f"R{index}"),
        "title": str(raw.get("title") or raw.get("name") or raw.get("id") or f"R{index}"),
        "priority": priority if priority in PRIORITIES else "LOW",
        "changes": dict(changes),
        "expected_gain": [float(gain[0]), float(gain[1])],
        "finding": str(raw.get("finding") or "none"),
        "rationale": str(raw.get("rationale") or ""),
        "risk": str(raw.get("risk") or ""),
    }


def change_key(changes: Mapping[str, Any]) -> str:
    """One canonical string per set of changes: what an attempt 'tried'."""
    return json.dumps(dict(changes), sort_keys=True, default=str)


def is_noop(config: TrainConfig, changes: Mapping[str, Any]) -> bool:
    """The changes leave `config` as it is (none, or every value already set)."""
    try:
        patched = config.with_changes(dict(changes), source="recommendation")
    except WorkflowError:
        return False
    return patched.model_dump(mode="json") == config.model_dump(mode="json")


def select(
    recommendations: Sequence[Mapping[str, Any]],
    *,
    mode: Mode,
    tried: Collection[str] = (),
    base: TrainConfig | None = None,
) -> list[dict[str, Any]]:
    """The recommendations the next attempt applies (see the module docstring).

    With `base`, a recommendation that would change nothing in it is passed over too
    (re-diagnosis rounds: a repeat of what the base already has is not a new attempt).
    """
    recs = [normalize_recommendation(r, i) for i, r in enumerate(recommendations, start=1)]
    fresh = [r for r in recs if change_key(r["changes"]) not in tried]
    if base is not None:
        fresh = [r for r in fresh if not is_noop(base, r["changes"])]
    order = {p: i for i, p in enumerate(PRIORITIES)}
    fresh.sort(key=lambda r: order[r["priority"]])  # stable: Phase 3's order within a priority
    if mode == "targeted":
        chosen = [r for r in fresh if r["priority"] in ("HIGH", "MEDIUM")]
        return chosen or fresh[:TOP_TARGETED]
    chosen = [r for r in fresh if r["priority"] == "HIGH"]
    return chosen or fresh[:TOP_ITERATIVE]


def apply(base: TrainConfig, recommendations: Sequence[Mapping[str, Any]]) -> TrainConfig:
    """`base` with every recommendation's changes applied, in order (a later one wins)."""
    changes = {k: v for rec in recommendations for k, v in rec["changes"].items()}
    ids = ", ".join(str(rec["id"]) for rec in recommendations) or "none"
    return base.with_changes(changes, source=f"recommendations {ids}")


# ---- the plan of one attempt ---------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What attempt `attempt` applies to which base; saved before it trains."""

    attempt: int
    strategy: str  # targeted | iterative | sweep
    base: str  # the label of the arm the changes apply to (the best so far)
    source: str  # where the recommendations came from ("phase3", "attempt-2 diagnosis")
    recommendations: list[dict[str, Any]]
    config: dict[str, Any]  # the candidate TrainConfig, as JSON
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def train_config(self) -> TrainConfig:
        return TrainConfig.model_validate(self.config)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "strategy": self.strategy,
            "base": self.base,
            "source": self.source,
            "recommendations": self.recommendations,
            "config": self.config,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        return cls(
            attempt=int(data["attempt"]),
            strategy=str(data["strategy"]),
            base=str(data["base"]),
            source=str(data["source"]),
            recommendations=list(data["recommendations"]),
            config=dict(data["config"]),
            extra=dict(data.get("extra") or {}),
        )

    def save(self, folder: Path, base_config: TrainConfig) -> None:
        """plan.json and the commented optimization_config.yaml, each written atomically."""
        header = (
            f"Phase 4 attempt {self.attempt} ({self.strategy}): the {self.base} config with "
            f"{_ids(self.recommendations)} applied (from {self.source})."
        )
        text = config_yaml(base_config, self.train_config, self.recommendations, header=header)
        atomic_write_text(folder / CONFIG_FILE, text)
        atomic_write_json(folder / PLAN_FILE, self.to_dict())

    @classmethod
    def load(cls, folder: Path) -> Plan | None:
        path = folder / PLAN_FILE
        return cls.from_dict(read_json(path)) if path.is_file() else None


def _ids(recommendations: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(str(r["id"]) for r in recommendations) or "no recommendation"


# ---- the commented config and the diff ------------------------------------------------------

def _one_line(text: str) -> str:
    return " ".join(text.split())


def change_notes(
    base: TrainConfig, recommendations: Sequence[Mapping[str, Any]]
) -> dict[str, str]:
    """The comment of each dotted path a recommendation sets: what, from what, why."""
    before = base.model_dump(mode="json")
    notes: dict[str, str] = {}
    for rec in recommendations:
        why = f"{rec['id']} answers {rec['finding']}"
        detail = rec.get("rationale") or rec.get("title") or ""
        if detail:
            why += f": {detail}"
        for dotted, value in rec["changes"].items():
            old = lookup(before, dotted)
            if is_unset(old):
                notes[dotted] = _one_line(f"NEW: {why}")
            elif old == value:
                notes[dotted] = _one_line(f"UNCHANGED: already {scalar(old)} — {why}")
            else:
                notes[dotted] = _one_line(f"CHANGED: from {scalar(old)} — {why}")
    return notes


def config_yaml(
    base: TrainConfig,
    config: TrainConfig,
    recommendations: Sequence[Mapping[str, Any]],
    *,
    header: str = "",
) -> str:
    """`config` as YAML, each line a recommendation set commented; parses back to `config`."""
    notes = change_notes(base, recommendations)
    if not notes:
        header = f"{header}\nno setting differs from the base config".lstrip("\n")
    return commented_yaml(config.model_dump(mode="json"), notes, header=header)


def config_diff(base: TrainConfig, config: TrainConfig) -> list[dict[str, Any]]:
    """Every setting that differs: path, the base's value and the candidate's (only what changed).

    The run's `name` is left out: it labels, it does not train.
    """
    before = flatten(base.model_dump(mode="json"))
    after = flatten(config.model_dump(mode="json"))
    rows = []
    for path in list(before) + [p for p in after if p not in before]:
        if path == "name":
            continue
        old, new = before.get(path), after.get(path)
        if old != new:
            rows.append({"path": path, "from": scalar(old), "to": scalar(new)})
    return rows
