"""The finalization report's context: the path from baseline to final, the test, gates, model card.

`report_context` gathers everything `templates/finalization_report.md.j2`
shows from the run directory (facts, state, events, the runs' files), for any
trainer and task: what differs (the test section by task, the model card by
trainer) comes from `report_sections`, and the template shows what is there.
The same dict is the report's JSON twin. Every value is already text where the
report shows text, so the template never renders a blank: a missing number is
said in words ("not measured"), not left empty.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from phases.finalization.report_sections import model_card, test_section
from phases.finalization.training import Chosen, Selection
from phases.finalization.training import final_values as usable_values
from workflow import __version__
from workflow.facts import Facts, Phase3Facts, read_facts
from workflow.machine import MACHINE
from workflow.metric import Metric
from workflow.protocol import resolve_trainer_protocol
from workflow.safe_yaml import read_yaml
from workflow.stats import summarize
from workflow.store import Store, now
from workflow.trainer.commented import flatten, scalar
from workflow.trainer.export import versions
from workflow.trainer.result import CONFIG_FILE, RunResult

__all__ = ["config_changes", "fmt_metric", "report_context"]

NOT_RECORDED = "not recorded"


def fmt_metric(metric: Metric, value: float | None) -> str:
    """0.9689 as '96.89%' for a rate, 0.1234 as '0.1234' for a loss; None as words."""
    return metric.format(value)


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


def config_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Each setting that differs between two configs as runs record them (any trainer's), as
    'optimizer.lr: 0.01 -> 0.1' (name and seed left out)."""
    flat_before, flat_after = flatten(dict(before)), flatten(dict(after))
    return [f"{path}: {scalar(flat_before.get(path))} -> {scalar(flat_after.get(path))}"
            for path in sorted(set(flat_before) | set(flat_after))
            if path not in ("name", "seed") and flat_before.get(path) != flat_after.get(path)]


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
    """Everything the finalization report shows, JSON-ready, for any trainer and task."""
    project = store.project
    measure = project.target.measure
    metric = measure.name
    facts = read_facts(store)
    trainer = resolve_trainer_protocol(project.trainer)
    task = str(metrics.get("task", trainer.task))
    changes = config_changes(_run_config(baseline_selection, project.baseline),
                             chosen.config.model_dump(mode="json"))
    base_summary = facts.baseline.summary(metric)
    base_values = list(base_summary.values or []) if base_summary else []
    final_values = list(usable_values(final_results, metric).values())
    test = test_section(metrics, task, selection, baseline_selection, project.alpha)
    goal = project.target.goal
    goal_text = fmt_metric(measure, goal) if goal is not None else "none set"

    path_rows = [{
        "step": "Baseline",
        "metric": fmt_summary(measure, base_values, "val"),
        "change": f"the baseline config `{project.baseline.name}`",
    }]
    phase3 = facts.phase3
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
        "metric": test["headline"],
        "change": f"final model seed {selection.seed} against baseline seed "
                  f"{baseline_selection.seed}; {test['comparison']}",
    })
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

    limits = [f"Measured once, on one test split of {metrics['n']} examples"
              + (", through the trainer's evaluate" if not trainer.builtin_runs else "")
              + (f": {test['interval']}." if test["interval"] else ".")]
    limits.append(f"Across seeds the validation {metric} is {fmt_summary(measure, final_values)}; "
                  "the kept seed is the median, so a retraining should land near it, not "
                  "better.")
    if goal is not None and final_values:
        mean = sum(final_values) / len(final_values)
        met = measure.meets(mean, goal)  # the mean is the goal or better
        limits.append(f"The goal {goal_text} ({metric}) is {'met' if met else 'not met'} by the "
                      f"mean of the final seeds ({fmt_metric(measure, mean)}).")
    limits += test["limits"]
    card_metrics = [
        {"name": f"validation {metric} (mean ± std over seeds)",
         "value": fmt_summary(measure, final_values)},
        {"name": f"validation {metric} of the kept seed {selection.seed}",
         "value": fmt_metric(measure, selection.value)},
        *test["card_metrics"],
    ]
    split = (final_results[selection.seed].extra.get("split") or {}) \
        if selection.seed in final_results else {}
    card = model_card(trainer, chosen, export, metrics, split)
    return {
        "title": f"Finalization report: {project.name}",
        "generated_at": now(),
        "version": __version__,
        "finalized_at": _finalized_at(facts),
        "project": {
            "name": project.name,
            "metric": metric,
            "direction": project.target.direction,
            "goal_text": goal_text,
            "task": task,
            "trainer": trainer.spec,
            "seeds": ", ".join(str(s) for s in project.seeds),
            "alpha": f"{project.alpha:g}",
        },
        "summary": {"headline": test["headline"], "comparison": test["comparison"],
                    "significant": test["significant"]},
        "path": [{key: _cell(value) for key, value in row.items()} for row in path_rows],
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
        "test": {"n": metrics["n"], "evaluated_at": metrics["evaluated_at"],
                 "sha256": metrics["predictions_sha256"], "plots": plots,
                 "through": "" if trainer.builtin_runs else ", through the trainer's `evaluate`",
                 **{k: v for k, v in test.items() if k not in ("limits", "card_metrics")}},
        "gates": _gate_rows(store),
        "timeline": _timeline(store),
        "model_card": {
            **card,
            "limits": limits,
            "seeds": f"trained on seeds {', '.join(str(s) for s in sorted(final_results))}; "
                     f"kept seed {selection.seed} ({selection.rule}): {selection.why}",
            "metrics": card_metrics,
            "versions": ", ".join(f"{k} {v}" for k, v in versions().items()),
        },
    }


def _run_config(selection: Selection, fallback: Path) -> dict[str, Any]:
    """The config a run was trained with, as it recorded it (any trainer's, TrainConfig or its
    own); the project's baseline file when the run has none."""
    recorded = Path(selection.run_dir) / CONFIG_FILE
    data = read_yaml(recorded if recorded.is_file() else fallback)
    return dict(data) if isinstance(data, Mapping) else {}


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
