"""Phase 5 on a user's trainer (phases.finalization.look): refused up front without
`evaluate`; the comparison fits the task, and what does not apply is said."""

from __future__ import annotations

from pathlib import Path

import pytest

from phases.finalization.evaluation import compare_values
from phases.finalization.look import headline_facts
from phases.finalization.predictions import TestEvaluation
from tests.cli.conftest import CLI, optimized, write_project
from tests.cli.conftest import cli as cli  # the fixture: phasegate ARGV in this process
from workflow.store import RUNS_ENV


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(RUNS_ENV, raising=False)
    monkeypatch.setenv("PHASEGATE_WORKERS", "1")
    return tmp_path


# rule (acceptance): a bare fit with no evaluate beside it is refused at init, one line
# naming what it lacks, exit 2, before Phases 3 and 4 train on a trainer that cannot finish
def test_init_refuses_a_bare_fit_without_evaluate(home: Path, cli: CLI) -> None:
    write_project(home / "proj", trainer="tests.optimization.fake_trainer:fit")
    code, _, err = cli("init", "demo", "--config", "proj/project.yaml")
    assert code == 2
    assert err.count("\n") == 1
    assert "trainer 'tests.optimization.fake_trainer:fit' lacks evaluate(run_dir, split)" in err
    assert not (home / "runs" / "demo").exists()


# fit imported from elsewhere: evaluate is looked up in the module the project names
TRAIN_ONLY = "from tests.optimization.fake_trainer import fit\n"


# rule: a trainer that lost its evaluate after init (its module edited) is refused by Phase 5
# before any training or look, naming what it lacks (exit 1)
def test_phase5_refuses_a_trainer_that_lost_evaluate(
    home: Path, cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from workflow.protocol import resolve_trainer_protocol

    module = f"own_{home.name.replace('-', '_')}"
    trainer = home / "proj" / f"{module}.py"
    write_project(home / "proj", trainer=f"{module}:fit")
    trainer.write_text(TRAIN_ONLY + "def evaluate(run_dir, split):\n    raise AssertionError\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    store = optimized(home, cli)
    trainer.write_text(TRAIN_ONLY)  # evaluate is gone
    monkeypatch.delitem(sys.modules, module)
    resolve_trainer_protocol.cache_clear()
    code, _, err = cli("finalize", "demo")
    assert code == 1
    assert f"trainer '{module}:fit' lacks evaluate(run_dir, split)" in err
    assert not (store.run_dir / "phase5" / "final").exists()
    assert store.current == "optimized"


def _evaluation(targets: list[float], final: list[float], baseline: list[float]
                ) -> TestEvaluation:
    return TestEvaluation(targets=targets, predictions={"final": final, "baseline": baseline},
                          class_names=[], evaluated_at="now", by="test", sha256="0" * 64)


# rule: a regression is compared on the paired per-example squared errors; McNemar is said
# not to apply
def test_a_regression_is_compared_on_paired_errors() -> None:
    targets = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    final = [0.1, 1.1, 1.9, 3.1, 4.0, 5.1]
    baseline = [0.5, 1.6, 1.2, 3.7, 4.6, 5.5]
    metrics = compare_values(_evaluation(targets, final, baseline), task="regression",
                             trainer_metrics={})
    paired = metrics["comparison"]
    assert paired["mean_difference"] < 0 and paired["ci95"][1] < 0 and paired["p_value"] < 0.05
    assert metrics["final"]["mse"] == pytest.approx(sum((f - t) ** 2 for f, t in
                                                        zip(final, targets, strict=True)) / 6)
    facts = headline_facts(metrics, "val_mse")
    assert facts["test"]["measure"] == "mse" and facts["paired"] is paired
    assert "mcnemar" not in facts
    assert any("McNemar" in line for line in facts["not_applicable"])


# rule: another task (CIDEr, BLEU) is compared by the trainer's own metrics only; the paired
# test is said not to apply rather than run on numbers that are not errors
def test_another_task_reports_the_trainers_metrics() -> None:
    metrics = compare_values(_evaluation([1, 2], [1, 2], [2, 1]), task="other",
                             trainer_metrics={"final": {"test_cider": 1.1},
                                              "baseline": {"test_cider": 0.9}})
    assert metrics["comparison"] is None
    assert any("paired per-example test" in line for line in metrics["not_applicable"])
    facts = headline_facts(metrics, "val_cider")
    assert facts["test"]["final_value"] == 1.1
    assert facts["test"]["difference"] == pytest.approx(0.2)
