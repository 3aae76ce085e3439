"""Phase 5 on a user's trainer: export, the one test look and the comparison, all through
the trainer protocol (`workflow.protocol`), for any task.

`run_finalize` trains and selects as for phasegate's own trainer, then hands
over here:

1. export: the trainer's `export(run_dir, dest)` into `phase5/model/` (without
   one, the kept run's best checkpoint is copied there as `model.pt`);
2. the one look, through the test lock: the trainer's `evaluate` on the test split
   on the final run and on the baseline's, bound to their best checkpoints'
   hashes (the test lock stays phasegate's: the trainer is asked for the test
   split only inside it);
3. the comparison, honest about the task: a classifier's McNemar and per-class
   metrics as for the built-in trainer; a regression's paired per-example
   squared errors; another task's the trainer's own metrics, with the paired
   test said not to apply (`phase5.not_applicable`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from phases.finalization.evaluation import compare_on_test, compare_values, plot_confusion
from phases.finalization.exported import export_fact
from phases.finalization.predictions import read_trainer_metrics, recorded_evaluation
from phases.finalization.testlock import open_test_split
from phases.finalization.training import Selection
from workflow.errors import WrongState
from workflow.facts import ExportFact
from workflow.protocol import TrainerProtocol
from workflow.store import Store
from workflow.trainer.result import CHECKPOINT_DIR

__all__ = ["check_trainer", "compare_own", "export_own", "headline_facts", "look_own"]


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


def export_own(trainer: TrainerProtocol, selection: Selection, run_dir: Path, model_dir: Path
               ) -> ExportFact:
    """The trainer's export of the kept run into `model_dir`: what it wrote, in any format."""
    model_dir.mkdir(parents=True, exist_ok=True)
    if trainer.export is not None:
        written = trainer.export(Path(selection.run_dir), model_dir) or {}
        method = f"the trainer's export ({trainer.spec})"
    else:
        shutil.copyfile(model_file(selection), model_dir / "model.pt")
        written = {"model": "model.pt"}
        method = "the kept run's best checkpoint, copied (the trainer has no export)"
    return export_fact(run_dir, model_dir, method=method, manifest=written, seed=selection.seed)


def look_own(store: Store, trainer: TrainerProtocol, selection: Selection, base: Selection, *,
             who: str) -> None:
    """The one look at the test split, through the lock, by the trainer's evaluate."""
    models = {"final": model_file(selection), "baseline": model_file(base)}
    with open_test_split(store, who=who, models=models) as look:
        look.evaluate("final", Path(selection.run_dir), models["final"], trainer)
        look.evaluate("baseline", Path(base.run_dir), models["baseline"], trainer)


def compare_own(store: Store, trainer: TrainerProtocol, plots_dir: Path
                ) -> tuple[dict[str, Any], dict[str, str]]:
    """test_metrics.json's content for the task, and the plots it drew."""
    evaluation = recorded_evaluation(store)
    assert evaluation is not None
    if trainer.task == "classification":
        metrics = compare_on_test(evaluation)
        metrics["task"] = "classification"
        metrics["trainer_metrics"] = read_trainer_metrics(store)
        plots = {}
        for arm in ("final", "baseline"):
            path = plot_confusion(plots_dir / f"confusion_{arm}.png",
                                  metrics[arm]["confusion"], metrics["class_names"],
                                  title=f"{arm} model on the test set ({metrics['n']} examples)")
            plots[arm] = f"plots/{path.name}"
        return metrics, plots
    return compare_values(evaluation, task=trainer.task,
                          trainer_metrics=read_trainer_metrics(store)), {}


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
