"""Projects ready for Phase 4, built without Phase 3's commands: exact recommendations.

`diagnosed_project` trains the baseline on every seed (the real trainer on a tiny
config, or the scripted one of fake_trainer), records the facts and writes the files
the diagnostics_complete gate checks, with the recommendations a test chooses, and
takes the `diagnose` transition. The Phase 3 commands themselves are exercised by
the acceptance test.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from workflow.io import atomic_write_json, atomic_write_text
from workflow.machine import take
from workflow.project import load_project
from workflow.runner import train_seeds
from workflow.stats import summarize
from workflow.store import Store
from workflow.trainer.config import TrainConfig

REPO = Path(__file__).resolve().parents[2]
FAKE_TRAINER = "tests.optimization.fake_trainer:fit"


def rec(
    rid: str, priority: str, changes: dict[str, Any], *, finding: str = "overfitting",
    gain: tuple[float, float] = (1.0, 3.0),
) -> dict[str, Any]:
    """A recommendation as Phase 3 records it in phase3.recommendations."""
    return {
        "id": rid,
        "name": f"change_{rid.lower()}",
        "priority": priority,
        "changes": changes,
        "expected_gain": list(gain),
        "finding": finding,
    }


def diagnosed_project(
    tmp_path: Path,
    config: dict[str, Any],
    recommendations: Sequence[dict[str, Any]],
    *,
    name: str = "p4",
    seeds: Sequence[int] = (0, 1, 2),
    goal: float | None = None,
    iteration_limit: int = 3,
    strategy: str = "targeted",
    trainer: str = "builtin",
    min_effect: float = 0.01,
    project_strategy: str = "auto",
) -> Store:
    """A project in state `diagnosed` whose Phase 3 recommends exactly `recommendations`.

    `strategy` is what Phase 3 chose (phase3.strategy); `project_strategy` the project
    file's `strategy:`.
    """
    (tmp_path / "baseline.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    project = {
        "name": name,
        "baseline": "baseline.yaml",
        "target": {"metric": "val_accuracy", "direction": "maximize", "goal": goal},
        "seeds": list(seeds),
        "fresh_seeds": [100 + s for s in seeds],
        "min_effect": min_effect,
        "alpha": 0.05,
        "iteration_limit": iteration_limit,
        "strategy": project_strategy,
        "trainer": trainer,
    }
    (tmp_path / "project.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    store = Store.create(
        load_project(tmp_path / "project.yaml"), tmp_path / "runs", start="baseline",
        project_dir=tmp_path, who="test",
    )
    runs = train_seeds(
        TrainConfig.model_validate(config), list(seeds), store.run_dir / "baseline",
        trainer=trainer, workers=1,
    )
    values = [r.best["val_accuracy"] for r in runs.values()]
    summary = summarize(values)
    store.record("baseline", {
        "completed": True, "seeds": len(values), "source": "trained",
        "val_accuracy": {"mean": summary.mean, "std": summary.std},
    })
    phase3 = store.run_dir / "phase3"
    atomic_write_text(phase3 / "diagnostic_report.md", "# diagnostic report (test)\n")
    atomic_write_json(phase3 / "findings.json", {"findings": [], "plan": {
        "recommendations": [{**r, "title": f"Title of {r['id']}",
                             "rationale": f"because {r['id']}"} for r in recommendations]}})
    atomic_write_text(phase3 / "optimization_config.preview.yaml", "name: preview\n")
    store.record("phase3", {
        "findings_count": 1,
        "strategy": strategy,
        "potential": 10.0,
        "recommendations_count": len(recommendations),
        "recommendations": list(recommendations),
        "search_space": {},
    })
    take(store, "diagnose", "test", "crafted Phase 3")
    return store


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child phasegate: this repo importable, one worker (no spawn)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.setdefault("PHASEGATE_WORKERS", "1")
    env.update(extra or {})
    return env
