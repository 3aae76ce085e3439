"""Phase 5's one test look on a test split the dataset function gave."""

from __future__ import annotations

import contextlib
import csv
import io
from pathlib import Path

import pytest

from tests.conftest import tiny_config
from tests.finalization.helpers import create
from tests.trainer.test_splits import SIZES, _rows
from workflow.cli import main
from workflow.io import read_json
from workflow.machine import take


def test_phase5_evaluates_on_the_given_test_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the look's examples are the function's test split: its size and its labels, in order
    from phases.diagnostic.phase import run_baseline

    monkeypatch.setenv("PHASEGATE_WORKERS", "1")
    baseline = tiny_config(data={"dataset": "tests.trainer.test_splits:named_splits",
                                 "batch_size": 16}, training={"epochs": 2})
    store = create(tmp_path / "proj", tmp_path / "runs", baseline=baseline)
    run_baseline(store, workers=1, who="test")
    take(store, "diagnose", "test")
    (store.run_dir / "phase3").mkdir()
    (store.run_dir / "phase3" / "diagnostic_report.md").write_text("# a diagnosis\n")
    (store.run_dir / "phase3" / "findings.json").write_text("{}\n")
    store.record("phase3", {"findings_count": 0, "strategy": "skip", "potential": 1.0,
                            "recommendations_count": 0})
    take(store, "skip", "test")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(["finalize", store.name, "--runs", str(tmp_path / "runs"), "--by", "test"])
    # the look first (it is recorded before the report is written), then the whole command
    with open(store.run_dir / "phase5" / "test_predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == SIZES["test"]
    assert [int(r["target"]) for r in rows] == _rows("test")[1].tolist()
    meta = read_json(store.run_dir / "phase5" / "test_predictions.meta.json")
    assert meta["split"]["test_source"] == "given"
    assert meta["split"]["sizes"]["test"] == SIZES["test"]
    assert code == 0, out.getvalue()
    assert read_json(store.run_dir / "phase5" / "test_metrics.json")["n"] == SIZES["test"]
