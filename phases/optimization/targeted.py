"""Targeted optimization: apply chosen recommendations to a config, train every seed, compare.

The pieces every Phase 4 attempt is made of, whatever chose its changes:

- `select`: which recommendations an attempt applies. Targeted applies every HIGH
  and MEDIUM one (the top three when there are none); iterative, smaller steps,
  applies the HIGH ones (the top one when there are none). A recommendation whose
  changes an earlier attempt already tried is passed over.
- `AttemptPlan`: what an attempt applies, to which base config, written to
  `attempt-<k>/plan.json` before anything trains, so a rerun resumes the very same
  attempt.
- `config_yaml`: the candidate config, each changed line commented with what
  changed, from what, and why (`# CHANGED: from 0.0 — R2 answers overfitting: ...`).
Training and comparing the arms is workflow.arms'.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from workflow.errors import ConfigError, WorkflowError
from workflow.io import atomic_write_json, atomic_write_text, lookup, read_json
from workflow.own_config import RunConfig, config_from_dump, like
from workflow.trainer.commented import commented_yaml, is_unset, scalar
from workflow.trainer.config import TrainConfig

__all__ = [
    "AttemptPlan",
    "apply",
    "change_key",
    "config_yaml",
    "normalize_recommendation",
    "select",
]

Mode = Literal["targeted", "iterative"]
PLAN_FILE = "plan.json"
CONFIG_FILE = "optimization_config.yaml"
PRIORITIES = ("HIGH", "MEDIUM", "LOW")
TOP_TARGETED = 3
TOP_ITERATIVE = 1


# ---- recommendations ---------------------------------------------------------------------


def normalize_recommendation(raw: Mapping[str, Any], index: int) -> dict[str, Any]:
    """A recommendation as Phase 3 records it (phase3.recommendations), with every field set."""
    changes = raw.get("changes") or {}
    if not isinstance(changes, Mapping):
        raise ConfigError(
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


def is_noop(config: RunConfig, changes: Mapping[str, Any]) -> bool:
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
    base: RunConfig | None = None,
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


def apply(base: RunConfig, recommendations: Sequence[Mapping[str, Any]]) -> RunConfig:
    """`base` with every recommendation's changes applied, in order (a later one wins); an own
    config's on its own keys, inside their declared ranges (`workflow.own_config`)."""
    changes = {k: v for rec in recommendations for k, v in rec["changes"].items()}
    ids = ", ".join(str(rec["id"]) for rec in recommendations) or "none"
    return base.with_changes(changes, source=f"recommendations {ids}")


# ---- the plan of one attempt ---------------------------------------------------------------


@dataclass(frozen=True)
class AttemptPlan:
    """What attempt `attempt` applies to which base; saved before it trains."""

    attempt: int
    strategy: str  # targeted | iterative | sweep
    base: str  # the label of the arm the changes apply to (the best so far)
    source: str  # where the recommendations came from ("phase3", "attempt-2 diagnosis")
    recommendations: list[dict[str, Any]]
    config: dict[str, Any]  # the candidate config (TrainConfig or the trainer's own), as JSON
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def train_config(self) -> TrainConfig:
        return TrainConfig.model_validate(self.config)

    def config_for(self, trainer: str) -> RunConfig:
        """The candidate config as `trainer` takes it (its own config, or `TrainConfig`)."""
        return config_from_dump(self.config, trainer, source=f"attempt {self.attempt}'s plan")

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
    def from_dict(cls, data: Mapping[str, Any]) -> AttemptPlan:
        return cls(
            attempt=int(data["attempt"]),
            strategy=str(data["strategy"]),
            base=str(data["base"]),
            source=str(data["source"]),
            recommendations=list(data["recommendations"]),
            config=dict(data["config"]),
            extra=dict(data.get("extra") or {}),
        )

    def save(self, folder: Path, base_config: RunConfig) -> None:
        """plan.json and the commented optimization_config.yaml, each written atomically."""
        header = (
            f"Phase 4 attempt {self.attempt} ({self.strategy}): the {self.base} config with "
            f"{_ids(self.recommendations)} applied (from {self.source})."
        )
        config = like(base_config, self.config, source=f"attempt {self.attempt}'s plan")
        text = config_yaml(base_config, config, self.recommendations, header=header)
        atomic_write_text(folder / CONFIG_FILE, text)
        atomic_write_json(folder / PLAN_FILE, self.to_dict())

    @classmethod
    def load(cls, folder: Path) -> AttemptPlan | None:
        path = folder / PLAN_FILE
        return cls.from_dict(read_json(path)) if path.is_file() else None


def _ids(recommendations: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(str(r["id"]) for r in recommendations) or "no recommendation"


# ---- the commented config and the diff ------------------------------------------------------

def _one_line(text: str) -> str:
    return " ".join(text.split())


def change_notes(
    base: RunConfig, recommendations: Sequence[Mapping[str, Any]]
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
    base: RunConfig,
    config: RunConfig,
    recommendations: Sequence[Mapping[str, Any]],
    *,
    header: str = "",
) -> str:
    """`config` as YAML, each line a recommendation set commented; parses back to `config`."""
    notes = change_notes(base, recommendations)
    if not notes:
        header = f"{header}\nno setting differs from the base config".lstrip("\n")
    return commented_yaml(config.model_dump(mode="json"), notes, header=header)
