"""The one look and the promoted model: a kill mid-look never opens the lock twice, and what is
promoted is byte for byte what Phase 5 evaluated and reported on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from phases.finalization.predictions import PREDICTIONS_FILE
from workflow.cli import main
from workflow.eventlog import PREV, digest
from workflow.store import Store

ROOT = Path(__file__).resolve().parents[2]
LOOK_EVENTS = ("test_lock_opened", "test_lock_resumed", "test_evaluated", "test_lock_aborted")

# `phasegate finalize`, SIGKILLed by itself right after the look evaluated the baseline arm:
# after the lock opened, before the evaluation was written or recorded
KILLED_MID_LOOK = """
import os, signal, sys
from phases.finalization import testlock
real = testlock.TestSession.evaluate
def evaluate(self, arm, *args):
    out = real(self, arm, *args)
    if arm == "baseline":
        os.kill(os.getpid(), signal.SIGKILL)
    return out
testlock.TestSession.evaluate = evaluate
from workflow.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _events(store: Store, name: str) -> int:
    return sum(e["event"] == name for e in store.events())


def _before_the_look(store: Store) -> None:
    """Turn a finalized copy back into a project whose final training and export are done and
    whose test split was never looked at (facts, events, files and state as they were then)."""
    facts = json.loads(store.facts_file.read_text())
    for key in ("test_look", "test_lock", "test_evaluations", "test", "mcnemar", "completed",
                "completed_at", "files"):
        facts["phase5"].pop(key, None)
    store.facts_file.write_text(json.dumps(facts))
    events = store.run_dir / "events.jsonl"
    kept = [json.loads(line) for line in events.read_text().splitlines()
            if json.loads(line)["event"] not in LOOK_EVENTS]
    lines: list[bytes] = []
    for event in kept:  # chained again, as the log was before the look
        event[PREV] = digest(lines[-1] if lines else None)
        lines.append(json.dumps(event).encode())
    events.write_bytes(b"\n".join(lines) + b"\n")
    (store.run_dir / PREDICTIONS_FILE).unlink()
    (store.run_dir / "phase5/test_predictions.meta.json").unlink()
    state = store.load_state()
    gates = {k: v for k, v in state.gates.items() if k != "optimization_complete"}
    store.save_state(state.model_copy(update={"state": "optimized", "gates": gates}))


def _finalize_killed_mid_look(store: Store) -> None:
    env = {**os.environ, "PHASEGATE_WORKERS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", KILLED_MID_LOOK, "finalize", store.name,
         "--runs", str(store.run_dir.parent), "--by", "test"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == -9, done.stderr[-2000:]


# rule: a kill between test_lock_opened and test_evaluated is the one look, interrupted: the
# rerun completes it on the very model files it opened with (one opened event, one resumed,
# one evaluation, the predictions an uninterrupted look gives); a model changed meanwhile
# refuses the rerun (exit 1), naming the file, and nothing is evaluated
def test_a_look_killed_midway_is_completed_never_opened_twice(
    finalized: Store, finalized_copy: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    store = finalized_copy
    runs = str(store.run_dir.parent)
    _before_the_look(store)
    _finalize_killed_mid_look(store)
    assert _events(store, "test_lock_opened") == 1 and _events(store, "test_evaluated") == 0
    look = store.get("phase5.test_look")
    assert set(look["models"]) == {"final", "baseline", "torchscript"}
    assert store.get("phase5.test_evaluations", None) is None
    assert not (store.run_dir / PREDICTIONS_FILE).exists()

    # the final run's checkpoint, which the look opened on and its evaluate reads
    opened = look["models"]["final"]["file"]
    assert opened.startswith("phase5/final/seed-") and opened.endswith("checkpoints/best.pt")
    model = store.run_dir / opened
    original = model.read_bytes()
    model.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    capsys.readouterr()
    assert main(["finalize", store.name, "--runs", runs, "--by", "test"]) == 1
    err = capsys.readouterr().err
    assert opened in err and "changed" in err and "test lock" in err, err
    assert store.get("phase5.test_evaluations", None) is None
    assert _events(store, "test_lock_opened") == 1 and store.current == "optimized"

    model.write_bytes(original)
    assert main(["finalize", store.name, "--runs", runs, "--by", "test"]) == 0
    assert store.current == "finalized"
    assert _events(store, "test_lock_opened") == 1
    assert _events(store, "test_lock_resumed") == 1
    assert _events(store, "test_evaluated") == 1
    assert store.get("phase5.test_evaluations") == 1
    assert store.get("phase5.test_lock.recovered_from_file") is False
    uninterrupted = (finalized.run_dir / PREDICTIONS_FILE).read_bytes()
    assert (store.run_dir / PREDICTIONS_FILE).read_bytes() == uninterrupted
    assert store.get("phase5.test") == finalized.get("phase5.test")


def _zero_weights(path: Path) -> None:
    import torch

    saved = torch.load(path, weights_only=True)
    saved["model"] = {k: torch.zeros_like(v) for k, v in saved["model"].items()}
    torch.save(saved, path)


def _edit_metrics(path: Path) -> None:
    data = json.loads(path.read_text())
    data["final"]["accuracy"] = 1.0
    path.write_text(json.dumps(data))


# rule: promote checks every file the model card reports on against the sha256 Phase 5
# recorded; a changed or lost one refuses (exit 1), naming it, and nothing is promoted
@pytest.mark.parametrize(("file", "change", "said"), [
    ("phase5/model/model.pt", _zero_weights, "changed"),
    ("phase5/test_metrics.json", _edit_metrics, "changed"),
    ("phase5/model/model_torchscript.pt", Path.unlink, "missing"),
])
def test_promote_refuses_files_changed_after_phase5(
    finalized_copy: Store, capsys: pytest.CaptureFixture[str], file: str,
    change: object, said: str,
) -> None:
    store = finalized_copy
    assert file in store.get("phase5.files")
    store.sign("finalization_complete", "model_card_reviewed", who="ana", note="read it")
    assert callable(change)
    change(store.run_dir / file)
    capsys.readouterr()
    assert main(["promote", store.name, "--runs", str(store.run_dir.parent)]) == 1
    err = capsys.readouterr().err
    assert file in err and said in err, err
    assert store.current == "finalized"
    assert not (store.run_dir / "promoted").exists()


# rule: the baseline checkpoint the test look compared with is one of the card's files
def test_phase5_records_the_hashes_of_what_the_card_reports_on(finalized: Store) -> None:
    files = finalized.get("phase5.files")
    baseline = finalized.get("phase5.baseline_selection.checkpoint")
    relative = Path(baseline).resolve().relative_to(finalized.run_dir.resolve()).as_posix()
    assert {"phase5/model/model.pt", "phase5/model/model_torchscript.pt", PREDICTIONS_FILE,
            "phase5/test_metrics.json", "phase5/finalization_report.md",
            "phase5/export.json", relative} <= set(files)
