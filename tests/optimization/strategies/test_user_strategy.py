"""A user's strategy named as `module:Class` in the project file: used, or refused at init."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from phases.optimization.phase import optimize
from tests.conftest import tiny_config
from tests.optimization.helpers import FAKE_TRAINER, diagnosed_project, rec
from tests.optimization.strategies.user_strategy import SPEC
from workflow.cli import main

FAKE_CONFIG = tiny_config(training={"epochs": 8})
MODULE = "tests.optimization.strategies.user_strategy"


@pytest.fixture(autouse=True)
def one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHASEGATE_WORKERS", "1")


def test_a_user_strategy_runs_its_one_attempt_through_optimize(tmp_path: Path) -> None:
    # the rule: `strategy: module:Class` in the project is the strategy `optimize --strategy
    # auto` runs; its plan and run are used as they are, the loop decides and records. The
    # scripted trainer gains 5 points, the goal is met: A after exactly one attempt
    store = diagnosed_project(tmp_path, FAKE_CONFIG, [
        rec("R1", "HIGH", {"model.dropout": 0.3}),
        rec("R2", "HIGH", {"optimizer.weight_decay": 0.01}),
        rec("R3", "LOW", {"schedule.name": "cosine"}),
    ], goal=0.64, trainer=FAKE_TRAINER, strategy="targeted", project_strategy=SPEC)
    outcome = optimize(store, "auto", workers=1)

    assert outcome.decision == "A" and outcome.state == "optimized"
    assert outcome.strategy == SPEC and store.get("phase4.strategy") == SPEC
    [attempt] = outcome.attempts
    assert attempt.strategy == "one-shot"
    assert [r.id for r in attempt.recommendations] == ["R1"]  # OneShot's plan, not targeted's
    assert [c.path for c in attempt.changes] == ["model.dropout"]
    assert attempt.arm.seeds == [0, 1, 2]
    assert len(list((store.run_dir / "phase4").glob("attempt-*"))) == 1


@pytest.mark.parametrize("cls, words", [
    ("NoRun", "NoRun does not implement run of Strategy"),
    ("NotAStrategy", "NotAStrategy must derive from"),
    ("Missing", "has no attribute 'Missing'"),
])
def test_init_refuses_a_strategy_that_does_not_fit_the_base(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cls: str, words: str
) -> None:
    # the rule: a user's strategy is checked when the project is loaded: `init` refuses one
    # that lacks a method of the base (or is no Strategy at all) with one line naming what
    # is missing, exit 2, and writes no project folder
    (tmp_path / "baseline.yaml").write_text(yaml.safe_dump(tiny_config()))
    project = {"name": "p", "baseline": "baseline.yaml", "strategy": f"{MODULE}:{cls}"}
    (tmp_path / "project.yaml").write_text(yaml.safe_dump(project))
    runs = tmp_path / "runs"
    assert main(["init", "p", "--config", str(tmp_path / "project.yaml"), "--runs", str(runs)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and words in err and f"{MODULE}:{cls}" in err
    assert not (runs / "p").exists()


def test_init_accepts_a_user_strategy_that_fits(tmp_path: Path) -> None:
    # the counterpart: a class with both methods is accepted and recorded as the project's
    (tmp_path / "baseline.yaml").write_text(yaml.safe_dump(tiny_config()))
    project = {"name": "p", "baseline": "baseline.yaml", "strategy": SPEC}
    (tmp_path / "project.yaml").write_text(yaml.safe_dump(project))
    runs = tmp_path / "runs"
    assert main(["init", "p", "--config", str(tmp_path / "project.yaml"), "--runs", str(runs)]) == 0
    assert yaml.safe_load((runs / "p/project.yaml").read_text())["strategy"] == SPEC
