"""The sweep strategy: a search first, its chosen candidate decided like any attempt."""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import phases.optimization.sweep as sweep
from phases.optimization.phase import optimize
from tests.conftest import tiny_config
from tests.optimization.helpers import FAKE_TRAINER, diagnosed_project, rec
from workflow.cli import main
from workflow.errors import ConfigError
from workflow.progress import QuietProgress

FAKE_CONFIG = tiny_config(training={"epochs": 8})
SHORT_CONFIG = tiny_config(training={"epochs": 3})
# Phase 3's plan in every test here: one HIGH change and two LOW ones
THREE_RECS = [
    rec("R1", "HIGH", {"model.dropout": 0.3}),
    rec("R2", "LOW", {"optimizer.weight_decay": 0.01}),
    rec("R3", "LOW", {"schedule.name": "cosine"}),
]


@pytest.fixture(autouse=True)
def one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    # seeds train in this process: no spawned workers importing torch again (faster)
    monkeypatch.setenv("PHASEGATE_WORKERS", "1")


class Heard(QuietProgress):
    """A progress display that remembers the trials and steps it was told of."""

    def __init__(self) -> None:
        self.trials: list[tuple[int, str]] = []
        self.steps: list[str] = []

    def trial(self, number: int, state: str, value: float | None) -> None:
        self.trials.append((number, state))

    def step(self, phase: str, text: str) -> None:
        self.steps.append(text)


def test_sweep_refuses_in_one_line_without_run_sweep(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # the hook: --strategy sweep needs phases.optimization.sweep.run_sweep; without it the
    # command refuses before anything changes
    store = diagnosed_project(tmp_path, FAKE_CONFIG, THREE_RECS, trainer=FAKE_TRAINER)
    monkeypatch.setitem(sys.modules, "phases.optimization.sweep",
                        types.ModuleType("phases.optimization.sweep"))
    with pytest.raises(ConfigError, match="exposes no run_sweep") as refusal:
        optimize(store, "sweep", workers=1)
    assert "\n" not in str(refusal.value)
    assert store.current == "diagnosed"


def test_sweep_hook_decides_its_winner_like_any_attempt(tmp_path: Path) -> None:
    # the hook: --strategy sweep hands Phase 3's search space to the sweep package; its
    # candidate chosen on the fresh seeds is measured on the project's seeds (which chose
    # nothing: no winner's curse) and that arm is the attempt's: decided, recorded and
    # reported like any other, the sweep section included
    store = diagnosed_project(tmp_path, SHORT_CONFIG, THREE_RECS,
                              goal=0.64, strategy="sweep", trainer=FAKE_TRAINER)
    store.record("phase3", {"search_space": {
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.5}}})
    outcome = optimize(store, "auto", workers=1,
                       sweep_settings={"trials": 2, "top_k": 1, "method": "random"})
    assert outcome.decision == "A" and outcome.state == "optimized"
    attempt = store.get("phase4.attempts")[0]
    assert attempt["strategy"] == "sweep" and attempt["recommendations"][0]["id"] == "T0"
    assert attempt["arm"]["seeds"] == [0, 1, 2]  # measured on the project's seeds
    reruns = list((store.run_dir / "phase4/attempt-1/sweep/rerun").glob("trial-*/seed-*"))
    assert sorted({p.name for p in reruns}) == ["seed-100", "seed-101", "seed-102"]  # chosen on
    comparison = store.get("phase4.comparison")
    assert comparison["correction"] == "none" and comparison["test"] == "paired t"
    report = (store.run_dir / "phase4/optimization_results.md").read_text()
    assert "## Sweep: random search" in report


def test_optimize_sweep_takes_space_method_and_trials_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the CLI of issue 6: `optimize --strategy sweep --space FILE --method M --trials N`
    # searches the file's space (Phase 3 recorded none here) with that method and budget;
    # a bad space file, or sweep options with another strategy, is one line and exit 2
    # before anything changes
    store = diagnosed_project(tmp_path, SHORT_CONFIG, THREE_RECS,
                              goal=0.64, trainer=FAKE_TRAINER)
    runs = str(tmp_path / "runs")
    bad = tmp_path / "bad_space.yaml"
    bad.write_text("optimizer.lr: {type: float, low: 0, high: 0.1, log: true}\n")
    assert main(["optimize", store.name, "--strategy", "sweep", "--space", str(bad),
                 "--runs", runs]) == 2
    assert capsys.readouterr().err.strip() == (
        f"phasegate: {bad}: optimizer.lr.low: a log range must stay above zero, but got low=0.0"
    )
    assert main(["optimize", store.name, "--strategy", "targeted", "--trials", "2",
                 "--runs", runs]) == 2
    assert "apply to --strategy sweep" in capsys.readouterr().err
    assert store.current == "diagnosed"

    space = tmp_path / "space.yaml"
    space.write_text("model.dropout: {type: float, low: 0.0, high: 0.5}\n")
    assert main(["optimize", store.name, "--strategy", "sweep", "--space", str(space),
                 "--method", "random", "--trials", "2", "--runs", runs]) == 0
    attempt = store.get("phase4.attempts")[0]
    assert attempt["strategy"] == "sweep" and attempt["source"] == "--space"
    assert attempt["sweep"]["method"] == "random"
    trials = (store.run_dir / "phase4/attempt-1/sweep/trials.csv").read_text().splitlines()
    assert len(trials) == 1 + 2


