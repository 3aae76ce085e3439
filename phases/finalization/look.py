"""Phase 5's export, one test look and comparison, through the trainer protocol, for any
trainer (phasegate's own is one implementation of it) and any task.

`run_finalize` trains and selects, then hands over here:

1. export (`export`): the built-in trainer's runs are exported by
   `workflow.trainer.export` (state dict and TorchScript); a user's trainer's by
   its `export(run_dir, dest)` into `phase5/model/` (without one, the kept run's
   best checkpoint is copied there as `model.pt`); either way what it wrote is
   `phase5.export` (`exported`);
2. the one look, through the test lock (`take_look`): the trainer's `evaluate` on
   the test split, on the final run and on the baseline's, bound to their best
   checkpoints' hashes (the test lock stays phasegate's: a trainer is asked for
   the test split only inside it). For the built-in trainer the same look runs
   the TorchScript export in a fresh process on the final run's test inputs;
   `check_torchscript` then requires it to predict as `evaluate` did;
3. the comparison (`compare`), honest about the task: a classifier's McNemar and
   per-class metrics; a regression's paired per-example squared errors; another
   task's the trainer's own metrics, with the paired test said not to apply
   (`phase5.not_applicable`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from phases.finalization.evaluation import compare_on_test, compare_values, plot_confusion
from phases.finalization.exported import export_fact
from phases.finalization.predictions import (
    TestEvaluation,
    read_trainer_metrics,
    recorded_evaluation,
)
from phases.finalization.testlock import open_test_split
from phases.finalization.training import Selection
from workflow.errors import WorkFailed, WrongState
from workflow.facts import ExportFact
from workflow.protocol import TrainerProtocol
from workflow.store import Store
from workflow.trainer.export import export_model
from workflow.trainer.result import CHECKPOINT_DIR

__all__ = ["BUILTIN_EXPORT", "check_torchscript", "check_trainer", "compare", "export",
           "headline_facts", "take_look"]

BUILTIN_EXPORT = "the built-in export (state dict and TorchScript, workflow.trainer.export)"


def check_trainer(trainer: TrainerProtocol, project: str) -> None:
    """Refuse Phase 5, before anything runs, for a trainer that cannot take the test look."""
    missing = trainer.missing()
    if missing:
        raise WrongState(
            f"cannot finalize {project}: trainer {trainer.spec!r} lacks "
            f"{', '.join(missing)}, which Phase 5's one look at the test split asks; "
            "see the README's \"Your own trainer\"")


def model_file(selection: Selection) -> Path:
    """The file a look at this run binds to: its best checkpoint, else its metrics."""
    run_dir = Path(selection.run_dir)
    best = run_dir / CHECKPOINT_DIR / "best.pt"
    return best if best.is_file() else run_dir / "metrics.json"


def export(trainer: TrainerProtocol, selection: Selection, run_dir: Path, model_dir: Path
           ) -> ExportFact:
    """The kept run packaged into `model_dir` (see the module docstring): what was written."""
    model_dir.mkdir(parents=True, exist_ok=True)
    if trainer.builtin_runs:
        written = export_model(Path(selection.checkpoint), model_dir, seed=selection.seed,
                               selection=selection.to_dict())
        method = BUILTIN_EXPORT
    elif trainer.export is not None:
        written = trainer.export(Path(selection.run_dir), model_dir) or {}
        method = f"the trainer's export ({trainer.spec})"
    else:
        shutil.copyfile(model_file(selection), model_dir / "model.pt")
        written = {"model": "model.pt"}
        method = "the kept run's best checkpoint, copied (the trainer has no export)"
    return export_fact(run_dir, model_dir, method=method, manifest=written, seed=selection.seed)


def take_look(store: Store, trainer: TrainerProtocol, selection: Selection, base: Selection,
              *, who: str, scripted: Path | None) -> None:
    """The one look at the test split, through the lock, by the trainer's evaluate; with
    `scripted`, the TorchScript export run on the final run's test inputs in the same look."""
    models = {"final": model_file(selection), "baseline": model_file(base)}
    if scripted is not None:
        models["torchscript"] = scripted
    with open_test_split(store, who=who, models=models) as session:
        session.evaluate("final", Path(selection.run_dir), models["final"], trainer)
        session.evaluate("baseline", Path(base.run_dir), models["baseline"], trainer)
        if scripted is not None:
            session.predict_torchscript("torchscript", scripted, like="final")


