"""Phase 5 with the store: final training, the one look at the test set, export, report, finalize.

`run_finalize` holds the project's lock throughout and reads top to bottom:

1. refuse unless the project is `optimized` and `optimization_complete` would
   pass (checked first: a look at the test set is never spent on a project that
   cannot be finalized);
2. train the chosen config on every seed (resuming) and keep the median seed;
3. pick the baseline's median seed (retrained once if its baseline was imported);
4. export the kept model (the trainer's export, in its formats: `phase5.export`);
5. the one look at the test split, through the test lock and the trainer's
   `evaluate`, for any trainer: the final run, the baseline's, and for the
   built-in trainer its TorchScript file in a fresh process (phases.finalization.look);
6. compare on the test set, write test_metrics.json and the confusion matrices;
7. write the report, record `phase5.completed`, take `finalize`, and render the
   report once more with the finalize time;
8. record the sha256 of every file the model card reports on (`phase5.files`):
   promotion refuses a file that changed since.

Killed anywhere and rerun, it resumes: finished seeds are not retrained, and a
recorded look at the test set is read back from its CSV, never taken again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phases.finalization import look
from phases.finalization.predictions import PREDICTIONS_FILE, recorded_evaluation
from phases.finalization.report import report_context
from phases.finalization.testlock import recover_unrecorded
from phases.finalization.training import (
    FINAL_DIR,
    Selection,
    baseline_selection,
    chosen_config,
    final_values,
    select_median,
    train_final,
)
from workflow.checks import exported_names
from workflow.errors import GateFailed, StateError
from workflow.facts import TestFact, read_facts
from workflow.gates import check_gate, stale_records, write_gate_results
from workflow.inputs import changed_files, hash_files
from workflow.io import atomic_write_json, read_json
from workflow.machine import MACHINE, require, take
from workflow.progress import Progress, QuietProgress
from workflow.protocol import TrainerProtocol, resolve_trainer_protocol
from workflow.stats import summarize
from workflow.store import Store, now
from workflow.trainer.export import TORCHSCRIPT_FILE
from workflow.trainer.result import RunResult

__all__ = ["PHASE_DIR", "REPORT_FILE", "Finalization", "card_files", "record_card_files",
           "run_finalize", "summarize_test"]

PHASE_DIR = "phase5"
MODEL_DIR = f"{PHASE_DIR}/model"
REPORT_FILE = f"{PHASE_DIR}/finalization_report.md"
METRICS_FILE = f"{PHASE_DIR}/test_metrics.json"
PLOTS_DIR = f"{PHASE_DIR}/plots"
TEMPLATE = "finalization_report.md.j2"
GATE = "optimization_complete"
TRANSITION = "finalize"
ACTION = "finalize"  # the phase graph's name for this work
PHASE = "Phase 5"


@dataclass(frozen=True)
class Finalization:
    """What Phase 5 did (or found done)."""

    project: str
    already: bool  # the project was finalized before this call
    report: Path
    model_dir: Path
    test: TestFact | None  # phase5.test: the test set's headline numbers


def run_finalize(
    store: Store,
    *,
    who: str = "phasegate",
    workers: int | None = None,
    progress: Progress | None = None,
) -> Finalization:
    """Run Phase 5 on an optimized project (see the module docstring); its steps and trainings
    are shown on `progress`."""
    shown = progress or QuietProgress()

    def step(text: str) -> None:
        shown.step(PHASE, text)

    run_dir = store.run_dir
    with store.lock():
        if MACHINE.is_past(store.current, ACTION):
            if store.current == "finalized" and _report_pending(store):
                _write_report(store)  # killed between the transition and the last render
            if store.current == "finalized" and read_facts(store).phase5.files is None:
                record_card_files(store, who=who)  # killed before the files were recorded
            return Finalization(store.name, True, run_dir / REPORT_FILE, run_dir / MODEL_DIR,
                                read_facts(store).phase5.test)
        require(store, ACTION)
        _precheck(store)
        trainer = resolve_trainer_protocol(store.project.trainer)
        look.check_trainer(trainer, store.name)  # before any training or look

        step("final training")
        chosen = chosen_config(store)
        measure = store.project.target.measure
        metric = measure.name
        results = train_final(store, chosen, workers=workers, progress=shown)
        values = final_values(results, metric)
        selection = select_median(values, metric=measure, root=run_dir / FINAL_DIR,
                                  arm="final training")
        summary = summarize(list(values.values())).to_dict()
        store.record(PHASE_DIR, {
            "config_source": chosen.source,
            "config_file": str(chosen.path),
            "final": {"runs": len(results), "seeds": len(values), metric: summary},
            "selection": selection.to_dict(),
            "final_training_completed": True,
        }, who=who)

        step("baseline model")
        base = baseline_selection(store, workers=workers, progress=shown)
        store.record(PHASE_DIR, {"baseline_selection": base.to_dict()}, who=who)

        metrics, export, plots = _look(store, trainer, selection, base, who=who, step=step)
        test_facts = look.headline_facts(metrics, metric)
        store.record(PHASE_DIR, test_facts, who=who)

        step("report")
        context_args = {"chosen": chosen, "selection": selection, "baseline_selection": base,
                        "final_results": results, "metrics": metrics, "export": export,
                        "plots": plots}
        atomic_write_json(run_dir / PHASE_DIR / "report_inputs.json", _inputs(
            selection, base, plots))
        _write_report(store, **context_args)
        store.record(PHASE_DIR, {"completed": True, "completed_at": now()}, who=who)

        take(store, TRANSITION, who, f"Phase 5: {summarize_test(test_facts['test'])}")
        _write_report(store, **context_args)  # now with the finalize time and gate record
        record_card_files(store, who=who)
    return Finalization(store.name, False, run_dir / REPORT_FILE, run_dir / MODEL_DIR,
                        TestFact.model_validate(test_facts["test"]))


def _look(store: Store, trainer: TrainerProtocol, selection: Selection, base: Selection, *,
          who: str, step: Callable[[str], None]
          ) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Export, the one test look and the comparison, through the trainer protocol (look)."""
    run_dir = store.run_dir
    model_dir = run_dir / MODEL_DIR
    export_file = run_dir / PHASE_DIR / "export.json"
    evaluation = recorded_evaluation(store) or recover_unrecorded(store, who=who)
    # once a look opened on the exported files they are never exported again: the look
    # is completed on those very bytes (a fresh trace is not byte-identical)
    opened = read_facts(store).phase5.test_look is not None
    if not export_file.is_file() or (evaluation is None and not opened):
        step("export")
        fact = look.export(trainer, selection, run_dir, model_dir)
        atomic_write_json(export_file, fact.model_dump(mode="json"))
    export = read_json(export_file)
    # the built-in trainer's TorchScript file is checked in the look, against evaluate
    scripted = model_dir / TORCHSCRIPT_FILE if trainer.builtin_runs else None
    if evaluation is None:
        step("test set (the one look)")
        look.take_look(store, trainer, selection, base, who=who, scripted=scripted)
        evaluation = recorded_evaluation(store)
        assert evaluation is not None
    if scripted is not None:
        export["verified"] = look.check_torchscript(evaluation)
    store.record(PHASE_DIR, {"export": export}, who=who)

    step("test comparison")
    metrics, plots = look.compare(store, trainer, run_dir / PLOTS_DIR)
    atomic_write_json(run_dir / METRICS_FILE, metrics)
    return metrics, export, plots


