"""A short smoke of benchmarks/diagnosis_faults.py (two faults, tiny data): it runs end to end,
names each fault's top root cause and writes its table and totals. The benchmark itself, with
its figures, is not a test (see the note of issue 12)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "diagnosis_faults.py"


def test_the_fault_benchmark_runs_two_faults_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHASEGATE_WORKERS", "1")
    spec = importlib.util.spec_from_file_location("diagnosis_faults", BENCHMARK)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "diagnosis_faults", bench)  # its dataclasses look it up
    spec.loader.exec_module(bench)
    result = bench.main(["--datasets", "digits", "--faults", "sgd_no_momentum,huge_batch",
                         "--seeds", "3", "--epochs", "4", "--max-samples", "300",
                         "--iterations", "1", "--out", str(tmp_path)])
    rows = {row["fault"]: row for row in result["rows"]}
    assert set(rows) == {"clean", "sgd_no_momentum", "huge_batch"}
    assert not [row["error"] for row in rows.values() if row["error"]]
    assert rows["sgd_no_momentum"]["top_cause"] == "sgd_no_momentum"
    assert rows["huge_batch"]["top_cause"] == "few_steps"
    for fault in ("sgd_no_momentum", "huge_batch"):
        assert rows[fault]["walk"] is not None  # the unattended walk reached optimized
    totals = result["totals"]
    assert totals["faults"] == 2 and totals["named"] == 2
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["totals"] == totals and saved["settings"]["epochs"] == 4
    table = (tmp_path / "table.md").read_text()
    assert "| digits | huge_batch | few_steps | yes |" in table
    assert "top root cause" in capsys.readouterr().out
