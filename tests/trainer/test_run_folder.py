"""workflow.trainer.run_folder: the files of a run, as phasegate reads them back."""

from __future__ import annotations

import json
import math
from pathlib import Path

from workflow.trainer.result import read_history
from workflow.trainer.run_folder import finite, publish, write_history, write_predictions


# rule: a history written is the history read back, floats exact
def test_history_round_trips(tmp_path: Path) -> None:
    rows = [{"epoch": 1, "train_loss": 0.1 + 0.2, "val_loss": 0.5, "val_accuracy": 0.9},
            {"epoch": 2, "train_loss": 0.25, "val_loss": 0.4, "val_accuracy": 0.91}]
    write_history(tmp_path / "history.csv", rows)
    back = read_history(tmp_path / "history.csv")
    assert [r["epoch"] for r in back] == [1, 2]
    assert back[0]["train_loss"] == 0.1 + 0.2
    assert back[1]["val_accuracy"] == 0.91


# rule: predictions are one line per sample, from plain sequences as from tensors
def test_predictions_from_sequences(tmp_path: Path) -> None:
    write_predictions(tmp_path / "p.csv", [0, 1, 2], [0, 2, 2])
    assert (tmp_path / "p.csv").read_text() == "index,target,prediction\n0,0,0\n1,1,2\n2,2,2\n"


# rule: metrics.json holds no NaN (JSON has none): non-finite floats become null, nested too
def test_finite_turns_nan_into_null() -> None:
    data = finite({"a": math.nan, "b": [1.0, math.inf], "c": {"d": 2.0}})
    assert json.loads(json.dumps(data, allow_nan=False)) == {"a": None, "b": [1.0, None],
                                                             "c": {"d": 2.0}}


# rule: publishing replaces an earlier run whole, and leaves no staging or old folder
def test_publish_replaces_the_earlier_run(tmp_path: Path) -> None:
    out = tmp_path / "seed-0"
    out.mkdir()
    (out / "old.txt").write_text("old")
    staging = tmp_path / ".seed-0.partial"
    staging.mkdir()
    (staging / "new.txt").write_text("new")
    publish(staging, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed-0"]
    assert [p.name for p in out.iterdir()] == ["new.txt"]
