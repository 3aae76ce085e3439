"""The finalization report's context: the path from baseline to final, the test, gates, model card.

`report_context` gathers everything `templates/finalization_report.md.j2`
shows from the run directory (facts, state, events, the runs' files); the same
dict is the report's JSON twin. Every value is already text where the report
shows text, so the template never renders a blank: a missing number is said in
words ("not measured"), not left empty.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from phases.finalization.training import Chosen, Selection
from phases.finalization.training import final_values as usable_values
from workflow import __version__
from workflow.facts import Facts, Phase3Facts, read_facts
from workflow.machine import MACHINE
from workflow.metric import Metric
from workflow.stats import summarize
from workflow.store import Store, now
from workflow.trainer.commented import config_diff
from workflow.trainer.config import TrainConfig, load_train_config
from workflow.trainer.result import RunResult

__all__ = ["config_changes", "fmt_metric", "report_context"]

NOT_RECORDED = "not recorded"
ACCURACY = Metric.named("accuracy")  # the test set's measure: a rate, higher is better


def fmt_metric(metric: Metric, value: float | None) -> str:
    """0.9689 as '96.89%' for a rate, 0.1234 as '0.1234' for a loss; None as words."""
    return metric.format(value)


def fmt_points(metric: Metric, value: float, reference: float | None = None) -> str:
    """A difference in the gains' one unit (Metric.points): points, or percent of `reference`."""
    return f"{metric.points(value, reference):+.2f} {metric.unit}"


def fmt_summary(metric: Metric, values: Sequence[float], where: str = "") -> str:
    """'96.89% ± 0.67% (val, 5 seeds)' with where='val'."""
    where = f"{where}, " if where else ""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "not measured"
    s = summarize(finite)
    spread = s.std if s.std is not None and math.isfinite(s.std) else 0.0
    if metric.is_rate:
        return f"{100 * s.mean:.2f}% ± {100 * spread:.2f}% ({where}{s.n} seeds)"
    return f"{s.mean:.4f} ± {spread:.4f} ({where}{s.n} seeds)"


def fmt_p(p: float) -> str:
    """'p < 0.0001' or 'p = 0.0312'."""
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.4f}"


def config_changes(before: TrainConfig, after: TrainConfig) -> list[str]:
    """Each setting that differs, as 'optimizer.lr: 0.01 -> 0.1' (name and seed left out)."""
    rows = config_diff(before, after, ignore=("name", "seed"))
    return [f"{r['path']}: {r['from']} -> {r['to']}" for r in sorted(rows, key=lambda r: r["path"])]


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _changes_text(changes: list[str]) -> str:
    return "; ".join(f"`{c}`" for c in changes) if changes else "none"


def _phase4_rows(facts: Facts, metric: Metric) -> list[dict[str, str]]:
    """One row per Phase 4 attempt, from the attempts Phase 4 recorded (phase4.attempts)."""
    rows = []
    for record in facts.phase4.attempts:
        changes = [f"{c.path}: {c.from_} -> {c.to}" for c in record.changes]
        values = list(record.candidate.values or []) if record.candidate else []
        rows.append({
            "step": f"Phase 4, attempt {record.attempt} ({record.strategy})",
            "metric": fmt_summary(metric, values, "val"),
            "change": f"from {record.base or 'the baseline'}: {_changes_text(changes)}; decision "
                      f"{record.decision}: {record.reason or NOT_RECORDED}",
        })
    return rows


def _gate_rows(store: Store) -> list[dict[str, str]]:
    state = store.load_state()
    rows = []
    for gate in MACHINE.gates:
        # the move a person takes through the gate (the walk takes an auto move by itself)
        move = next(t for t in MACHINE.transitions.values() if t.gate == gate and not t.auto)
        record = state.gates.get(gate)
        if record is not None:
            rows.append({"gate": gate, "status": "passed", "when": record.passed_at,
                         "how": f"on {record.transition}, by {record.by}, "
                                f"{len(record.artifacts)} artifacts hashed"})
        elif gate == "finalization_complete":
            rows.append({"gate": gate, "status": "checked on promotion", "when": "not yet",
                         "how": f"phasegate promote {store.name}; it needs the sign-off "
                                "model_card_reviewed of a person who read this report"})
        else:
            rows.append({"gate": gate, "status": "not passed yet", "when": "not yet",
                         "how": f"checked on {move.name}"})
    return rows


