"""The test lock: the test split opens once, in Phase 5, and only through phases.finalization."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from phases.finalization.testlock import (
    LOCK,
    PREDICTIONS_FILE,
    open_test_split,
    recorded_evaluation,
)
from tests.finalization.helpers import create
from workflow.errors import StateError, TestSetLocked
from workflow.store import Store

ROOT = Path(__file__).resolve().parents[2]


def _refusals(store: Store) -> list[dict[str, object]]:
    return [e for e in store.events() if e["event"] == "test_lock_refused"]


# rule: before Phase 5 (any state before optimized) the test split is locked; the refusal
# names the lock and is logged as an event
@pytest.mark.parametrize("state", ["baseline", "diagnosed", "optimizing"])
def test_the_test_split_is_locked_before_phase5(tmp_path: Path, state: str) -> None:
    store = create(tmp_path / "proj", tmp_path / "runs", start=state)
    with pytest.raises(TestSetLocked, match=re.escape(LOCK)) as refused:
        with open_test_split(store, who="ana"):
            pytest.fail("the test split opened before Phase 5")
    assert f"{store.name} is {state}" in str(refused.value)
    [event] = _refusals(store)
    assert event["who"] == "ana" and event["state"] == state
    assert store.get("phase5.test_evaluations", None) is None
    assert not (store.run_dir / PREDICTIONS_FILE).exists()


# rule: in optimized, the lock opens only after the final training is recorded
def test_the_test_split_is_locked_before_the_final_training(tmp_path: Path) -> None:
    store = create(tmp_path / "proj", tmp_path / "runs", start="optimized")
    with pytest.raises(TestSetLocked, match="final training"):
        with open_test_split(store):
            pytest.fail("the test split opened before the final training")
    assert len(_refusals(store)) == 1


# rule: the test split is evaluated once; a second look is refused, naming the lock and
# when the first look was taken, is logged, and the recorded look stays as it was
def test_a_second_look_is_refused(finalized_copy: Store) -> None:
    store = finalized_copy
    before = recorded_evaluation(store)
    assert before is not None and store.get("phase5.test_evaluations") == 1
    with pytest.raises(TestSetLocked, match=re.escape(LOCK)) as refused:
        with open_test_split(store, who="ana"):
            pytest.fail("the test split opened a second time")
    assert before.evaluated_at in str(refused.value)
    assert "evaluated once" in str(refused.value)
    assert len(_refusals(store)) == 1
    assert store.get("phase5.test_evaluations") == 1
    assert recorded_evaluation(store) == before


# rule: the recorded look is the saved predictions with their sha256; the file changed after
# it was recorded is an error, never a reason to look again
def test_saved_predictions_are_checked_against_their_hash(finalized_copy: Store) -> None:
    path = finalized_copy.run_dir / PREDICTIONS_FILE
    lines = path.read_text().splitlines()
    index, target, *arms = lines[1].split(",")
    lines[1] = ",".join([index, target, *(str((int(a) + 1) % 10) for a in arms)])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(StateError, match="changed after the test lock recorded it"):
        recorded_evaluation(finalized_copy)


# rule: the lock is the only door: the built-in trainer's evaluate side is the one module that
# asks the data loader for the test split, and only the test lock asks a trainer for it
def test_only_the_test_lock_loads_the_test_split() -> None:
    loaders, askers = [], []
    for folder in ("workflow", "phases"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            if re.search(r"include_test\s*=\s*True", text):
                loaders.append(path.relative_to(ROOT).as_posix())
            if re.search(r"\btest_inputs\(|evaluate\([^)]*[\"']test[\"']\)", text):
                askers.append(path.relative_to(ROOT).as_posix())
    assert loaders == ["workflow/trainer/builtin.py"]
    assert sorted(askers) == ["phases/finalization/testlock.py", "workflow/trainer/builtin.py"]


# rule: a look whose predictions were saved but not recorded (the command was killed in
# between) is recorded from the saved file when Phase 5 resumes: the split is not read again
def test_an_unrecorded_look_is_recovered_from_its_file(finalized_copy: Store) -> None:
    from phases.finalization import run_finalize

    store = finalized_copy
    facts = json.loads((store.run_dir / "facts.json").read_text())
    for key in ("test_evaluations", "test_lock", "completed", "test", "mcnemar"):
        facts["phase5"].pop(key)
    (store.run_dir / "facts.json").write_text(json.dumps(facts))
    state = store.load_state()
    gates = {k: v for k, v in state.gates.items() if k != "optimization_complete"}
    store.save_state(state.model_copy(update={"state": "optimized", "gates": gates}))
    opened = sum(e["event"] == "test_lock_opened" for e in store.events())

    with pytest.raises(TestSetLocked, match="was not recorded"):
        with open_test_split(store):
            pytest.fail("a second look opened while the first one's file exists")
    result = run_finalize(store, who="test")
    assert not result.already and store.current == "finalized"
    assert store.get("phase5.test_evaluations") == 1
    assert store.get("phase5.test_lock.recovered_from_file") is True
    assert sum(e["event"] == "test_lock_opened" for e in store.events()) == opened
