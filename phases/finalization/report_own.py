"""The finalization report of a project on a user's trainer, for any task and metric.

The built-in trainer's report (`report.py`) reads its own checkpoint format and
speaks in test accuracy. A user's trainer is known only through the protocol:
its task, its metric, its evaluate's predictions and metrics and its export's
manifest, so this report says what was measured in the project's metric, what
the test comparison was for the task, and which comparisons did not apply.
Rendered with `templates/finalization_report_own.md.j2`; the dict is its JSON twin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phases.finalization.report import (
    _changes_text,
    _gate_rows,
    _phase4_rows,
    _timeline,
    config_changes,
    fmt_metric,
    fmt_p,
    fmt_summary,
)
from phases.finalization.training import Chosen, Selection
from phases.finalization.training import final_values as usable_values
from workflow import __version__
from workflow.facts import read_facts
from workflow.metric import Metric
from workflow.protocol import resolve_trainer_protocol
from workflow.store import Store, now
from workflow.trainer.config import load_train_config
from workflow.trainer.result import RunResult

__all__ = ["TEMPLATE", "own_report_context"]

TEMPLATE = "finalization_report_own.md.j2"
ACCURACY = Metric.named("accuracy")


def own_report_context(
    store: Store, *, chosen: Chosen, selection: Selection, baseline_selection: Selection,
    final_results: Mapping[int, RunResult], metrics: dict[str, Any], export: dict[str, Any],
    plots: dict[str, str],
) -> dict[str, Any]:
    """Everything the report shows, JSON-ready (every value already text)."""
    project = store.project
    measure = project.target.measure
    metric = measure.name
    facts = read_facts(store)
    trainer = resolve_trainer_protocol(project.trainer)
    task = metrics.get("task", trainer.task)
    changes = config_changes(load_train_config(project.baseline), chosen.config)
    base_summary = facts.baseline.summary(metric)
    base_values = list(base_summary.values or []) if base_summary else []
    final_values = list(usable_values(final_results, metric).values())
    rows, comparison = _test_rows(metrics, task, selection, baseline_selection, project.alpha)
    path = [{"step": "Baseline", "metric": fmt_summary(measure, base_values, "val"),
             "change": f"the baseline config `{project.baseline.name}`"}]
    path += _phase4_rows(facts, measure)
    path.append({"step": "Phase 5, final training",
                 "metric": fmt_summary(measure, final_values, "val"),
                 "change": f"{chosen.why}; changes from the baseline: {_changes_text(changes)}"})
    path.append({"step": "Phase 5, test set (once)", "metric": rows[0]["result"],
                 "change": comparison})
    goal = project.target.goal
    limits = [f"Measured once on one test split of {metrics['n']} examples, through the "
              f"trainer's evaluate ({trainer.spec}).",
              f"Across seeds the validation {metric} is {fmt_summary(measure, final_values)}; "
              "the kept seed is the median, so a retraining should land near it."]
    if goal is not None and final_values:
        mean = sum(final_values) / len(final_values)
        limits.append(f"The goal {fmt_metric(measure, goal)} ({metric}) is "
                      f"{'met' if measure.meets(mean, goal) else 'not met'} by the mean of the "
                      f"final seeds ({fmt_metric(measure, mean)}).")
    limits += [f"Not applicable: {line}." for line in metrics.get("not_applicable") or []]
    seeds = [{"seed": str(seed), "status": result.status.value,
              "epochs": str(len(result.history)),
              "best_epoch": str(result.best_epoch) if result.best_epoch is not None else "none",
              "value": fmt_metric(measure, result.best.get(metric)),
              "kept": "**kept**" if seed == selection.seed else "no"}
             for seed, result in sorted(final_results.items())]
    return {
        "title": f"Finalization report: {project.name}",
        "generated_at": now(),
        "version": __version__,
        "finalized_at": _finalized(facts),
        "project": {"name": project.name, "metric": metric,
                    "direction": project.target.direction, "task": task,
                    "trainer": trainer.spec,
                    "goal_text": fmt_metric(measure, goal) if goal is not None else "none set",
                    "seeds": ", ".join(str(s) for s in project.seeds),
                    "alpha": f"{project.alpha:g}"},
        "summary": {"test": rows[0]["result"], "baseline_test": rows[1]["result"],
                    "comparison": comparison},
        "path": path,
        "final_training": {"config": str(chosen.path), "source": chosen.source,
                           "why": chosen.why, "changes_text": _changes_text(changes),
                           "seeds": seeds, "summary": fmt_summary(measure, final_values)},
        "selection": selection.to_dict(),
        "baseline_selection": baseline_selection.to_dict(),
        "test": {"n": metrics["n"], "evaluated_at": metrics["evaluated_at"],
                 "sha256": metrics["predictions_sha256"], "rows": rows,
                 "comparison": comparison,
                 "not_applicable": list(metrics.get("not_applicable") or []),
                 "trainer_metrics": [
                     {"model": arm, "result": ", ".join(f"{k} {v:.4g}" for k, v in
                                                        sorted(values.items())) or "none"}
                     for arm, values in sorted((metrics.get("trainer_metrics") or {}).items())],
                 "plots": plots},
        "gates": _gate_rows(store),
        "timeline": _timeline(store),
        "model_card": {
            "model": f"trained by {trainer.spec} ({task}); exported by {export['method']}",
            "files": [{"file": f, "what": "written by the export"} for f in export["files"]],
            "intended_use": f"The task of `{trainer.spec}`, on inputs like its own data. It was "
                            "trained and selected on the train and validation splits only, and "
                            "measured once on the held-out test split.",
            "limits": limits,
            "seeds": f"trained on seeds {', '.join(str(s) for s in sorted(final_results))}; "
                     f"kept seed {selection.seed} ({selection.rule}): {selection.why}",
            "manifest": ", ".join(f"{k}: {v}" for k, v in export.get("trainer", {}).items())
                        or "none",
        },
    }


def _test_rows(metrics: dict[str, Any], task: str, selection: Selection, base: Selection,
               alpha: float) -> tuple[list[dict[str, str]], str]:
    """Each model's test numbers as text, and the comparison's verdict, for the task."""
    models = ((f"final (seed {selection.seed})", "final"),
              (f"baseline (seed {base.seed})", "baseline"))
    if task == "classification":
        rows = [{"model": label, "result": f"accuracy {fmt_metric(ACCURACY, m['accuracy'])} "
                 f"(Wilson 95% {fmt_metric(ACCURACY, m['accuracy_ci95'][0])} to "
                 f"{fmt_metric(ACCURACY, m['accuracy_ci95'][1])})"}
                for label, arm in models for m in [metrics[arm]]]
        test = metrics["mcnemar"]
        return rows, (f"McNemar ({test['method']}): {fmt_p(test['p_value'])}; "
                      f"{_verdict(test['p_value'], alpha)}")
    if task == "regression":
        rows = [{"model": label, "result": f"MSE {m['mse']:.4f} (95% {m['mse_ci95'][0]:.4f} to "
                 f"{m['mse_ci95'][1]:.4f}), RMSE {m['rmse']:.4f}, MAE {m['mae']:.4f}"}
                for label, arm in models for m in [metrics[arm]]]
        paired = metrics["comparison"]
        low, high = paired["ci95"]
        return rows, (f"{paired['method']}: final minus baseline {paired['mean_difference']:+.4f} "
                      f"(95% {low:+.4f} to {high:+.4f}), {fmt_p(paired['p_value'])}; "
                      f"{_verdict(paired['p_value'], alpha)}")
    own = metrics.get("trainer_metrics") or {}
    rows = [{"model": label, "result": ", ".join(f"{k} {v:.4g}" for k, v in
                                                 sorted(own.get(arm, {}).items())) or "none"}
            for label, arm in models]
    return rows, "no paired test: not applicable to this task (the trainer's metrics only)"


def _verdict(p: float, alpha: float) -> str:
    if p < alpha:
        return f"a significant difference (under {alpha:g})"
    return f"no significant difference (not under {alpha:g}): the test set cannot tell them apart"


def _finalized(facts: Any) -> str:
    entry = facts.moves.entry("finalized")
    if entry is not None and entry.transition == "finalize":
        return str(entry.at)
    return "pending (set when the finalize transition is taken)"
