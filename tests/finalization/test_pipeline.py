"""The walk's own rules, with Phase 3 and 4 stood in for (no training): revert loop, --until."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from phases.finalization.training import baseline_selection
from phases.pipeline import run_project, stop_state
from tests.conftest import tiny_config
from tests.finalization.helpers import create
from workflow.errors import ConfigError
from workflow.facts import Facts, parse_facts, read_facts
from workflow.machine import MACHINE, take
from workflow.store import Store


def _diagnosed(tmp_path: Path, **project: Any) -> Store:
    """A project in diagnosed whose diagnostics_complete gate passes (strategy targeted)."""
    store = create(tmp_path / "proj", tmp_path / "runs", start="diagnosed", **project)
    store.record("baseline", {"completed": True, "seeds": 3,
                              "val_accuracy": {"mean": 0.5, "std": 0.01}})
    store.record("phase3", {"findings_count": 1, "strategy": "targeted", "potential": 10.0,
                            "recommendations_count": 3})
    for name in ("diagnostic_report.md", "findings.json", "optimization_config.preview.yaml"):
        (store.run_dir / "phase3").mkdir(exist_ok=True)
        (store.run_dir / "phase3" / name).write_text(f"{name}\n")
    return store


@pytest.fixture
def phases(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Phase 4 always answers C (revert); Phase 3's re-diagnosis only logs itself."""
    calls = {"optimize": 0, "diagnose": 0}

    def optimize(store: Store, strategy: str = "auto", **_: Any) -> Any:
        calls["optimize"] += 1
        take(store, "optimize", "test")
        store.record("phase4", {"decision": "C", "reason": "the attempt gained nothing"})
        take(store, "revert", "test")
        return SimpleNamespace(decision="C", reason="the attempt gained nothing",
                               state=store.current)

    def run_diagnose(store: Store, **_: Any) -> Any:
        calls["diagnose"] += 1
        store.append_event("rediagnosed", {"who": "test"})
        plan = SimpleNamespace(strategy="targeted", strategy_reason="stand-in", potential=10.0)
        return SimpleNamespace(findings=[], plan=plan), store.run_dir / "phase3/report.md"

    monkeypatch.setattr("phases.optimization.phase.optimize", optimize)
    monkeypatch.setattr("phases.diagnostic.phase.run_diagnose", run_diagnose)
    return calls


# rule: after decision C the walk re-diagnoses and tries again, until Phase 4 has been
# reverted as many times as the iteration limit; then it stops, refused, saying why
def test_reverts_stop_at_the_iteration_limit(tmp_path: Path, phases: dict[str, int]) -> None:
    store = _diagnosed(tmp_path, iteration_limit=2)
    outcome = run_project(tmp_path / "proj/project.yaml", runs=tmp_path / "runs")
    assert outcome.status == "refused" and outcome.state == "diagnosed"
    assert "reverted 2 times" in outcome.reason and "iteration limit (2)" in outcome.reason
    assert "the attempt gained nothing" in outcome.reason
    assert phases == {"optimize": 2, "diagnose": 1}
    assert store.current == "diagnosed"


# rule: --until stops the walk once the project has reached the named phase (and a project
# already past it is not moved); an unknown phase is bad input
def test_until_stops_early(tmp_path: Path, phases: dict[str, int]) -> None:
    _diagnosed(tmp_path)
    for until in ("baseline", "phase3", "diagnosed"):
        outcome = run_project(tmp_path / "proj/project.yaml", runs=tmp_path / "runs",
                              until=until)
        assert (outcome.status, outcome.state) == ("stopped", "diagnosed")
    assert phases == {"optimize": 0, "diagnose": 0}
    assert stop_state("phase4") == "optimized" and stop_state("Phase5") == "finalized"
    with pytest.raises(ConfigError, match="not a phase"):
        stop_state("phase6")


# rule: a baseline imported without weights is represented on the test set by its median
# seed, trained once with the baseline config into phase5/baseline/, and the record says so
def test_an_imported_baseline_is_retrained_once(finalized: Store, tmp_path: Path) -> None:
    store = create(tmp_path / "proj", tmp_path / "runs", start="optimized",
                   baseline=tiny_config())
    for seed in (0, 1, 2):
        target = store.run_dir / f"baseline/seed-{seed}"
        target.mkdir(parents=True)
        shutil.copy(finalized.run_dir / f"baseline/seed-{seed}/history.csv", target)
    store.record("baseline", {"seed_list": [0, 1, 2]})
    selection = baseline_selection(store)
    assert selection.seed == finalized.get("phase5.baseline_selection.seed")
    assert Path(selection.checkpoint).is_file()
    assert Path(selection.checkpoint).is_relative_to(store.run_dir / "phase5/baseline")
    assert "imported without weights" in selection.why


