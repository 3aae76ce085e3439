"""Phase 4's loop with the store: decisions, transitions, files, facts, resumption.

Most tests drive a project built by helpers.diagnosed_project: the real trainer on a
tiny config where training must be real, the scripted trainer of fake_trainer where
a test needs exact outcomes round after round.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from phases.optimization import phase as phase_module
from phases.optimization.phase import optimize
from tests.conftest import tiny_config
from tests.optimization.helpers import (
    FAKE_TRAINER,
    REPO,
    child_env,
    diagnosed_project,
    rec,
)
from workflow.cli import main
from workflow.errors import GateFailed
from workflow.store import Store
from workflow.trainer.config import TrainConfig

FAKE_CONFIG = tiny_config(training={"epochs": 8})


@pytest.fixture(autouse=True)
def one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    # seeds train in this process: no spawned workers importing torch again (faster)
    monkeypatch.setenv("PHASEGATE_WORKERS", "1")


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_candidate_equal_to_the_baseline_is_c_never_a(tmp_path: Path) -> None:
    # the rule: a candidate that is the baseline config itself (a recommendation with no
    # changes, another setting a value the baseline already has) cannot be significant:
    # decision C, back to diagnosed, exit 1, the baseline config restored, the gate fails
    config = tiny_config()
    store = diagnosed_project(tmp_path, config, [
        rec("R1", "HIGH", {}),
        rec("R2", "HIGH", {"model.dropout": 0.0}),
        rec("R3", "LOW", {"schedule.name": "cosine"}),
    ], goal=0.0)  # a goal any run meets: only significance can stop an A
    runs = str(tmp_path / "runs")
    assert main(["optimize", store.name, "--strategy", "targeted", "--runs", runs]) == 1

    assert store.current == "diagnosed"
    assert store.get("phase4.decision") == "C"
    attempt = store.get("phase4.attempts")[0]
    assert [r["id"] for r in attempt["recommendations"]] == ["R1", "R2"]
    assert attempt["changes"] == []  # the candidate is the baseline config
    assert attempt["comparison"]["verdict"] == "not_significant"
    assert attempt["comparison"]["p_value"] >= 0.05
    assert store.get("phase4.training_completed") is False
    # nothing of the attempt becomes the current config; no optimized checkpoint is made
    kept = yaml.safe_load((store.run_dir / "phase4/optimization_config.yaml").read_text())
    assert TrainConfig.model_validate(kept) == TrainConfig.model_validate(config)
    assert not (store.run_dir / "phase4/checkpoints").exists()
    report = (store.run_dir / "phase4/optimization_results.md").read_text()
    assert "## Decision: C" in report and "not significant" in report
    assert main(["gate", "check", "optimization_complete", "--project", store.name,
                 "--runs", runs]) == 1
    transitions = [e["transition"] for e in store.events() if e["event"] == "transition"]
    assert transitions[-2:] == ["optimize", "revert"]


def test_iterative_stops_at_the_limit_and_reports_every_round(tmp_path: Path) -> None:
    # the rule: iterative re-diagnoses each attempt's runs and applies the next
    # recommendations; every attempt here gains 5 points (scripted), the goal is out of
    # reach, so it iterates (B) until the iteration limit: budget, optimized, flagged;
    # the report lists every round; Phase 3's own files are never touched
    store = diagnosed_project(tmp_path, FAKE_CONFIG, [
        rec("R1", "HIGH", {"model.dropout": 0.3}),
        rec("R2", "MEDIUM", {"optimizer.weight_decay": 0.01}),
        rec("R3", "LOW", {"schedule.name": "cosine"}),
    ], goal=0.99, iteration_limit=3, strategy="iterative", trainer=FAKE_TRAINER)
    phase3 = digest(store.run_dir / "phase3")
    outcome = optimize(store, "auto", workers=1)

    assert outcome.state == "optimized" and not outcome.refused
    attempts = store.get("phase4.attempts")
    assert [a["decision"] for a in attempts] == ["B", "B", "budget"]
    assert store.get("phase4.decision") == "budget" and store.get("phase4.flagged") is True
    assert [r["id"] for r in attempts[0]["recommendations"]] == ["R1"]  # HIGH only: a small step
    assert attempts[1]["source"] == "the diagnosis of attempt-1"
    # recommendation ids are unique within the project: attempt 2 applies attempt-1's A1-R*
    ids = [r["id"] for a in attempts for r in a["recommendations"]]
    assert all(i.startswith("A1-R") for i in (r["id"] for r in attempts[1]["recommendations"]))
    assert len(ids) == len(set(ids))
    assert [a["base"] for a in attempts] == ["baseline", "attempt-1", "attempt-2"]
    for k in (1, 2, 3):
        assert (store.run_dir / f"phase4/attempt-{k}/diagnosis/findings.json").is_file()
    report = (store.run_dir / "phase4/optimization_results.md").read_text()
    for k in (1, 2, 3):
        assert f"### Attempt {k} (iterative)" in report
    assert "Flagged" in report
    assert digest(store.run_dir / "phase3") == phase3
    # the kept config carries every round's changes, each commented against the baseline
    text = (store.run_dir / "phase4/optimization_config.yaml").read_text()
    assert "dropout: 0.3  # CHANGED: from 0.0 — R1 answers overfitting" in text
    assert store.get("phase4.best.attempt") == 3
    twin = json.loads((store.run_dir / "phase4/optimization_results.json").read_text())
    assert [r["attempt"] for r in twin["rounds"]] == [1, 2, 3]
    # a rerun on an optimized project changes nothing
    again = optimize(store, "auto", workers=1)
    assert again.decision == "budget" and len(store.get("phase4.attempts")) == 3


def test_targeted_accepts_when_the_target_is_met(tmp_path: Path) -> None:
    # the rule A: a significant gain that meets the goal: optimized, the kept attempt's
    # checkpoints copied, the optimization_complete gate passes on the recorded facts
    store = diagnosed_project(tmp_path, FAKE_CONFIG, [
        rec("R1", "HIGH", {"model.dropout": 0.3}),
        rec("R2", "LOW", {"optimizer.weight_decay": 0.01}),
        rec("R3", "LOW", {"schedule.name": "cosine"}),
    ], goal=0.64, trainer=FAKE_TRAINER)
    outcome = optimize(store, "targeted", workers=1)
    assert outcome.decision == "A" and outcome.state == "optimized"
    comparison = store.get("phase4.comparison")
    assert comparison["verdict"] == "significant" and comparison["arm"] == "attempt-1"
    assert store.get("phase4.target_met") is True and store.get("phase4.seeds") == 3
    best = store.run_dir / "phase4/checkpoints/optimized/best_model_optimized.pt"
    assert best.read_bytes().startswith(b"fake best checkpoint of seed")
    assert main(["gate", "check", "optimization_complete", "--project", store.name,
                 "--runs", str(tmp_path / "runs")]) == 0


def test_a_recorded_decision_is_moved_on_by_a_rerun(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # the rule: the decision is recorded before its transition; a kill between the two is
    # finished by the rerun, which takes the pending transition and trains nothing again
    store = diagnosed_project(tmp_path, FAKE_CONFIG, [
        rec("R1", "HIGH", {"model.dropout": 0.3}),
        rec("R2", "LOW", {"optimizer.weight_decay": 0.01}),
        rec("R3", "LOW", {"schedule.name": "cosine"}),
    ], goal=0.64, trainer=FAKE_TRAINER)
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("FAKE_CALLS", str(calls))
    real_take = phase_module.take

    def killed(store_: Store, name: str, who: str, why: str = "") -> object:
        if name == "accept":
            raise KeyboardInterrupt  # as if the process died right here
        return real_take(store_, name, who, why)

    monkeypatch.setattr(phase_module, "take", killed)
    with pytest.raises(KeyboardInterrupt):
        optimize(store, "targeted", workers=1)
    assert store.current == "optimizing" and store.get("phase4.pending_transition") == "accept"
    trained = calls.read_text().count("\n")
    monkeypatch.setattr(phase_module, "take", real_take)
    outcome = optimize(store, "auto", workers=1)
    assert outcome.state == "optimized" and outcome.decision == "A"
    assert calls.read_text().count("\n") == trained == 3
    assert store.get("phase4.pending_transition") is None


def test_time_budget_ends_phase4_flagged(tmp_path: Path) -> None:
    # the rule budget: once the time budget is used, a significant gain short of the goal
    # ends Phase 4 (optimized, flagged) instead of iterating
    store = diagnosed_project(tmp_path, FAKE_CONFIG, [
        rec("R1", "HIGH", {"model.dropout": 0.3}),
        rec("R2", "LOW", {"optimizer.weight_decay": 0.01}),
        rec("R3", "LOW", {"schedule.name": "cosine"}),
    ], goal=0.99, trainer=FAKE_TRAINER)
    project_file = store.run_dir / "project.yaml"
    data = yaml.safe_load(project_file.read_text())
    data["time_budget_minutes"] = 1e-9
    project_file.write_text(yaml.safe_dump(data))
    outcome = optimize(store, "targeted", workers=1)
    assert outcome.decision == "budget" and len(outcome.attempts) == 1
    assert "minutes of the time budget are used" in str(outcome.reason)


def test_entry_is_refused_when_the_diagnostics_gate_fails(tmp_path: Path) -> None:
    # the rule: Phase 4 is entered only through diagnostics_complete; a failing gate
    # changes nothing (still diagnosed, nothing trained) and names the failing item
    store = diagnosed_project(tmp_path, tiny_config(), [
        rec("R1", "HIGH", {"model.dropout": 0.3}),
        rec("R2", "LOW", {"optimizer.weight_decay": 0.01}),
        rec("R3", "LOW", {"schedule.name": "cosine"}),
    ])
    (store.run_dir / "phase3/findings.json").unlink()
    with pytest.raises(GateFailed, match="findings_file"):
        optimize(store, "targeted", workers=1)
    assert store.current == "diagnosed"
    assert not (store.run_dir / "phase4/attempt-1/seed-0").exists()
    assert main(["optimize", store.name, "--runs", str(tmp_path / "runs")]) == 1


def test_killed_optimize_resumes_without_retraining_finished_seeds(tmp_path: Path) -> None:
    # the rule: kill `phasegate optimize` (SIGKILL) once a seed of the attempt has finished;
    # the rerun resumes the same attempt: the finished seeds are not trained again (their
    # metrics.json keeps its inode and mtime), the others are, and the decision is recorded
    store = diagnosed_project(tmp_path, tiny_config(), [
        rec("R1", "HIGH", {"model.dropout": 0.2, "training.epochs": 80}),
        rec("R2", "LOW", {"optimizer.weight_decay": 0.01}),
        rec("R3", "LOW", {"schedule.name": "cosine"}),
    ])
    attempt = store.run_dir / "phase4/attempt-1"
    command = [sys.executable, "-m", "workflow", "optimize", store.name, "--strategy",
               "targeted", "--runs", str(tmp_path / "runs")]
    child = subprocess.Popen(command, cwd=REPO, env=child_env({"PHASEGATE_WORKERS": "1"}),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not list(attempt.glob("seed-*/metrics.json")):
            assert child.poll() is None, "optimize ended before a seed finished"
            assert time.monotonic() < deadline, "no seed finished in time"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    done = {p.parent.name: os.stat(p) for p in attempt.glob("seed-*/metrics.json")}
    assert 1 <= len(done) < 3, f"the kill came after {len(done)} seeds"
    assert store.current == "optimizing" and store.get("phase4.decision") is None

    rerun = subprocess.run(command, cwd=REPO, env=child_env({"PHASEGATE_WORKERS": "1"}),
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode in (0, 1), rerun.stderr
    assert "resuming: seeds" in rerun.stderr  # progress goes to stderr (issue 15)
    for name, before in done.items():
        after = os.stat(attempt / name / "metrics.json")
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert len(list(attempt.glob("seed-*/metrics.json"))) == 3
    assert store.get("phase4.decision") in ("A", "B", "C", "D", "budget")
    entered = [e for e in store.events()
               if e["event"] == "transition" and e["transition"] == "optimize"]
    assert len(entered) == 1  # the rerun resumed Phase 4, it did not enter it again