def test_the_sweep_is_given_the_commands_workers_and_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the bug this strategy fixed: a keyword filter dropped `workers` and the progress
    # hook on their way to run_sweep, so --workers and the sweep's progress did nothing;
    # now run_sweep gets both, and the display hears of every trial
    store = diagnosed_project(tmp_path, SHORT_CONFIG, THREE_RECS,
                              goal=0.64, strategy="sweep", trainer=FAKE_TRAINER)
    store.record("phase3", {"search_space": {
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.5}}})
    given: dict[str, Any] = {}
    real = sweep.run_sweep

    def spy(*args: Any, **kwargs: Any) -> Any:
        given.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep, "run_sweep", spy)
    heard = Heard()
    outcome = optimize(store, "auto", workers=1, progress=heard,
                       sweep_settings={"trials": 2, "top_k": 1, "method": "random"})
    assert outcome.decision == "A"
    assert given["workers"] == 1 and given["progress"] is heard
    settings: Mapping[str, Any] = given["settings"].model_dump()
    assert settings["trials"] == 2 and settings["monitor"] == "val_accuracy"
    assert sorted(n for n, _ in heard.trials) == [0, 1]
    assert any("sweep over model.dropout" in text for text in heard.steps)


def test_optimize_takes_a_users_sampler_and_refuses_a_bad_one_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --method and --pruner take a built-in name or a module:Class; an unknown name or a
    # class that does not fit Optuna's base is one line, exit 2, before anything changes
    store = diagnosed_project(tmp_path, SHORT_CONFIG, THREE_RECS,
                              trainer=FAKE_TRAINER)
    runs = str(tmp_path / "runs")
    space = tmp_path / "space.yaml"
    space.write_text("model.dropout: {type: float, low: 0.0, high: 0.5}\n")
    base = ["optimize", store.name, "--strategy", "sweep", "--space", str(space),
            "--trials", "2", "--runs", runs]
    for method, says in (("nosuch", "nosuch"),
                         ("tests.optimization.sweep.extensions:HalfASampler", "HalfASampler")):
        assert main([*base, "--method", method]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err
        assert store.current == "diagnosed"
    assert main([*base, "--method", "tests.optimization.sweep.extensions:SeededRandomSampler",
                 "--pruner", "tests.optimization.sweep.extensions:EveryOtherPruner"]) == 0
    attempt = store.get("phase4.attempts")[0]
    assert attempt["sweep"]["method"] == "tests.optimization.sweep.extensions:SeededRandomSampler"


def test_a_sweep_without_a_search_space_is_refused_not_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Phase 3 chose iterative and recorded no search space: `optimize --strategy sweep`
    # used to run a targeted attempt and exit 0 without a word. It is one line, exit 2,
    # saying how to give a space, and the project stays where it was
    store = diagnosed_project(tmp_path, SHORT_CONFIG, THREE_RECS,
                              strategy="iterative", trainer=FAKE_TRAINER)
    assert not store.get("phase3.search_space", None)  # Phase 3 wrote no space
    assert main(["optimize", store.name, "--strategy", "sweep", "--method", "bayesian",
                 "--trials", "8", "--runs", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs a search space" in err and "--space FILE" in err
    assert store.current == "diagnosed" and store.get("phase4.attempts", []) == []


def test_a_sweep_after_reopen_searches_around_the_kept_arm(tmp_path: Path) -> None:
    # after `reopen`, `optimize --strategy sweep --space FILE` searches the given space
    # around the arm kept before (not a silent targeted attempt because one was kept)
    store = diagnosed_project(tmp_path, SHORT_CONFIG, THREE_RECS, goal=0.64,
                              trainer=FAKE_TRAINER)
    assert optimize(store, "targeted", workers=1).decision == "A"
    runs = str(store.run_dir.parent)
    assert main(["reopen", store.name, "--phase", "4", "--by", "ana", "--why", "a sweep",
                 "--runs", runs]) == 0
    space = {"model.dropout": {"type": "float", "low": 0.0, "high": 0.5}}
    optimize(store, "sweep", workers=1, space=space,
             sweep_settings={"trials": 2, "top_k": 1, "method": "random"})
    attempts = store.get("phase4.attempts")
    assert [a["strategy"] for a in attempts] == ["targeted", "sweep"]
    assert attempts[1]["base"] == "attempt-1"
