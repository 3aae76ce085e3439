"""workflow.store: the run directory's files, their durability, and the project lock."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import hold_lock
from workflow.errors import EXIT_BUSY, FactsError, LockHeld, StateError, UsageError
from workflow.facts import BaselineFacts, Phase3Facts, read_facts
from workflow.project import load_project
from workflow.store import MISSING, RUNS_ENV, Store, lookup, runs_root


def make_store(tmp_path: Path, name: str = "demo") -> Store:
    project_dir = tmp_path / "project"
    project_dir.mkdir(exist_ok=True)
    (project_dir / "baseline.yaml").write_text("name: b\n")
    (project_dir / "project.yaml").write_text(f"name: {name}\nbaseline: baseline.yaml\n")
    config = load_project(project_dir / "project.yaml")
    return Store.create(config, tmp_path / "runs", start="baseline", project_dir=project_dir,
                        who="tester")


# rule: init writes project.yaml (baseline absolute), facts with the project's rules, state, event
def test_create_writes_the_run_directory(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    assert store.current == "baseline"
    project = yaml.safe_load((store.run_dir / "project.yaml").read_text())
    assert Path(project["baseline"]).is_absolute()
    assert store.project.name == "demo"
    assert store.get("project.min_effect") == 0.01 and store.get("project.metric") == "val_accuracy"
    assert store.project_dir == (tmp_path / "project").resolve()
    assert [e["event"] for e in store.events()] == ["created"]


# rule: a project that exists is never overwritten by a second init
def test_create_refuses_an_existing_project(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    before = (store.run_dir / "state.json").read_bytes()
    with pytest.raises(UsageError, match="already exists"):
        make_store(tmp_path)
    assert (store.run_dir / "state.json").read_bytes() == before


# rule: opening an unknown project names the runs root and the projects that are there
def test_open_unknown_project(tmp_path: Path) -> None:
    make_store(tmp_path, "alpha")
    with pytest.raises(UsageError, match=r"no project 'beta' in .*projects there: alpha"):
        Store.open("beta", tmp_path / "runs")


# rule: the runs root is --runs, else $PHASEGATE_RUNS, else ./runs
def test_runs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RUNS_ENV, raising=False)
    assert runs_root(None) == Path("runs")
    monkeypatch.setenv(RUNS_ENV, "/elsewhere")
    assert runs_root(None) == Path("/elsewhere")
    assert runs_root("given") == Path("given")


# rule: record sets keys under a dotted prefix, replacing each value and keeping the rest
def test_record_merges_under_a_prefix(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.record("phase4", {"decision": "B", "comparison": {"verdict": "x", "p_value": 0.2}})
    store.record("phase4", {"comparison": {"verdict": "significant"}})
    store.record("phase4.best.val_accuracy", {"mean": 0.95})
    assert store.get("phase4.decision") == "B"
    assert store.get("phase4.comparison") == {"verdict": "significant"}
    assert store.get("phase4.best.val_accuracy.mean") == 0.95
    assert store.get("phase4.reason") is MISSING and store.get("phase4.reason", 3) == 3
    with pytest.raises(FactsError, match=r"^no such fact: phase4.nothing: phase4 has no 'nothing'"):
        store.get("phase4.nothing", 3)  # a misspelt read fails instead of reading the default
    recorded = [e for e in store.events() if e["event"] == "recorded"]
    assert [e["prefix"] for e in recorded] == ["phase4", "phase4", "phase4.best.val_accuracy"]


# rule: a recorded null is a value, not a missing fact
def test_lookup_tells_null_from_missing() -> None:
    assert lookup({"a": {"b": None}}, "a.b") is None
    assert lookup({"a": {"b": None}}, "a.c") is MISSING
    assert lookup({"a": 1}, "a.b") is MISSING


# rule: recording under a plain value, or recording what JSON cannot hold, is an error
def test_record_refuses_bad_input(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.record("phase3", {"strategy": "sweep"})
    with pytest.raises(FactsError, match="phase3.strategy is a value"):
        store.record("phase3.strategy", {"x": 1})
    with pytest.raises(FactsError, match="not JSON"):
        store.record("phase3", {"when": object()})
    with pytest.raises(FactsError, match="dotted path"):
        store.record("phase3..x", {"a": 1})


# rule: a record that does not fit its section's model, or names no section, writes nothing
@pytest.mark.parametrize(
    ("prefix", "mapping", "error"),
    [
        ("phase3", {"findings_count": "three"},
         r"^cannot record under 'phase3': facts.json: phase3: findings_count: Input should be "
         r"a valid integer"),
        ("phase3", {"strategi": "sweep"},
         r"^cannot record under 'phase3': facts.json: phase3: strategi: unknown field \(allowed: "
         r"findings_count, findings, .*\)"),
        ("baseline.val_accuracy", {"meen": 0.9},
         r"^cannot record under 'baseline.val_accuracy': facts.json: baseline: val_accuracy.meen: "
         r"unknown field"),
        ("phase5", {"mcnemar": {"p_value": 0.5}},
         r"^cannot record under 'phase5': facts.json: phase5: mcnemar.n: required field is "
         r"missing"),
        ("phase9", {"done": True},
         r"^cannot record under 'phase9': facts.json: unknown section 'phase9' \(sections: "
         r"project, baseline, phase3, phase4, phase5, moves, signoffs\)$"),
    ],
)
def test_record_validates_the_section(
    tmp_path: Path, prefix: str, mapping: dict[str, Any], error: str
) -> None:
    store = make_store(tmp_path)
    before = (store.run_dir / "facts.json").read_bytes(), len(store.events())
    with pytest.raises(FactsError, match=error) as info:
        store.record(prefix, mapping)
    assert "\n" not in str(info.value)
    assert ((store.run_dir / "facts.json").read_bytes(), len(store.events())) == before


# rule: a facts model records the fields it was given, and read_facts reads them back typed
def test_record_a_model_and_read_it_back(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.record("phase3", {"potential": 4.0})
    store.record("phase3", Phase3Facts(strategy="sweep", findings=["overfitting"]))
    assert store.get("phase3") == {"potential": 4.0, "strategy": "sweep",
                                   "findings": ["overfitting"]}
    facts = read_facts(store)
    assert facts.phase3 == Phase3Facts(potential=4.0, strategy="sweep", findings=["overfitting"])
    assert facts.project.metric == "val_accuracy" and facts.project.min_effect == 0.01
    assert facts.baseline == BaselineFacts() and facts.phase5.completed is None


# rule: a hand-edited facts.json that no longer fits its models is a FactsError on a typed read
def test_read_facts_names_the_misfit(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.record("baseline", {"seeds": 3})
    data = json.loads((store.run_dir / "facts.json").read_text())
    data["baseline"]["seeds"] = "three"
    (store.run_dir / "facts.json").write_text(json.dumps(data))
    with pytest.raises(FactsError, match=r"facts.json: baseline: seeds: Input should be a valid "):
        read_facts(store)


# rule: invalid JSON in state.json or facts.json is a StateError naming the file; nothing resets
@pytest.mark.parametrize("name", ["state.json", "facts.json"])
def test_corrupt_files_are_reported_not_reset(tmp_path: Path, name: str) -> None:
    store = make_store(tmp_path)
    (store.run_dir / name).write_text('{"state": "baseli')
    with pytest.raises(StateError, match=rf"{name}: not valid JSON .*not reset"):
        store.load_state() if name == "state.json" else store.facts
    with pytest.raises(StateError, match=name):  # writers read first: they refuse too
        if name == "state.json":
            store.sign("g", "item", who="someone")
        else:
            store.record("phase3", {"strategy": "sweep"})
    assert (store.run_dir / name).read_text() == '{"state": "baseli'


# rule: a state.json that is JSON but not a run state names the file and the field
def test_state_with_wrong_shape(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    (store.run_dir / "state.json").write_text('{"state": "baseline"}')
    with pytest.raises(StateError, match=r"state\.json: project: required field is missing"):
        store.load_state()


# rule: the event log skips a torn last line (a kill mid-append) but reports a bad line inside
def test_events_torn_tail_and_corrupt_middle(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    path = store.run_dir / "events.jsonl"
    with open(path, "a") as handle:
        handle.write('{"time": "t", "ev')
    assert len(store.events()) == 1
    # the next append drops the fragment instead of gluing its line to it
    store.append_event("after_kill")
    assert [e["event"] for e in store.events()] == ["created", "after_kill"]
    path.write_text('{"event": "a"}\nnot json\n{"event": "b"}\n')
    with pytest.raises(StateError, match="events.jsonl: line 2"):
        store.events()


# rule: the lock is exclusive across processes: the second writer fails at once naming the pid
def test_lock_held_by_another_process(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    child = hold_lock(store.run_dir)
    try:
        # the holder never lets go: returning at all shows the second writer does not wait
        with pytest.raises(LockHeld, match=rf"locked by pid {child.pid}\b") as info:
            store.record("phase3", {"strategy": "sweep"})
        assert info.value.exit_code == EXIT_BUSY  # busy, not bad input
        assert store.get("phase3.strategy") is MISSING
    finally:
        child.kill()
        child.wait()


# rule: a lock left by a process that died (SIGKILL) is taken over; the file then holds our pid
def test_stale_lock_is_taken_over(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    child = hold_lock(store.run_dir)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert (store.run_dir / ".lock").read_text().strip() == str(child.pid)
    with store.lock():
        assert (store.run_dir / ".lock").read_text().strip() == str(os.getpid())
        store.record("phase3", {"strategy": "sweep"})
    assert store.get("phase3.strategy") == "sweep"


# rule: the lock is re-entrant within one Store, exclusive between two Stores of one process
def test_lock_reentrant_and_exclusive(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    with store.lock():
        store.record("phase3", {"findings_count": 1})  # takes the lock again inside
        with pytest.raises(LockHeld, match=str(os.getpid())):
            Store(store.run_dir).record("phase3", {"findings_count": 2})
    assert store.get("phase3.findings_count") == 1


_WRITER = textwrap.dedent("""
    import sys
    from workflow.store import SignOff, Store
    store = Store(sys.argv[1])
    base = store.load_state()
    i = 0
    while True:
        i += 1
        size = 100_000 + (i % 7) * 300_000
        note = f"{i}:" + "x" * size
        signoffs = {"g": {"item": SignOff(by="w", at="t", note=note)}}
        store.save_state(base.model_copy(update={"signoffs": signoffs}))
        store.record("phase3", {"stale": f"{i}:" + "y" * size})
        print(i, flush=True)  # iteration i is written whole
