"""Phase 5: final training, the median seed, the export, the test comparison and the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from phases.finalization import (
    arm_metrics,
    chosen_config,
    load_final_model,
    run_finalize,
    select_median,
)
from phases.finalization.testlock import PREDICTIONS_FILE, recorded_evaluation
from tests.finalization.helpers import create, empty_values
from workflow.errors import GateFailed, Refused, RunFailed, StateError
from workflow.facts import MovesFacts
from workflow.gates import check_gate
from workflow.metric import Direction, Metric
from workflow.store import Store

# loads the TorchScript file in a new interpreter (no phasegate imported) and prints its classes
FRESH = """
import json, sys, torch
model = torch.jit.load(sys.argv[1])
x = torch.load(sys.argv[2], weights_only=True)
with torch.inference_mode():
    print(json.dumps(model(x).argmax(1).tolist()))
"""


def _test_inputs(store: Store) -> tuple[object, list[int]]:
    """The test split's inputs before normalization, as the exported model takes them.

    The test reads the test split directly (tests may; phasegate itself only through the lock).
    """
    import torch

    from workflow.trainer.builtin import test_inputs

    saved = torch.load(store.run_dir / "phase5/model/model.pt", weights_only=True)
    test = test_inputs(saved["config"]["data"])
    return test.inputs, test.targets


# rule: finalize records every fact the finalization_complete gate checks and moves the
# project to finalized; only the person's sign-off is left pending
def test_finalize_records_what_the_gate_checks(finalized: Store) -> None:
    store = finalized
    assert store.current == "finalized"
    facts = store.get("phase5")
    assert facts["final_training_completed"] is True and facts["completed"] is True
    assert facts["test_evaluations"] == 1
    assert 0 <= facts["mcnemar"]["p_value"] <= 1
    assert facts["selection"]["rule"] == "median"
    gate = check_gate(store, "finalization_complete")
    assert [i.id for i in gate.failing] == ["model_card_reviewed"]
    assert gate.failing[0].status == "pending"
    transitions = [e["transition"] for e in store.events() if e["event"] == "transition"]
    assert transitions[-1] == "finalize"


# rule: `phasegate finalize` shows each step and the final training's epochs, and ends with
# both test accuracies, McNemar's p, where the report and model are, and what to do next
def test_finalize_cli_output(finalized_with_output: tuple[Store, str]) -> None:
    store, output = finalized_with_output
    for step in ("final training", "baseline model", "export", "test set (the one look)",
                 "report"):
        assert f"Phase 5 · {step}" in output
    assert "final seed 2" in output  # a bar per seed of the final training
    test = store.get("phase5.test")
    assert f"test accuracy {100 * test['final_accuracy']:.2f}% (final)" in output
    assert "McNemar p = " in output
    assert f"report: {store.run_dir / 'phase5/finalization_report.md'}" in output
    # the project is positional on every command (issue 15)
    assert f"phasegate gate sign {store.name} finalization_complete model_card_reviewed" in output


# rule: the kept model is the median seed by the target metric (the better middle one for an
# even count), in the metric's direction; fewer than 3 usable seeds is refused
def test_the_kept_seed_is_the_median(tmp_path: Path) -> None:
    def pick(values: dict[int, float], direction: Direction = "maximize") -> int:
        metric = Metric.named("val_accuracy", direction)
        return select_median(values, metric=metric, root=tmp_path, arm="final").seed

    assert pick({0: 0.90, 1: 0.95, 2: 0.92}) == 2
    assert pick({0: 0.90, 1: 0.95, 2: 0.92, 3: 0.97}) == 1
    assert pick({0: 0.30, 1: 0.10, 2: 0.20, 3: 0.40}, "minimize") == 2
    with pytest.raises(RunFailed, match="at least 3"):
        pick({0: 0.9, 1: float("nan"), 2: 0.8})


# rule: a usable run whose metric was not finite (null in metrics.json) gives no value to
# select from, rather than a TypeError
def test_final_values_skip_a_null_metric() -> None:
    from phases.finalization.training import final_values
    from workflow.trainer.result import RunResult, RunStatus

    def run(seed: int, value: float | None) -> RunResult:
        return RunResult(status=RunStatus.COMPLETED, seed=seed, history=[], best_epoch=1,
                         best={"val_accuracy": value}, final={}, monitor="val_accuracy",
                         wall_time_s=0.0, samples_per_sec=0.0)

    assert final_values({0: run(0, 0.9), 1: run(1, None)}, "val_accuracy") == {0: 0.9}


# rule: per-class precision, recall and F1 and the confusion matrix come from the predictions
def test_per_class_metrics() -> None:
    metrics = arm_metrics([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ["a", "b", "c"])
    assert metrics["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert metrics["accuracy"] == pytest.approx(0.6)
    a, b, c = metrics["per_class"]
    assert (a["precision"], a["recall"]) == (pytest.approx(0.5), pytest.approx(0.5))
    assert (b["precision"], b["recall"], b["f1"]) == (pytest.approx(2 / 3), 1.0, pytest.approx(0.8))
    assert (c["f1"], c["support"]) == (0.0, 1)
    low, high = metrics["accuracy_ci95"]
    assert 0 < low < 0.6 < high < 1


# rule: test_metrics.json holds both accuracies and McNemar on the very predictions recorded by
# the test lock; the confusion matrices are PNG files
def test_the_test_comparison_uses_the_recorded_predictions(finalized: Store) -> None:
    metrics = json.loads((finalized.run_dir / "phase5/test_metrics.json").read_text())
    evaluation = recorded_evaluation(finalized)
    assert evaluation is not None and metrics["n"] == evaluation.size
    right = sum(p == t for p, t in zip(evaluation.predictions["final"], evaluation.targets,
                                       strict=True))
    assert metrics["final"]["accuracy"] == pytest.approx(right / evaluation.size)
    assert metrics["mcnemar"]["n"] == evaluation.size
    assert metrics["mcnemar"]["accuracy_b"] == pytest.approx(metrics["final"]["accuracy"])
    for arm in ("final", "baseline"):
        png = finalized.run_dir / f"phase5/plots/confusion_{arm}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# rule: model.pt loads with weights_only=True and holds the resolved config, the class names,
# the normalization and the input shape; rebuilt, it predicts what the test lock recorded
def test_model_pt_is_self_describing(finalized: Store) -> None:
    import torch

    path = finalized.run_dir / "phase5/model/model.pt"
    saved = torch.load(path, weights_only=True)
    assert {"model", "config", "class_names", "normalization", "input_shape"} <= set(saved)
    assert saved["class_names"] == [str(d) for d in range(10)]
    assert saved["seed"] == finalized.get("phase5.selection.seed")
    inputs, _ = _test_inputs(finalized)
    with torch.inference_mode():
        predicted = load_final_model(path)(inputs).argmax(1).tolist()
    evaluation = recorded_evaluation(finalized)
    assert evaluation is not None and predicted == evaluation.predictions["final"]


# rule (acceptance): the TorchScript export, loaded in a new process, gives the same test
# predictions as the final model
def test_torchscript_in_a_new_process_predicts_as_the_final_model(
    finalized: Store, tmp_path: Path
) -> None:
    import torch

    inputs, targets = _test_inputs(finalized)
    torch.save(inputs, tmp_path / "x.pt")
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", FRESH,
         str(finalized.run_dir / "phase5/model/model_torchscript.pt"), str(tmp_path / "x.pt")],
        capture_output=True, text=True, check=True, timeout=120,
    )
    scripted = json.loads(done.stdout)
    with torch.inference_mode():
        final = load_final_model(finalized.run_dir / "phase5/model/model.pt")(inputs)
    assert scripted == final.argmax(1).tolist()
    assert len(scripted) == len(targets) > 0


# rule: the report renders every value (no None, nan or empty cell) and has a JSON twin
# holding the same numbers as test_metrics.json
def test_the_report_has_no_empty_value(finalized: Store) -> None:
    report = (finalized.run_dir / "phase5/finalization_report.md").read_text()
    assert empty_values(report) == []
    for section in ("From baseline to final", "Test results", "Gates", "Model card", "Limits"):
        assert f"## {section}" in report or f"### {section}" in report
    twin = json.loads((finalized.run_dir / "phase5/finalization_report.json").read_text())
    assert not twin["finalized_at"].startswith("pending")
    assert twin["test"]["n"] == json.loads(
        (finalized.run_dir / "phase5/test_metrics.json").read_text())["n"]


# rule: finalize on a finalized project does nothing and says so; the test split is not
# looked at again
def test_finalize_twice_is_a_no_op(finalized_copy: Store) -> None:
    csv = (finalized_copy.run_dir / PREDICTIONS_FILE).read_bytes()
    result = run_finalize(finalized_copy, who="test")
    assert result.already
    assert finalized_copy.get("phase5.test_evaluations") == 1
    assert (finalized_copy.run_dir / PREDICTIONS_FILE).read_bytes() == csv


# rule: Phase 5 runs only from optimized
def test_finalize_is_refused_before_optimized(tmp_path: Path) -> None:
    store = create(tmp_path / "proj", tmp_path / "runs", start="diagnosed")
    with pytest.raises(Refused, match="Phase 5 runs from optimized"):
        run_finalize(store)
    assert store.get("phase5", None) is None


# rule: when optimization_complete would fail, Phase 5 does not start: nothing trains and the
# test split is not looked at
def test_finalize_is_refused_when_the_optimization_gate_fails(tmp_path: Path) -> None:
    store = create(tmp_path / "proj", tmp_path / "runs", start="optimized")
    store.record("phase3", {"strategy": "targeted"})
    with pytest.raises(GateFailed, match="gate optimization_complete") as refused:
        run_finalize(store)
    assert "optimization_results.md" in str(refused.value)
    assert store.get("phase5", None) is None
    assert not (store.run_dir / "phase5").exists()
    assert store.current == "optimized"


# rule: Phase 5 trains the baseline's config when `optimized` was entered by skip (the moves
# facts say how), else Phase 4's chosen config; a project created at optimized (no move into
# it) falls back on Phase 3's strategy
def test_the_chosen_config_follows_the_moves(tmp_path: Path) -> None:
    store = create(tmp_path / "proj", tmp_path / "runs", start="optimized")
    store.record("phase3", {"strategy": "skip", "potential": 1.0})
    chosen = chosen_config(store)
    assert chosen.source == "baseline" and "Phase 4 was skipped" in chosen.why
    store.record("phase3", {"strategy": "targeted"})
    with pytest.raises(StateError, match="Phase 4's chosen config is missing"):
        chosen_config(store)
    skipped = MovesFacts().after("skip", "diagnosed", "optimized", "2026-01-01T10:00:00+00:00")
    store.record("moves", skipped.model_dump(mode="json"))
    assert chosen_config(store).source == "baseline"  # how it came in, not what Phase 3 says


# rule: a report rendered again from the run directory (a finalize killed before its last
# render) says what the first said of the export: how the TorchScript file was verified
def test_a_report_rendered_again_keeps_the_export_verification(finalized_copy: Store) -> None:
    from phases.finalization.phase import REPORT_FILE, _write_report

    verified = finalized_copy.get("phase5.export.verified")
    assert verified.startswith("the TorchScript file, loaded in a fresh process, predicts as")
    report = finalized_copy.run_dir / REPORT_FILE
    assert verified in report.read_text()
    report.unlink()
    _write_report(finalized_copy)
    assert verified in report.read_text()
