"""workflow.cli.engine: init, status, gate check/sign and advance, driven as a user would.

Facts are recorded by the tests through the Store API, as the phases would: no
training runs here. Most tests call `workflow.cli.main` in-process for speed; a
few run `python -m workflow` in a subprocess (startup time, torch, concurrency).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import hold_lock
from workflow.cli import main
from workflow.store import RUNS_ENV, Store

PROJECT = "name: anything\nbaseline: baseline.yaml\ntarget: {goal: 0.97}\n"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder holding proj/project.yaml and its baseline; runs/ is created by init."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(RUNS_ENV, raising=False)
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "baseline.yaml").write_text("name: b\n")
    (tmp_path / "proj" / "project.yaml").write_text(PROJECT)
    return tmp_path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def store(home: Path, capsys: pytest.CaptureFixture[str]) -> Store:
    assert cli(capsys, "init", "demo", "--config", "proj/project.yaml")[0] == 0
    return Store.open("demo", home / "runs")


def files(store: Store, *paths: str) -> None:
    for rel in paths:
        (store.run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (store.run_dir / rel).write_text(f"content of {rel}\n")


def record_baseline(store: Store) -> None:
    store.record("baseline", {"completed": True, "seeds": 5,
                              "val_accuracy": {"mean": 0.92, "std": 0.01}})


def record_diagnosis(store: Store, **overrides: Any) -> None:
    store.record("phase3", {"findings_count": 2, "strategy": "targeted", "potential": 4.0,
                            "recommendations_count": 4, **overrides})
    files(store, "phase3/diagnostic_report.md", "phase3/findings.json",
          "phase3/optimization_config.preview.yaml")


def record_optimization(store: Store, decision: str = "A") -> None:
    store.record("phase4", {
        "training_completed": True, "seeds": 5, "decision": decision, "target_met": True,
        "comparison": {"verdict": "significant", "p_value": 0.004, "ci_low": 0.012,
                       "ci_high": 0.04, "mean_diff": 0.025},
    })
    files(store, "phase4/optimization_config.yaml", "phase4/optimization_results.md",
          "phase4/checkpoints/optimized/best_model_optimized.pt",
          "phase4/checkpoints/optimized/last_model_optimized.pt")


def record_finalization(store: Store, final_mean: float = 0.975) -> None:
    """Phase 5's facts and files; the final seeds' mean meets the goal (0.97) by default."""
    mcnemar = {"n": 200, "accuracy_a": 0.90, "accuracy_b": 0.94, "b": 3, "c": 11,
               "statistic": 4.57, "p_value": 0.03, "method": "chi2", "model_a": "baseline",
               "model_b": "final"}
    store.record("phase5", {"completed": True, "final_training_completed": True,
                            "test_evaluations": 1, "mcnemar": mcnemar,
                            "test": {"n": 200, "task": "classification", "final_accuracy": 0.94,
                                     "baseline_accuracy": 0.90},
                            "final": {"runs": 5, "seeds": 5,
                                      "val_accuracy": {"mean": final_mean, "std": 0.01}}})
    files(store, "phase5/test_metrics.json", "phase5/finalization_report.md",
          "phase5/model/model.pt", "phase5/model/model_torchscript.pt")


def status(capsys: pytest.CaptureFixture[str], name: str = "demo") -> dict[str, Any]:
    code, out, _ = cli(capsys, "status", name, "--json")
    assert code == 0
    data: dict[str, Any] = json.loads(out)
    return data


# rule: the whole workflow, end to end: each gate blocks with the item's reason until the
# missing fact or sign-off is recorded, and the project walks from baseline to promoted
def test_walk_from_baseline_to_promoted(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert status(capsys)["state"] == "baseline"
    code, _, err = cli(capsys, "advance", "demo")
    assert code == 1 and "baseline.completed is not recorded" in err

    record_baseline(store)
    assert cli(capsys, "advance", "demo")[0] == 0 and store.current == "diagnosed"

    record_diagnosis(store, recommendations_count=2)
    code, _, err = cli(capsys, "advance", "demo")
    assert code == 1
    assert "recommendations [fail]: phase3.recommendations_count = 2 >= 3" in err
    assert store.current == "diagnosed"
    store.record("phase3", {"recommendations_count": 3})
    code, out, _ = cli(capsys, "advance", "demo", "--by", "Ada", "--why", "diagnosis read")
    assert code == 0 and "diagnosed -> optimizing (optimize)" in out

    code, _, err = cli(capsys, "advance", "demo")
    assert code == 1 and "phase4.decision is not recorded" in err
    record_optimization(store, decision="A")
    assert cli(capsys, "advance", "demo")[0] == 0 and store.current == "optimized"

    store.record("phase5", {"completed": True})
    assert cli(capsys, "advance", "demo")[0] == 0 and store.current == "finalized"

    record_finalization(store)
    code, _, err = cli(capsys, "advance", "demo")
    assert code == 1 and "model_card_reviewed [pending]: waiting for a sign-off" in err
    code, _, _ = cli(capsys, "gate", "sign", "finalization_complete", "model_card_reviewed",
                     "--project", "demo", "--by", "Ada", "--note", "read it")
    assert code == 0
    assert cli(capsys, "advance", "demo")[0] == 0

    final = status(capsys)
    assert final["state"] == "promoted" and final["final"] is True
    assert all(g["status"] == "pass" for g in final["gates"].values())
    moves = [(e["transition"], e["who"]) for e in store.events() if e["event"] == "transition"]
    assert [m for m, _ in moves] == ["diagnose", "optimize", "accept", "finalize", "promote"]
    assert ("optimize", "Ada") in moves
    code, _, err = cli(capsys, "advance", "demo")
    assert code == 1 and "end of the workflow" in err


# rule: editing a checked artifact after its gate passed makes the gate stale: `gate check`
# fails naming the file, and the next gated move is blocked
def test_edited_artifact_makes_the_gate_stale(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    record_baseline(store)
    record_diagnosis(store)
    assert cli(capsys, "advance", "demo")[0] == 0
    assert cli(capsys, "advance", "demo")[0] == 0 and store.current == "optimizing"
    assert cli(capsys, "gate", "check", "diagnostics_complete", "--project", "demo")[0] == 0

    (store.run_dir / "phase3" / "diagnostic_report.md").write_text("rewritten afterwards\n")
    code, out, _ = cli(capsys, "gate", "check", "diagnostics_complete", "--project", "demo")
    assert code == 1
    assert "diagnostics_complete of demo: stale" in out
    assert "phase3/diagnostic_report.md changed after the gate passed" in out
    assert status(capsys)["gates"]["diagnostics_complete"]["status"] == "stale"

    record_optimization(store, decision="D")
    assert cli(capsys, "advance", "demo")[0] == 0 and store.current == "optimized"
    store.record("phase5", {"completed": True})
    code, _, err = cli(capsys, "advance", "demo")
    assert code == 1
    assert "gate diagnostics_complete is stale: phase3/diagnostic_report.md changed" in err
    assert store.current == "optimized"


# rule: a refused advance changes state.json and facts.json not at all, and adds one event
def test_refused_advance_changes_nothing(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    record_baseline(store)
    assert cli(capsys, "advance", "demo")[0] == 0
    before = [(store.run_dir / f).read_bytes() for f in ("state.json", "facts.json")]
    events = len(store.events())
    assert cli(capsys, "advance", "demo")[0] == 1
    assert [(store.run_dir / f).read_bytes() for f in ("state.json", "facts.json")] == before
    assert len(store.events()) == events + 1 and store.events()[-1]["event"] == "refused"


# rule: gate check exits 0 on pass and 1 otherwise, and writes checklists/<gate>.md and .json
def test_gate_check(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "gate", "check", "diagnostics_complete", "--project", "demo")
    assert code == 1 and "[ ] baseline_seeds [pending]: baseline.seeds is not recorded" in out
    md = store.run_dir / "checklists" / "diagnostics_complete.md"
    assert "- [ ] At least 3 baseline seed runs are usable" in md.read_text()
    record_baseline(store)
    record_diagnosis(store)
    code, out, _ = cli(capsys, "gate", "check", "diagnostics_complete", "--project", "demo",
                       "--json")
    data = json.loads(out)
    assert code == 0 and data["status"] == "pass" and Path(data["report"]).resolve() == md
    assert json.loads(md.with_suffix(".json").read_text())["status"] == "pass"


# rule: a sign-off without --by is refused (exit 2) and records nothing
def test_sign_without_by_is_refused(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    before = (store.run_dir / "state.json").read_bytes()
    for by in ([], ["--by", "  "]):
        code, _, err = cli(capsys, "gate", "sign", "finalization_complete", "model_card_reviewed",
                           "--project", "demo", *by)
        assert code == 2 and "needs the person signing: add --by NAME" in err
    assert (store.run_dir / "state.json").read_bytes() == before


# rule: unknown gate or item ids exit 2 listing those that exist; automatic items are not signed
def test_unknown_ids(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "gate", "check", "nope", "--project", "demo")
    assert code == 2 and ("gates that exist: diagnostics_complete, finalization_complete, "
                          "optimization_complete") in err
    code, _, err = cli(capsys, "gate", "sign", "finalization_complete", "nope", "--project",
                       "demo", "--by", "Ada")
    assert code == 2 and "its items: final_training_completed, test_evaluated_once" in err
    code, _, err = cli(capsys, "gate", "sign", "finalization_complete", "test_metrics",
                       "--project", "demo", "--by", "Ada")
    assert code == 2 and "checked automatically (artifact)" in err
    code, _, err = cli(capsys, "gate", "sign", "finalization_complete", "model_saved",
                       "--project", "demo", "--by", "Ada")
    assert code == 2 and "checked automatically (python)" in err
    assert "manual items: model_card_reviewed" in err
    code, _, err = cli(capsys, "status", "other")
    assert code == 2 and "no project 'other'" in err and "projects there: demo" in err


# rule: a malformed project file is one line naming the file and field, exit 2, nothing created
def test_malformed_project_file(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (home / "proj" / "project.yaml").write_text(PROJECT + "seeds: [1, 1, 2]\n")
    code, _, err = cli(capsys, "init", "demo", "--config", "proj/project.yaml")
    assert code == 2
    assert re.fullmatch(r"phasegate: proj/project\.yaml: seeds: .*unique.*\n", err)
    assert not (home / "runs" / "demo" / "state.json").exists()
    (home / "proj" / "project.yaml").write_text(PROJECT)
    code, _, err = cli(capsys, "init", "../up", "--config", "proj/project.yaml")
    assert code == 2 and "project name '../up' is not allowed" in err


# rule: a malformed project checklist is one line naming the file and the field, exit 2
def test_malformed_checklist(store: Store, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (home / "proj" / "checklists").mkdir()
    bad = home / "proj" / "checklists" / "finalization_complete.yaml"
    bad.write_text("title: X\nextends: true\nitems:\n  - {id: a, text: A, check: {kind: manul}}\n")
    code, _, err = cli(capsys, "gate", "check", "finalization_complete", "--project", "demo")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"phasegate: {bad.resolve()}: items.0.check: ")


# rule: corrupt state.json or facts.json is a clear error naming the file, exit 2, never a reset
@pytest.mark.parametrize("name", ["state.json", "facts.json"])
def test_corrupt_run_files(store: Store, capsys: pytest.CaptureFixture[str], name: str) -> None:
    (store.run_dir / name).write_text("{ half")
    for argv in (["status", "demo"], ["advance", "demo"]):
        code, _, err = cli(capsys, *argv)
        assert code == 2 and f"{name}: not valid JSON" in err
    assert (store.run_dir / name).read_text() == "{ half"


# rule: init refuses a project that exists (exit 2) and leaves it as it was
def test_init_twice(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    before = (store.run_dir / "state.json").read_bytes()
    code, _, err = cli(capsys, "init", "demo", "--config", "proj/project.yaml")
    assert code == 2 and "already exists (state: baseline)" in err
    assert (store.run_dir / "state.json").read_bytes() == before


# rule: the runs root comes from --runs, else $PHASEGATE_RUNS, else ./runs
def test_runs_root(home: Path, capsys: pytest.CaptureFixture[str],
                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(capsys, "init", "a", "--config", "proj/project.yaml", "--runs", "elsewhere")[0] == 0
    assert (home / "elsewhere" / "a" / "state.json").is_file()
    monkeypatch.setenv(RUNS_ENV, str(home / "fromenv"))
    assert cli(capsys, "init", "b", "--config", "proj/project.yaml")[0] == 0
    assert (home / "fromenv" / "b" / "state.json").is_file()
    assert cli(capsys, "status", "a", "--runs", "elsewhere")[0] == 0


# rule: a runs root that cannot be created (under a file) is one line naming it, exit 2
def test_runs_root_under_a_file(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (home / "afile").write_text("not a folder\n")
    code, _, err = cli(capsys, "init", "a", "--config", "proj/project.yaml", "--runs", "afile")
    assert code == 2
    assert err == "phasegate: afile/a: Not a directory\n"


# rule: status for people shows the phase, the next move and each gate's items in a table
def test_status_for_people(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    record_baseline(store)
    code, out, _ = cli(capsys, "status", "demo")
    assert code == 0
    assert "demo: baseline" in out and "next: diagnose -> diagnosed: ready" in out
    assert "diagnostics_complete: pending" in out and "baseline_seeds" in out
    assert "model_card_reviewed" in out
    data = status(capsys)
    assert data["next"] == {"transition": "diagnose", "to": "diagnosed", "gate": None,
                            "ready": True, "hint": None, "command": "phasegate diagnose demo"}
    assert "(phasegate diagnose demo)" in out  # the command that moves it, not `advance`


# rule: while another process writes the project, advance fails at once (exit 3, busy: not
# bad input) naming its pid and changes nothing; once that holder is gone, advance proceeds
def test_advance_while_locked(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    record_baseline(store)
    before = (store.run_dir / "state.json").read_bytes()
    events = len(store.events())
    child = hold_lock(store.run_dir)
    try:
        code, _, err = cli(capsys, "advance", "demo")
        assert code == 3 and f"locked by pid {child.pid} " in err
        assert (store.run_dir / "state.json").read_bytes() == before
        assert len(store.events()) == events
        assert cli(capsys, "status", "demo")[0] == 0  # readers do not need the lock
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert cli(capsys, "advance", "demo")[0] == 0 and store.current == "diagnosed"


def _phasegate(*argv: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "workflow", *argv], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


# rule: two advance commands started together: exactly one moves the project; the other is
# refused by the lock (exit 3, busy) or, arriving after, finds no move (exit 1)
def test_two_concurrent_advances(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for attempt in range(3):
        name = f"race{attempt}"
        assert cli(capsys, "init", name, "--config", "proj/project.yaml")[0] == 0
        store = Store.open(name, home / "runs")
        record_baseline(store)
        runs = [_phasegate("advance", name, cwd=home) for _ in range(2)]
        errors = [p.communicate(timeout=60)[1] for p in runs]
        codes = sorted(p.returncode for p in runs)
        assert codes in ([0, 1], [0, 3]), errors
        moves = [e for e in store.events() if e["event"] == "transition"]
        assert len(moves) == 1 and store.current == "diagnosed"




# rule: status and gate check never import torch or numpy (what keeps them fast). Their wall time is
# measured by benchmarks/startup.py, not asserted here: a loaded machine fails such a bound
@pytest.mark.parametrize(
    "argv", [["status", "demo"], ["status", "demo", "--json"],
             ["gate", "check", "optimization_complete", "--project", "demo"]],
)
def test_torch_free(store: Store, home: Path, argv: list[str]) -> None:
    command = [sys.executable, "-m", "workflow", *argv]
    traced = subprocess.run([sys.executable, "-X", "importtime", *command[1:]], cwd=home,
                            capture_output=True, text=True)
    assert traced.returncode in (0, 1), traced.stderr  # 1: a gate that does not pass yet
    imported = {line.rsplit("|", 1)[-1].strip() for line in traced.stderr.splitlines()
                if line.startswith("import time:")}
    assert "workflow.gates" in imported
    assert not {m for m in imported if m == "torch" or m.startswith("torch.")}
    # nor numpy, nor Phase 5 (loading finalization_complete imported both for its
    # export check: 0.57 s against startup.py's 0.5 s target)
    assert not {m for m in imported if m.split(".")[0] == "numpy"
                or m.startswith("phases.finalization")}