def summarize_test(test: dict[str, Any]) -> str:
    """The test set's result in one line (`phase5.test` as a dict), for any task: the finalize
    move's note and what `phasegate run` says after Phase 5."""
    if test.get("final_accuracy") is not None:
        return (f"test accuracy {test['final_accuracy']:.4f} vs baseline "
                f"{test['baseline_accuracy']:.4f}")
    measure = test.get("measure") or "metric"

    def fmt(value: float | None) -> str:
        return "not reported" if value is None else f"{value:.4f}"
    return (f"test {measure} {fmt(test.get('final_value'))} vs baseline "
            f"{fmt(test.get('baseline_value'))}")


def card_files(store: Store) -> list[Path]:
    """The files the model card reports on: the model, its export, the test look and its
    numbers, the report, the chosen config and the baseline model it was compared with."""
    run_dir = store.run_dir
    phase5 = read_facts(store).phase5
    exported = [run_dir / name for name in exported_names(phase5.export)]
    files = [*exported,
             run_dir / PREDICTIONS_FILE, run_dir / METRICS_FILE,
             run_dir / PHASE_DIR / "export.json", run_dir / REPORT_FILE,
             run_dir / REPORT_FILE.replace(".md", ".json")]
    files += sorted((run_dir / PLOTS_DIR).glob("confusion_*.png"))
    if phase5.config_file:
        files.append(Path(phase5.config_file))
    if phase5.baseline_selection is not None:
        files.append(Path(phase5.baseline_selection.checkpoint))
    return files


