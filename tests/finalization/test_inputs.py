"""Inputs later phases depend on are checked by every command: a change or a loss is one line
naming the file (exit 2), never a silent retrain, reset or recreate."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.finalization.helpers import create, skipped_project
from workflow.cli import main
from workflow.errors import StateError
from workflow.store import Store


def _run(store: Store, *args: str) -> int:
    return main([*args, store.name, "--runs", str(store.run_dir.parent)])


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# rule: a deleted event log is an error naming it, on every command (status included), and it
# is not recreated empty, even by a command that writes
def test_a_deleted_event_log_is_an_error_not_recreated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = create(tmp_path / "proj", tmp_path / "runs")
    log = store.run_dir / "events.jsonl"
    log.unlink()
    for command in ("status", "baseline"):
        assert _run(store, command) == 2
        line = _one_line(capsys.readouterr().err)
        assert "events.jsonl" in line and "missing" in line
    with pytest.raises(StateError, match="event log is missing"):
        store.append_event("anything")
    assert not log.exists()


# rule: a byte that is not UTF-8 in the event log is one line naming the file and the line
def test_a_non_utf8_event_log_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = create(tmp_path / "proj", tmp_path / "runs")
    log = store.run_dir / "events.jsonl"
    log.write_bytes(log.read_bytes() + b'{"event": "x\xff"}\n')
    assert _run(store, "status") == 2
    line = _one_line(capsys.readouterr().err)
    assert "events.jsonl: line 2 is not valid UTF-8" in line


# rule: the event log is a chain: a line edited or removed is found on the next read, one line
# naming the file and where the chain breaks; the log is not rewritten
@pytest.mark.parametrize("edit", ["change", "remove"])
def test_an_edited_event_log_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: str
) -> None:
    store = create(tmp_path / "proj", tmp_path / "runs")
    store.append_event("signed", {"who": "ana"})
    store.append_event("noted", {"who": "bo"})
    log = store.run_dir / "events.jsonl"
    lines = log.read_text().splitlines()
    if edit == "change":
        lines[1] = lines[1].replace('"ana"', '"eve"')
    else:
        del lines[1]
    log.write_text("\n".join(lines) + "\n")
    before = log.read_bytes()
    assert _run(store, "status") == 2
    line = _one_line(capsys.readouterr().err)
    assert "events.jsonl: line" in line and "does not follow the line before it" in line
    with pytest.raises(StateError, match="does not follow"):
        store.events()
    assert log.read_bytes() == before


# rule: the run directory's project.yaml, edited after init, is reported by every command
def test_an_edited_project_file_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = create(tmp_path / "proj", tmp_path / "runs")
    path = store.run_dir / "project.yaml"
    data = yaml.safe_load(path.read_text())
    data["target"]["goal"] = 0.1
    path.write_text(yaml.safe_dump(data))
    assert _run(store, "status") == 2
    line = _one_line(capsys.readouterr().err)
    assert "project.yaml changed" in line


def _delete_checkpoint(store: Store) -> str:
    path = store.run_dir / "baseline/seed-1/checkpoints/best.pt"
    path.unlink()
    return "baseline/seed-1/checkpoints/best.pt is missing"


def _edit_config(store: Store) -> str:
    path = Path(store.project.baseline)
    config = yaml.safe_load(path.read_text())
    config["optimizer"]["lr"] = 0.5
    path.write_text(yaml.safe_dump(config))
    return f"{path} changed"


# rule: a baseline checkpoint deleted, or the baseline config edited, after the baseline
# trained: status and finalize say so in one line naming the file (exit 2); Phase 5 does not
# retrain the baseline nor look at the test set
@pytest.mark.parametrize("change", [_delete_checkpoint, _edit_config],
                         ids=["deleted-checkpoint", "edited-config"])
def test_a_changed_baseline_is_reported_never_retrained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: Callable[[Store], str],
) -> None:
    store = skipped_project(tmp_path / "proj", tmp_path / "runs")
    assert _run(store, "status") == 0
    said = change(store)
    capsys.readouterr()
    for command in ("status", "finalize"):
        assert _run(store, command) == 2
        line = _one_line(capsys.readouterr().err)
        assert said in line, line
    assert not (store.run_dir / "phase5").exists()
    assert store.current == "optimized"