def check_torchscript(evaluation: TestEvaluation) -> str:
    """How the TorchScript export was verified: it must predict every test example as the
    final run's evaluate did (raises `WorkFailed` naming the examples otherwise)."""
    final = evaluation.predictions.get("final")
    scripted = evaluation.predictions.get("torchscript")
    if final is None or scripted is None:
        raise WorkFailed("the test look lacks the final model's or the TorchScript predictions")
    differ = [i for i, (a, b) in enumerate(zip(final, scripted, strict=True)) if a != b]
    if differ:
        raise WorkFailed(
            f"the TorchScript export, loaded in a fresh process, predicts differently from the "
            f"final model's evaluate on {len(differ)} of {len(final)} test examples (first: "
            f"{differ[:5]}); the export is not usable")
    return (f"the TorchScript file, loaded in a fresh process, predicts as the final model's "
            f"evaluate on all {len(final)} test examples")


def compare(store: Store, trainer: TrainerProtocol, plots_dir: Path
            ) -> tuple[dict[str, Any], dict[str, str]]:
    """test_metrics.json's content for the task, and the plots it drew."""
    evaluation = recorded_evaluation(store)
    assert evaluation is not None
    own = read_trainer_metrics(store)
    if trainer.task == "classification":
        metrics = compare_on_test(evaluation)
        metrics["task"] = "classification"
        metrics["trainer_metrics"] = {} if trainer.builtin_runs else own
        plots = {}
        for arm in ("final", "baseline"):
            path = plot_confusion(plots_dir / f"confusion_{arm}.png",
                                  metrics[arm]["confusion"], metrics["class_names"],
                                  title=f"{arm} model on the test set ({metrics['n']} examples)")
            plots[arm] = f"plots/{path.name}"
        return metrics, plots
    return compare_values(evaluation, task=trainer.task, trainer_metrics=own), {}


def headline_facts(metrics: dict[str, Any], metric: str) -> dict[str, Any]:
    """`phase5.test` (and what goes beside it) from test_metrics.json's content."""
    task = metrics.get("task", "classification")
    if task == "classification":
        return {"test": {
            "n": metrics["n"], "task": task,
            "final_accuracy": metrics["final"]["accuracy"],
            "baseline_accuracy": metrics["baseline"]["accuracy"],
            "accuracy_difference": metrics["accuracy_difference"],
            "final_macro_f1": metrics["final"]["macro_f1"],
            "final_balanced_accuracy": metrics["final"]["balanced_accuracy"],
        }, "mcnemar": metrics["mcnemar"]}
    if task == "regression":
        final, base = metrics["final"]["mse"], metrics["baseline"]["mse"]
        return {"test": {"n": metrics["n"], "task": task, "measure": "mse",
                         "final_value": final, "baseline_value": base,
                         "difference": final - base},
                "paired": metrics["comparison"], "not_applicable": metrics["not_applicable"]}
    name = f"test_{metric.removeprefix('val_')}"
    own = metrics["trainer_metrics"]
    final_value = own.get("final", {}).get(name)
    base_value = own.get("baseline", {}).get(name)
    difference = None if final_value is None or base_value is None else final_value - base_value
    return {"test": {"n": metrics["n"], "task": task, "measure": name,
                     "final_value": final_value, "baseline_value": base_value,
                     "difference": difference},
            "not_applicable": metrics["not_applicable"]}
