"""examples/regression: a user's own trainer and data (scikit-learn's diabetes set), scored by
validation MSE and minimized, walked by `phasegate run` from nothing to promoted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workflow.cli import main
from workflow.store import Store

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "examples" / "regression" / "project.yaml"


@pytest.fixture(scope="module")
def promoted(tmp_path_factory: pytest.TempPathFactory) -> Store:
    runs = tmp_path_factory.mktemp("regression") / "runs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PHASEGATE_WORKERS", "1")
        code = main(["run", str(PROJECT), "--runs", str(runs), "--sign-off", "tester"])
    assert code == 0
    return Store.open("diabetes", runs)


# rule (acceptance): the regression example reaches promoted
def test_the_regression_example_is_promoted(promoted: Store) -> None:
    assert promoted.current == "promoted"
    assert (promoted.run_dir / "promoted" / "model" / "model_torchscript.pt").is_file()


# rule (acceptance): Phases 3-5 work in the project's metric: Phase 3's findings read val_mse,
# Phase 4's decisions are gains in MSE (lower is better), Phase 5 compares test MSE
def test_findings_and_decisions_are_in_mse(promoted: Store) -> None:
    findings = json.loads((promoted.run_dir / "phase3" / "findings.json").read_text())
    assert findings["findings"], "Phase 3 found nothing to say about the MSE curves"
    report = (promoted.run_dir / "phase3" / "diagnostic_report.md").read_text()
    assert "Target: **val_mse** (minimize)" in report
    attempts = promoted.get("phase4.attempts")
    assert attempts and all("val_mse" in json.dumps(a) for a in attempts)
    decision = promoted.get("phase4.decision")
    assert decision in ("A", "D", "budget")
    baseline = promoted.get("baseline.val_mse.mean")
    final = promoted.get("phase5.final.val_mse.mean")
    if decision == "A":  # a significant gain: lower MSE than the baseline
        assert final < baseline


# rule: Phase 5 looked at the test split once, through the trainer's evaluate, and compared
# the paired per-example squared errors; McNemar is said not to apply
def test_phase5_compares_per_example_errors(promoted: Store) -> None:
    test = promoted.get("phase5.test")
    assert test["task"] == "regression" and test["measure"] == "mse"
    assert test.get("final_accuracy") is None
    paired = promoted.get("phase5.paired")
    assert 0 <= paired["p_value"] <= 1 and paired["n"] == test["n"]
    assert promoted.get("phase5.mcnemar", None) is None
    assert any("McNemar" in line for line in promoted.get("phase5.not_applicable"))
    assert promoted.get("phase5.test_evaluations") == 1
    events = [e["event"] for e in promoted.events()]
    assert events.count("test_lock_opened") == 1
    report = (promoted.run_dir / "phase5" / "finalization_report.md").read_text()
    assert "paired t-test on per-example squared errors" in report
    assert "accuracy" not in report.lower().replace("mcnemar", "")


# rule (issue 13): the trainer's own config (DiabetesConfig) is the baseline, and Phase 3's
# recommendations are patches on its own keys, which Phase 4's attempts train
def test_recommendations_patch_the_trainers_own_keys(promoted: Store) -> None:
    import yaml

    from workflow.protocol import resolve_trainer_protocol

    model: Any = resolve_trainer_protocol("diabetes_trainer:DiabetesTrainer").config_model
    assert model is not None and model.__name__ == "DiabetesConfig"
    fields = set(model.model_fields)
    changes = [k for r in promoted.get("phase3.recommendations") for k in r["changes"]]
    assert changes and set(changes) <= fields
    tried = yaml.safe_load((promoted.run_dir / "phase4" / "attempt-1" /
                            "optimization_config.yaml").read_text())
    assert set(tried) == fields
    model.model_validate(tried)
