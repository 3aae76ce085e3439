"""phases.diagnostic.diagnosis and report on real runs of the embedded default: acceptance, report.

The overfitting baseline (configs/overfit.yaml) and the lr-5.0 baseline
(configs/high_lr.yaml) are trained for real on 3 seeds, in this process with
one thread (a second or two per seed); everything else reads those runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from phases.diagnostic.diagnosis import Diagnosis, diagnose
from phases.diagnostic.evidence import Evidence, SeedRun
from phases.diagnostic.report import report_context, write_diagnosis
from workflow.errors import WorkflowError
from workflow.project import ProjectConfig
from workflow.reports import render
from workflow.trainer.config import TrainConfig, load_train_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SEEDS = (0, 1, 2)
REGULARIZATION = {"add_augmentation", "add_dropout", "add_weight_decay", "add_early_stopping"}


def _train(config: TrainConfig, folder: Path) -> list[SeedRun]:
    import torch

    from workflow.trainer import fit

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread is fastest, and fair to other tests
    try:
        return [SeedRun.from_result(fit(config, s, folder / f"seed-{s}")) for s in SEEDS]
    finally:
        torch.set_num_threads(threads)


def _project(baseline: str, **fields: Any) -> ProjectConfig:
    return ProjectConfig.model_validate(
        {"name": "accept", "baseline": str(CONFIGS / baseline), "seeds": list(SEEDS),
         "fresh_seeds": [100, 101, 102], "target": {"goal": 0.85}, **fields}
    )


def _diagnosis(runs: list[SeedRun], config: TrainConfig, project: ProjectConfig) -> Diagnosis:
    target = project.target
    evidence = Evidence(runs=runs, config=config, target=target.measure, goal=target.goal,
                        min_effect=project.min_effect, alpha=project.alpha)
    return diagnose(evidence, preference=project.strategy)


@pytest.fixture(scope="module")
def overfit(tmp_path_factory: pytest.TempPathFactory) -> Diagnosis:
    config = load_train_config(CONFIGS / "overfit.yaml")
    runs = _train(config, tmp_path_factory.mktemp("overfit"))
    return _diagnosis(runs, config, _project("overfit.yaml"))


@pytest.fixture(scope="module")
def high_lr(tmp_path_factory: pytest.TempPathFactory) -> Diagnosis:
    config = load_train_config(CONFIGS / "high_lr.yaml").with_changes({"training.epochs": 3})
    runs = _train(config, tmp_path_factory.mktemp("high_lr"))
    return _diagnosis(runs, config, _project("high_lr.yaml"))


def test_overfit_baseline_is_diagnosed_as_overfitting(overfit: Diagnosis) -> None:
    # acceptance: the deliberately overfitting baseline shows a train-val gap above 15 points,
    # overfitting is its root cause, and the recommendations lead with regularization
    found = {f.id: f for f in overfit.findings}
    gap = found["overfitting"].evidence
    print(f"overfit: {gap}")  # the measured numbers, for the record (pytest -s)
    assert gap["gap_points"] > 15
    assert gap["train_accuracy"] >= 99
    assert overfit.plan.root_causes == ["overfitting"]
    names = [r.name for r in overfit.plan.recommendations]
    assert REGULARIZATION & set(names)
    assert overfit.plan.recommendations[0].finding == "overfitting"
    assert overfit.plan.recommendations[0].name in REGULARIZATION
    assert overfit.plan.strategy == "targeted"
    assert overfit.plan.potential >= 3


def test_recommended_regularization_truly_helps(overfit: Diagnosis, tmp_path: Path) -> None:
    # the preview config (the baseline with every recommendation applied) beats the overfitting
    # baseline on the same seeds by more than 2 points of mean val accuracy
    preview = overfit.evidence.config.with_changes(overfit.plan.changes)
    runs = _train(preview, tmp_path)
    before = [float(r.history[-1]["val_accuracy"]) for r in overfit.evidence.runs]
    best_before = overfit.evidence.target_values()
    best_after = [max(r.column("val_accuracy")) for r in runs]
    gain = 100 * (sum(best_after) - sum(best_before)) / len(SEEDS)
    print(f"overfit -> preview: {best_before} -> {best_after} (+{gain:.2f} points); last epoch "
          f"before {before}")
    assert gain > 2.0


def test_high_lr_baseline_is_diagnosed_with_lr_too_high(high_lr: Diagnosis) -> None:
    # acceptance: at lr 5.0 the loss explodes in every seed; the diagnosis says lr too high and
    # its first recommendation lowers the lr into Adam's usual range
    found = {f.id: f for f in high_lr.findings}
    high = found["lr_too_high"]
    print(f"high lr: {high.evidence}")
    assert high.severity == "high"
    assert high.evidence["diverged_seeds"] == 3
    assert high.evidence["lr"] == 5.0
    first = high_lr.plan.recommendations[0]
    assert first.finding == "lr_too_high"
    assert first.changes["optimizer.lr"] <= 0.01


@pytest.mark.parametrize("case", ["overfit", "high_lr"])
def test_report_renders_with_no_empty_value(
    case: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # every value the report shows is there: no None, NaN, blank table cell or unrendered tag;
    # the plots it links exist relative to the report; the JSON twin holds the same numbers
    diagnosis: Diagnosis = request.getfixturevalue(case)
    project = _project(f"{'overfit' if case == 'overfit' else 'high_lr'}.yaml")
    write_diagnosis(diagnosis, project, tmp_path, source="trained")
    text = (tmp_path / "diagnostic_report.md").read_text()
    prose = text.split("## Phase 4 config preview")[0]  # the YAML below may hold [] and null
    for empty in ("None", "nan", "null", "{{", "}}", "()", "[]", " .", "**."):
        assert empty not in prose, f"{empty!r} in the report"
    assert not re.search(r"\| *\|", prose), "an empty table cell"
    assert "None" not in text and "nan" not in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links and all((tmp_path / link).is_file() for link in links)
    assert all(not Path(link).is_absolute() for link in links)
    twin = json.loads((tmp_path / "diagnostic_report.json").read_text())
    findings = json.loads((tmp_path / "findings.json").read_text())
    evidence = [f["evidence"] for f in findings["findings"]]
    assert [f["evidence"] for f in twin["findings"]] == evidence
    assert twin["plan"]["potential"] == findings["plan"]["potential"]
    for finding in diagnosis.findings:
        assert finding.text in text
    for rec in diagnosis.plan.recommendations:
        assert f"| {rec.id} | {rec.priority} |" in text
    assert "## Strategy: " + diagnosis.plan.strategy in text
    assert (tmp_path / "optimization_config.preview.yaml").read_text() in text


def test_template_asking_for_a_missing_value_fails_loudly(
    overfit: Diagnosis, tmp_path: Path
) -> None:
    # StrictUndefined: a context without `plan` is an error naming it, and nothing is written
    context = report_context(overfit, _project("overfit.yaml"), plots=[], preview="x: 1\n",
                             source="trained")
    render("diagnostic_report.md.j2", context)  # the full context renders
    del context["plan"]
    with pytest.raises(WorkflowError, match="'plan' is undefined"):
        render("diagnostic_report.md.j2", context)
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "diagnostic_report.md.j2").write_text("# {{ title }} {{ no_such_value }}\n")
    with pytest.raises(WorkflowError, match="no_such_value"):
        render("diagnostic_report.md.j2", context, tmp_path)
