"""Shared fixtures of the CLI's tests: a working folder with a project file, and the CLI.

Projects are walked to a phase by recording facts and files through the Store API,
as the phases would (tests.test_cli_engine's helpers): no training, except where a
test says it trains.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import tiny_config
from tests.test_cli_engine import record_baseline, record_diagnosis, record_optimization
from workflow.cli import main
from workflow.machine import take
from workflow.store import RUNS_ENV, Store

CLI = Callable[..., tuple[int, str, str]]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder: proj/project.yaml (project `demo`, goal 0.97) and a tiny baseline."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(RUNS_ENV, raising=False)
    monkeypatch.setenv("PHASEGATE_WORKERS", "1")
    write_project(tmp_path / "proj")
    return tmp_path


def write_project(folder: Path, baseline: dict | None = None, **fields: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "baseline.yaml").write_text(yaml.safe_dump(baseline or tiny_config()))
    project = {"name": "demo", "baseline": "baseline.yaml", "target": {"goal": 0.97},
               "seeds": [0, 1, 2], "fresh_seeds": [100, 101, 102], **fields}
    (folder / "project.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    return folder / "project.yaml"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> CLI:
    """Run `phasegate ARGV` in this process: (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def optimized(home: Path, cli: CLI, *, decision: str = "D") -> Store:
    """`init` the project `demo`, then walk it to `optimized` by Phase 4's `decision`."""
    assert cli("init", "demo", "--config", "proj/project.yaml")[0] == 0
    store = Store.open("demo", home / "runs")
    record_baseline(store)
    take(store, "diagnose", "test")
    record_diagnosis(store)
    take(store, "optimize", "test")
    record_optimization(store, decision=decision)
    take(store, {"A": "accept", "D": "ceiling", "budget": "budget"}[decision], "test")
    return store