""")


def _intact(payload: str, fill: str) -> bool:
    number, _, body = payload.partition(":")
    return body == fill * (100_000 + (int(number) % 7) * 300_000)


# rule: SIGKILL at any moment of a write leaves state.json and facts.json old or new, never torn
def test_kill_during_writes_never_tears_files(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    rng = random.Random(3)
    seen = set()
    for kill in range(6):
        child = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(store.run_dir)], stdout=subprocess.PIPE, text=True
        )
        # each kill lets one more iteration finish than the last, then lands at a random
        # moment of the writes after it: different points of the loop however slow the
        # machine is (a wall-clock delay alone may land every kill in the same iteration)
        assert child.stdout is not None
        for line in child.stdout:
            if int(line) >= 2 + kill:
                break
        else:
            pytest.fail(f"the writer ended before it was killed (exit {child.wait()})")
        time.sleep(rng.uniform(0.0, 0.25))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        state = store.load_state()  # raises on a torn file
        note = state.signoffs["g"]["item"].note
        payload = store.get("phase3.stale")
        assert _intact(note, "x") and _intact(payload, "y")
        seen.add(note.partition(":")[0])
        json.loads((store.run_dir / "events.jsonl").read_text().splitlines()[0])
    assert len(seen) > 1  # the kills landed at different points of the loop
