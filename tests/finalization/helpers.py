"""Tiny projects for Phase 5's tests: a few hundred digits, an MLP of width 32, 3 seeds, CPU."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import tiny_config
from workflow.machine import take
from workflow.project import load_project
from workflow.store import Store

# an lr ten times too low for three epochs: Phase 3 names it, and Phase 4's first attempt
# fixes it by tens of points, significantly, past the goal (decision A)
UNDERTUNED = tiny_config(optimizer={"name": "sgd", "lr": 0.001, "momentum": 0.9},
                         training={"epochs": 3})
SLOW_TRAINER = "tests.finalization.slow_trainer:fit"


def write_project(
    folder: Path, *, name: str = "tiny", baseline: dict[str, Any] | None = None,
    goal: float = 0.5, **extra: Any,
) -> Path:
    """folder/project.yaml and its baseline.yaml; returns the project file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "baseline.yaml").write_text(yaml.safe_dump(baseline or UNDERTUNED))
    project = {
        "name": name,
        "baseline": "baseline.yaml",
        "target": {"metric": "val_accuracy", "goal": goal},
        "seeds": [0, 1, 2],
        "fresh_seeds": [100, 101, 102],
        **extra,
    }
    (folder / "project.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    return folder / "project.yaml"


def create(folder: Path, runs: Path, *, start: str = "baseline", **project: Any) -> Store:
    """A new project's store in state `start` (nothing trained)."""
    project_file = write_project(folder, **project)
    return Store.create(load_project(project_file), runs, start=start, project_dir=folder,
                        who="test")


def skipped_project(folder: Path, runs: Path) -> Store:
    """A project that Phase 3 sent straight to optimized (skip), its baseline trained."""
    return skip_to_optimized(create(folder, runs, baseline=tiny_config()))


def skip_to_optimized(store: Store) -> Store:
    """A new project's baseline trained, and Phase 3 sending it straight to optimized (skip)."""
    from phases.diagnostic.phase import run_baseline

    run_baseline(store, workers=1, who="test")
    take(store, "diagnose", "test")
    (store.run_dir / "phase3").mkdir()
    (store.run_dir / "phase3" / "diagnostic_report.md").write_text("# a diagnosis\n")
    (store.run_dir / "phase3" / "findings.json").write_text("{}\n")
    store.record("phase3", {"findings_count": 0, "strategy": "skip", "potential": 1.0,
                            "recommendations_count": 0})
    take(store, "skip", "test")
    return store


def copy_runs(runs: Path, target: Path) -> Path:
    """A private copy of a runs folder, so a test may change it."""
    shutil.copytree(runs, target)
    return target


def empty_values(markdown: str) -> list[str]:
    """Lines of a rendered report that show a missing value: None, nan, a leftover {{ }},
    or an empty cell in a table's body (a header's corner cell may be blank)."""
    bad = [line for line in markdown.splitlines()
           if re.search(r"\bNone\b|\bnan\b|\{\{|\}\}", line)]
    table: list[str] = []
    for line in [*markdown.splitlines(), ""]:
        if line.strip().startswith("|"):
            table.append(line.strip())
            continue
        for row in table[2:]:  # the header and its separator are not the body
            if any(cell.strip() == "" for cell in row.strip("|").split("|")):
                bad.append(row)
        table = []
    return bad
