"""Acceptance: the shipped overfitting baseline through baseline, diagnose, optimize, gate.

The slowest test of Phase 4 (real training: 3 seeds per arm on the embedded digits).
It drives the command line (`workflow.cli.main`, what the console script calls) in
this process, so torch is imported once; the kill test drives child processes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.optimization.helpers import REPO
from workflow.cli import main
from workflow.store import Store

FINAL = ("A", "D", "budget")


@pytest.mark.slow
def test_overfit_baseline_diagnose_optimize_and_the_gate_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the rule: on configs/overfit_project.yaml (the deliberately overfitting baseline),
    # `optimize --strategy targeted` records a decision; an improvement is shown in the report
    # as significant with its interval; the command's exit code and `gate check
    # optimization_complete` both agree with the decision (0 for A, D, budget; 1 otherwise)
    project = REPO / "configs" / "overfit_project.yaml"
    if not project.is_file():
        pytest.skip("configs/overfit_project.yaml is not there yet")
    runs = str(tmp_path / "runs")
    monkeypatch.setenv("PHASEGATE_WORKERS", "1")  # seeds in this process: no worker start-up
    for step in (
        ["init", "overfit", "--config", str(project), "--runs", runs],
        ["baseline", "overfit", "--runs", runs],
        ["diagnose", "overfit", "--runs", runs],
    ):
        assert main(step) == 0, step[0]

    code = main(["optimize", "overfit", "--strategy", "targeted", "--runs", runs])
    store = Store.open("overfit", runs)
    decision = store.get("phase4.decision")
    assert decision in ("A", "B", "C", "D", "budget")
    assert store.get("phase4.reason")
    assert code == (0 if decision in FINAL else 1)
    assert store.current == ("optimized" if decision in FINAL else "diagnosed")

    gate = main(["gate", "check", "optimization_complete", "--project", "overfit", "--runs", runs])
    assert (gate == 0) == (decision in FINAL)

    report = (store.run_dir / "phase4" / "optimization_results.md").read_text()
    twin = json.loads((store.run_dir / "phase4" / "optimization_results.json").read_text())
    assert f"## Decision: {decision}" in report
    comparison = store.get("phase4.comparison")
    if comparison and comparison["verdict"] == "significant":
        assert "**significant**" in report
        # one unit for gains and intervals: points of accuracy
        low, high = 100 * comparison["ci_low"], 100 * comparison["ci_high"]
        interval = f"[{low:+.2f}, {high:+.2f}] points"
        assert interval in report
        assert comparison["ci_low"] > store.get("project.min_effect")
        assert twin["comparison"]["p_value"] == comparison["p_value"]
    base, best = twin["arms"]["baseline"], twin["arms"]["optimized"]
    shown = {k: (comparison or {}).get(k) for k in ("verdict", "p_value", "ci_low", "ci_high")}
    print(  # the numbers, for `pytest -s`
        f"\noverfit targeted: decision {decision}; baseline {base['mean']:.4f} ± "
        f"{base['std']:.4f}, {best['label']} {best['mean']:.4f} ± {best['std']:.4f}; {shown}"
    )