# rule: the walk runs an action for every action of the phase graph, and --until accepts
# the graph's words: a state, a phase or its action (which stop where that work ends)
def test_the_walk_knows_every_action_of_the_graph() -> None:
    from phases.pipeline import _ACTIONS

    assert set(_ACTIONS) == set(MACHINE.actions)
    assert stop_state("optimize") == "optimized" and stop_state("promotion") == "promoted"
    assert stop_state("optimizing") == "optimizing" and stop_state(None) is None


# rule: when Phase 3 chose skip, the walk takes the skip itself (the graph's auto move) and
# Phase 4 never runs; the facts say how optimized was entered
def test_skip_is_taken_by_the_walk(tmp_path: Path, phases: dict[str, int]) -> None:
    store = _diagnosed(tmp_path)
    store.record("phase3", {"strategy": "skip", "potential": 1.0, "recommendations_count": 0})
    outcome = run_project(tmp_path / "proj/project.yaml", runs=tmp_path / "runs",
                          until="phase4")
    assert (outcome.status, outcome.state) == ("stopped", "optimized")
    assert phases == {"optimize": 0, "diagnose": 0}
    entry = read_facts(store).moves.entry("optimized")
    assert entry is not None and entry.transition == "skip"


# rule: a re-diagnosis after a revert may choose skip: the walk then skips, it does not
# send Phase 4 a project Phase 3 chose to skip
def test_a_rediagnosis_may_skip(
    tmp_path: Path, phases: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    def run_diagnose(store: Store, **_: Any) -> Any:
        phases["diagnose"] += 1
        store.record("phase3", {"strategy": "skip", "potential": 1.0,
                                "recommendations_count": 0})
        plan = SimpleNamespace(strategy="skip", strategy_reason="stand-in", potential=1.0)
        return SimpleNamespace(findings=[], plan=plan), store.run_dir / "phase3/report.md"

    monkeypatch.setattr("phases.diagnostic.phase.run_diagnose", run_diagnose)
    store = _diagnosed(tmp_path, iteration_limit=3)
    outcome = run_project(tmp_path / "proj/project.yaml", runs=tmp_path / "runs",
                          until="optimized")
    assert (outcome.status, outcome.state) == ("stopped", "optimized")
    assert phases == {"optimize": 1, "diagnose": 1}
    moves = read_facts(store).moves
    assert moves.counts == {"optimize": 1, "revert": 1, "skip": 1}


# rule: a step that changes neither the state nor the facts stops the walk, refused, instead
# of looping forever
def test_a_step_that_changes_nothing_stops_the_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    monkeypatch.setattr("phases.optimization.phase.optimize",
                        lambda store, strategy="auto", **_: calls.append(strategy))
    _diagnosed(tmp_path)
    outcome = run_project(tmp_path / "proj/project.yaml", runs=tmp_path / "runs")
    assert (outcome.status, outcome.state) == ("refused", "diagnosed")
    assert "the last step changed nothing" in outcome.reason
    assert calls == ["auto"]


# rule: the project came back to diagnosed by a revert and Phase 3 has not diagnosed since
# (read from the facts: how diagnosed was entered, and when Phase 3 last completed)
def test_reverted_since_diagnosis() -> None:
    from phases.pipeline import _reverted_since_diagnosis

    def facts(transition: str, diagnosed_at: str | None) -> Facts:
        entry = {"transition": transition, "source": "optimizing",
                 "at": "2026-01-01T10:00:00+00:00", "move": 3}
        return parse_facts({"moves": {"taken": 3, "entered": {"diagnosed": entry}},
                            "phase3": {"completed_at": diagnosed_at}})

    assert _reverted_since_diagnosis(facts("revert", "2026-01-01T09:00:00+00:00"))
    assert _reverted_since_diagnosis(facts("revert", None))
    assert not _reverted_since_diagnosis(facts("revert", "2026-01-01T10:00:01+00:00"))
    assert not _reverted_since_diagnosis(facts("diagnose", "2026-01-01T09:00:00+00:00"))
    assert not _reverted_since_diagnosis(parse_facts({}))