def record_card_files(store: Store, *, who: str = "phasegate") -> dict[str, str]:
    """Record `phase5.files`: the sha256 of each of `card_files`, after checking that the
    models are the ones the test look evaluated."""
    look = read_facts(store).phase5.test_look
    opened = {named["file"]: named["sha256"] for named in look.models.values()} if look else {}
    changed = changed_files(store.run_dir, opened)
    if changed:
        raise StateError(
            f"{store.name}: a model changed after the test look evaluated it: "
            + "; ".join(c.describe() for c in changed)
            + "; restore it: the report describes the model that was evaluated")
    files = hash_files(store.run_dir, card_files(store))
    store.record(PHASE_DIR, {"files": files}, who=who)
    return files


def _precheck(store: Store) -> None:
    """Refuse, before any training or test look, when `finalize` would be refused at the end."""
    state = store.load_state()
    result = check_gate(store, GATE)
    stale = stale_records(store, state, exclude={GATE})
    if result.passed and not stale:
        return
    report = write_gate_results(store, result)
    lines = [f"  - {i.id} [{i.status}]: {i.reason}" for i in result.failing]
    lines += [f"  - {line}" for line in stale]
    passing = sum(i.ok for i in result.items)
    error = GateFailed(
        f"cannot finalize {store.name}: gate {GATE} is {result.status} ({passing} of "
        f"{len(result.items)} items pass), so Phase 5 does not start; see {report}\n"
        + "\n".join(lines))
    store.append_event("refused", {"transition": TRANSITION, "from": state.state,
                                   "reason": str(error), "who": "phasegate"})
    raise error


def _inputs(selection: Selection, base: Selection, plots: dict[str, str]) -> dict[str, Any]:
    return {"selection": selection.to_dict(), "baseline_selection": base.to_dict(),
            "plots": plots}


def _report_pending(store: Store) -> bool:
    twin = store.run_dir / REPORT_FILE.replace(".md", ".json")
    if not twin.is_file():
        return True
    return str(read_json(twin).get("finalized_at", "")).startswith("pending")


def _write_report(store: Store, **context_args: Any) -> Path:
    """Render the report; without arguments, rebuild them from the run directory."""
    from workflow.reports import write_report

    if not context_args:
        context_args = _rebuild(store)
    context = report_context(store, **context_args)
    return write_report(store.run_dir / REPORT_FILE, TEMPLATE, context,
                        project_dir=store.project_dir)


def _rebuild(store: Store) -> dict[str, Any]:
    run_dir = store.run_dir
    saved = read_json(run_dir / PHASE_DIR / "report_inputs.json")
    chosen = chosen_config(store)
    final_dir = run_dir / FINAL_DIR
    exported = read_facts(store).phase5.export
    results = {seed: RunResult.load(final_dir / f"seed-{seed}") for seed in store.project.seeds}
    return {
        "chosen": chosen,
        "selection": _selection(saved["selection"]),
        "baseline_selection": _selection(saved["baseline_selection"]),
        "final_results": results,
        "metrics": read_json(run_dir / METRICS_FILE),
        # as recorded after the look (with how it was verified), as the first render had it
        "export": exported.model_dump(mode="json") if exported is not None
        else read_json(run_dir / PHASE_DIR / "export.json"),
        "plots": saved["plots"],
    }


def _selection(data: dict[str, Any]) -> Selection:
    values = {int(k): float(v) for k, v in data["values"].items()}
    return Selection(**{**data, "values": values})