def _timeline(store: Store) -> list[dict[str, str]]:
    rows = []
    for event in store.events():
        if event.get("event") != "transition":
            continue
        gate = event.get("gate") or {}
        rows.append({
            "time": str(event.get("time")),
            "move": str(event.get("transition")),
            "path": f"{event.get('from')} -> {event.get('to')}",
            "who": str(event.get("who") or "phasegate"),
            "gate": f"{gate.get('gate')} {gate.get('status')}" if gate else "no gate",
        })
    return rows


def report_context(
    store: Store,
    *,
    chosen: Chosen,
    selection: Selection,
    baseline_selection: Selection,
    final_results: Mapping[int, RunResult],
    metrics: dict[str, Any],
    export: dict[str, Any],
    plots: dict[str, str],
) -> dict[str, Any]:
    """Everything the finalization report shows, JSON-ready."""
    project = store.project
    measure = project.target.measure
    metric = measure.name
    facts = read_facts(store)
    baseline_config = load_train_config(project.baseline)
    final_config = chosen.config
    changes = config_changes(baseline_config, final_config)
    base_summary = facts.baseline.summary(metric)
    base_values = list(base_summary.values or []) if base_summary else []
    final_values = list(usable_values(final_results, metric).values())
    phase3 = facts.phase3
    final, base, test = metrics["final"], metrics["baseline"], metrics["mcnemar"]
    p_value = float(test["p_value"])
    alpha = project.alpha
    significant = p_value < alpha
    difference = float(metrics["accuracy_difference"])
    if significant:
        verdict = (f"the final model's test accuracy differs from the baseline's "
                   f"(McNemar {fmt_p(p_value)}, under {alpha:g}): "
                   f"{'better' if difference > 0 else 'worse'} by {abs(100 * difference):.2f} "
                   "points")
    else:
        verdict = (f"no significant difference on the test set (McNemar {fmt_p(p_value)}, not "
                   f"under {alpha:g}): the test set cannot tell the two models apart")
    goal = project.target.goal
    goal_text = fmt_metric(measure, goal) if goal is not None else "none set"

    path_rows = [{
        "step": "Baseline",
        "metric": fmt_summary(measure, base_values, "val"),
        "change": f"the baseline config `{project.baseline.name}`",
    }]
    if phase3 != Phase3Facts():  # Phase 3 recorded something
        causes = ", ".join(phase3.root_causes or []) or "none"
        potential = phase3.potential
        potential_text = f"{potential:.1f} points" if potential is not None else NOT_RECORDED
        path_rows.append({
            "step": "Phase 3, diagnosis",
            "metric": "no training (reads the baseline's curves)",
            "change": f"strategy {phase3.strategy or NOT_RECORDED}; root causes: {causes}; "
                      f"potential {potential_text}",
        })
    path_rows += _phase4_rows(facts, measure)
    path_rows.append({
        "step": "Phase 5, final training",
        "metric": fmt_summary(measure, final_values, "val"),
        "change": f"{chosen.why}; changes from the baseline: {_changes_text(changes)}",
    })
    path_rows.append({
        "step": "Phase 5, test set (once)",
        "metric": f"{fmt_metric(ACCURACY, final['accuracy'])} vs baseline "
                  f"{fmt_metric(ACCURACY, base['accuracy'])} (test accuracy)",
        "change": f"final model seed {selection.seed} against baseline seed "
                  f"{baseline_selection.seed}; McNemar {fmt_p(p_value)}",
    })

    path_rows = [{key: _cell(value) for key, value in row.items()} for row in path_rows]
    final_table = []
    for seed in sorted(final_results):
        result = final_results[seed]
        value = result.best.get(metric)
        final_table.append({
            "seed": str(seed),
            "status": result.status.value,
            "epochs": str(result.extra.get("epochs_run", len(result.history))),
            "best_epoch": str(result.best_epoch) if result.best_epoch is not None else "none",
            "value": fmt_metric(measure, float(value) if value is not None else None),
            "kept": "**kept**" if seed == selection.seed else "no",
        })

    names = metrics["class_names"]
    per_class = []
    for k, name in enumerate(names):
        f, b = final["per_class"][k], base["per_class"][k]
        per_class.append({
            "name": name,
            "support": str(f["support"]),
            "precision": f"{f['precision']:.3f}",
            "recall": f"{f['recall']:.3f}",
            "f1": f"{f['f1']:.3f}",
            "baseline_f1": f"{b['f1']:.3f}",
        })
    split = (final_results[selection.seed].extra.get("split") or {}) \
        if selection.seed in final_results else {}
    sizes = split.get("sizes", {})
    sizes_text = ", ".join(f"{k} {v}" for k, v in sizes.items()) or NOT_RECORDED
    data = final_config.data
    at_most = f", at most {data.max_samples} samples" if data.max_samples else ""
    low, high = final["accuracy_ci95"]
    limits = [
        f"Measured on one test split of {metrics['n']} examples: the test accuracy "
        f"{fmt_metric(ACCURACY, final['accuracy'])} has a Wilson 95% interval of "
        f"{fmt_metric(ACCURACY, low)} to {fmt_metric(ACCURACY, high)}.",
        f"Valid for inputs drawn like the `{data.dataset}` data it was trained on; "
        "no robustness, calibration or fairness evaluation was done.",
        f"Across seeds the validation {metric} is {fmt_summary(measure, final_values)}; the kept "
        "seed is the median, so a retraining should land near it, not above it.",
    ]
    if goal is not None and final_values:
        mean = sum(final_values) / len(final_values)
        met = measure.meets(mean, goal)  # the mean is the goal or better
        limits.append(f"The goal {goal_text} ({metric}) is {'met' if met else 'not met'} by the "
                      f"mean of the final seeds ({fmt_metric(measure, mean)}).")
    worst = min(final["per_class"], key=lambda c: c["f1"])
    limits.append(f"The weakest class is {worst['class']} (F1 {worst['f1']:.3f} on "
                  f"{worst['support']} test examples).")

    card_metrics = [
        {"name": f"validation {metric} (mean ± std over seeds)",
         "value": fmt_summary(measure, final_values)},
        {"name": f"validation {metric} of the kept seed {selection.seed}",
         "value": fmt_metric(measure, selection.value)},
        {"name": "test accuracy", "value": fmt_metric(ACCURACY, final["accuracy"])},
        {"name": "test balanced accuracy",
         "value": fmt_metric(ACCURACY, final["balanced_accuracy"])},
        {"name": "test macro-F1", "value": f"{final['macro_f1']:.4f}"},
        {"name": "baseline test accuracy", "value": fmt_metric(ACCURACY, base["accuracy"])},
    ]
    from workflow.trainer.export import versions

    found_versions = versions()
    model = final_config.model
    if model.name == "mlp":
        shape = f"mlp, hidden widths {model.hidden_widths()}, dropout {model.dropout:g}"
    elif model.name == "cnn":
        shape = f"cnn, channels {model.channels}, dropout {model.dropout:g}"
    elif ":" in model.name:  # a plug-in model: the generic knobs never reach it, its kwargs do
        args = ", ".join(f"{k}={v!r}" for k, v in sorted(model.kwargs.items()))
        shape = f"{model.name}({args})"
    else:
        shape = f"{model.name}, dropout {model.dropout:g}"
    context: dict[str, Any] = {
        "title": f"Finalization report: {project.name}",
        "generated_at": now(),
        "version": __version__,
        "finalized_at": _finalized_at(facts),
        "project": {
            "name": project.name,
            "metric": metric,
            "direction": project.target.direction,
            "goal_text": goal_text,
            "seeds": ", ".join(str(s) for s in project.seeds),
            "alpha": f"{alpha:g}",
        },
        "summary": {
            "final_test": fmt_metric(ACCURACY, final["accuracy"]),
            "baseline_test": fmt_metric(ACCURACY, base["accuracy"]),
            "difference": fmt_points(ACCURACY, difference),
            "p_value": fmt_p(p_value),
            "verdict": verdict,
            "significant": significant,
        },
        "path": path_rows,
        "final_training": {
            "source": _source_text(chosen.source, facts.phase5.final_source),
            "final_source": (facts.phase5.final_source.model_dump(mode="json")
                             if facts.phase5.final_source else None),
            "config": str(chosen.path),
            "why": chosen.why,
            "changes": changes,
            "changes_text": _changes_text(changes),
            "seeds": final_table,
            "summary": fmt_summary(measure, final_values),
        },
        "selection": selection.to_dict(),
        "baseline_selection": baseline_selection.to_dict(),
        "test": {
            "n": metrics["n"],
            "evaluated_at": metrics["evaluated_at"],
            "sha256": metrics["predictions_sha256"],
            "rows": [
                {"model": f"final (seed {selection.seed})",
                 "accuracy": fmt_metric(ACCURACY, final["accuracy"]),
                 "ci": f"{fmt_metric(ACCURACY, low)} to {fmt_metric(ACCURACY, high)}",
                 "balanced": fmt_metric(ACCURACY, final["balanced_accuracy"]),
                 "macro_f1": f"{final['macro_f1']:.4f}"},
                {"model": f"baseline (seed {baseline_selection.seed})",
                 "accuracy": fmt_metric(ACCURACY, base["accuracy"]),
                 "ci": f"{fmt_metric(ACCURACY, base['accuracy_ci95'][0])} to "
                       f"{fmt_metric(ACCURACY, base['accuracy_ci95'][1])}",
                 "balanced": fmt_metric(ACCURACY, base["balanced_accuracy"]),
                 "macro_f1": f"{base['macro_f1']:.4f}"},
            ],
            "mcnemar": {
                "b": test["b"], "c": test["c"], "method": test["method"],
                "statistic": f"{test['statistic']:.4g}", "p_value": fmt_p(p_value),
            },
            "per_class": per_class,
            "plots": plots,
        },
        "gates": _gate_rows(store),
        "timeline": _timeline(store),
        "model_card": {
            "model": f"{shape}; {export['parameters']} parameters; input shape "
                     f"{export['input_shape']}; {len(names)} classes",
            "classes": ", ".join(names),
            "data": f"`{data.dataset}`, split with seed {data.split_seed} "
                    f"(val {_fraction(data.val_fraction)}, test {_fraction(data.test_fraction)}"
                    f"{at_most}"
                    f"): {sizes_text}; test split {split.get('test_source', 'held out')}, "
                    f"split indices sha256 {str(split.get('index_sha256', NOT_RECORDED))[:16]}",
            "intended_use": f"Classifying inputs like those of `{data.dataset}` (shape "
                            f"{export['input_shape']}) into {len(names)} classes. It was trained "
                            "and selected on the train and validation splits only, and measured "
                            "once on the held-out test split.",
            "limits": limits,
            "seeds": f"trained on seeds {', '.join(str(s) for s in sorted(final_results))}; "
                     f"kept seed {selection.seed} ({selection.rule}): {selection.why}",
            "metrics": card_metrics,
            "files": [
                {"file": "model/model.pt", "what": "state dict, resolved config, class names, "
                 "input shape, normalization; torch.load(path, weights_only=True)"},
                {"file": "model/model_torchscript.pt",
                 "what": f"TorchScript ({export['torchscript_method']}), normalization "
                         "included; torch.jit.load(path); checked in a fresh process"},
                {"file": "test_predictions.csv", "what": "every test example's target and "
                 "each model's prediction (the one look, sha256 recorded)"},
                {"file": "test_metrics.json", "what": "accuracies, per-class metrics, "
                 "confusion matrices, McNemar"},
            ],
            "versions": ", ".join(f"{k} {v}" for k, v in found_versions.items()),
        },
    }
    return context


def _fraction(value: float | None) -> str:
    """A split's fraction, or how it was given when the dataset brings its own split."""
    return "as given by the dataset" if value is None else f"{value:g}"


def _finalized_at(facts: Facts) -> str:
    entry = facts.moves.entry("finalized")
    if entry is not None and entry.transition == "finalize":
        return entry.at
    return "pending (set when the finalize transition is taken)"


def _source_text(source: str, final_source: Any) -> str:
    """Where the final runs came from, as the report says it: reused from an earlier arm (no
    work done twice) or trained in Phase 5."""
    if final_source is None:
        return source
    if final_source.reused:
        return (f"{source}; the runs of {final_source.source} reused, not trained again: the "
                f"same config (sha256 {final_source.config_sha256[:12]}, split included) on "
                "the same seeds")
    return f"{source}; trained in Phase 5 ({final_source.why})"
