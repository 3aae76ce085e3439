"""Phase 3's artifacts: the report (Markdown and its JSON twin), findings.json, plots, preview.

`report_context` gathers everything the template shows, formatted so that no
value renders empty; the same dict is the report's JSON twin. `write_diagnosis`
writes the folder: plots/*.png, optimization_config.preview.yaml, findings.json,
then the report through `workflow.reports` (StrictUndefined: a value the
template names but the context lacks is an error, and nothing is written).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from phases.diagnostic.diagnosis import Diagnosis
from phases.diagnostic.evidence import SUMMARY_METRICS, Evidence, mean, std
from phases.diagnostic.predict import Record
from phases.diagnostic.preview import preview_yaml
from phases.diagnostic.record import outcome_rows
from phases.diagnostic.rules import Finding, seed_advice
from workflow import __version__
from workflow.io import atomic_write_json, atomic_write_text
from workflow.metric import Metric
from workflow.project import ProjectConfig
from workflow.store import now

__all__ = [
    "FINDINGS_FILE",
    "PLOTS_DIR",
    "PREVIEW_FILE",
    "REPORT_FILE",
    "TEMPLATE",
    "report_context",
    "write_diagnosis",
]

PLOTS_DIR = "plots"
REPORT_FILE = "diagnostic_report.md"
FINDINGS_FILE = "findings.json"
PREVIEW_FILE = "optimization_config.preview.yaml"
TEMPLATE = "diagnostic_report.md.j2"


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}g}" if abs(value) < 1e-3 or abs(value) >= 1e4 else f"{value:.4f}"


def _metric_rows(evidence: Evidence) -> list[dict[str, Any]]:
    rows = []
    for name in (*SUMMARY_METRICS, *([evidence.metric] if evidence.metric not in SUMMARY_METRICS
                                      else [])):
        metric = evidence.target if name == evidence.metric else Metric.named(name)
        best = [evidence.best_row(r) for r in evidence.usable]
        values = [float(row[name]) for row in best if name in row]
        if not values:
            continue
        m, s = mean(values), std(values)
        rows.append({
            "metric": name,
            "target": name == evidence.metric,
            "mean": m,
            "std": s,
            "mean_std": f"{metric.format(m)} ± {metric.format(s)}",
            "min": metric.format(min(values)),
            "max": metric.format(max(values)),
            "n": len(values),
        })
    return rows


def _evidence_rows(finding: Finding) -> list[dict[str, str]]:
    rows = []
    for key, value in finding.evidence.items():
        if isinstance(value, float):
            text = f"{value:g}"
        elif isinstance(value, list):
            text = ", ".join(str(v) for v in value) or "none"
        elif value is None:
            text = "n/a"
        else:
            text = str(value)
        rows.append({"name": key, "value": text})
    return rows


def _change_text(changes: dict[str, Any]) -> str:
    if not changes:
        return "none (a search)"
    return "; ".join(f"`{k}: {json.dumps(v)}`" for k, v in changes.items())


def _space_rows(space: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    rows = []
    for knob, spec in space.items():
        if spec.get("type") == "categorical":
            what = "one of " + ", ".join(json.dumps(c) for c in spec["choices"])
        else:
            scale = " (log scale)" if spec.get("log") else ""
            what = f"{spec['type']} from {spec['low']:g} to {spec['high']:g}{scale}"
        rows.append({"knob": knob, "range": what})
    return rows


def report_context(
    diagnosis: Diagnosis,
    project: ProjectConfig,
    *,
    plots: Sequence[dict[str, str]],
    preview: str,
    source: str,
    record: Record | None = None,
) -> dict[str, Any]:
    """Everything the report template shows, JSON-ready (it is also the report's JSON twin)."""
    ev, p = diagnosis.evidence, diagnosis.plan
    goal = project.target.goal
    rate = ev.target.is_rate
    by_id = {f.id: f for f in diagnosis.findings}
    probes = []
    for name, why in (ev.probes.get("not_applied") or {}).items():
        probes.append({"name": f"{name} probe", "result": f"does not apply: {why}"})
    trials = ev.probes.get("trials")
    if trials:
        probes.append({
            "name": "trial runs",
            "result": f"{len(trials['runs'])} candidate change(s) trained on seeds "
            f"{', '.join(str(s) for s in trials['seeds'])} ({trials['steps']} of "
            f"{trials['budget']} steps); their gains set the expected gains marked 'probe'"
            + (f"; over the budget: {', '.join(trials['skipped'])}" if trials["skipped"]
               else ""),
        })
    lr = ev.probes.get("lr_range")
    if lr:
        probes.append({
            "name": "learning-rate range test",
            "result": f"suggested lr {_fmt(lr['suggested_lr'])} (the smaller of the steepest "
            f"descent of the smoothed loss, {_fmt(lr.get('steepest_lr'))}, and a tenth of the "
            f"lr of the lowest loss, {_fmt(lr['min_loss_lr'])}); "
            f"{lr['steps_run']} steps, stopped because {lr['stop_reason']}; current lr "
            f"{_fmt(lr['current_lr'])}",
        })
    batch = ev.probes.get("batch")
    if batch:
        speeds = ", ".join(
            f"{r['batch_size']}: {r['samples_per_sec']:.0f}/s" for r in batch["rows"]
            if r.get("samples_per_sec")
        ) or "no batch size ran"
        probes.append({
            "name": "batch-size probe",
            "result": f"suggested batch {batch['suggested_batch_size'] or 'n/a'} on "
            f"{batch['device']} (throughput {speeds}); current batch {batch['current_batch_size']}",
        })
    usable, total = len(ev.usable), len(ev.runs)
    return {
        "title": f"Diagnostic report: {project.name}",
        "generated_at": now(),
        "version": __version__,
        "project": {
            "name": project.name,
            "metric": ev.metric,
            "direction": ev.target.direction,
            "goal": goal,
            "goal_text": (f"{100 * goal:.1f}%" if rate else f"{goal:g}") if goal is not None
            else "none set",
            "min_effect": project.min_effect,
            "min_effect_text": f"{100 * project.min_effect:.2f} points" if rate
            else f"{project.min_effect:g}",
            "seeds": [r.seed for r in ev.runs],
            "strategy_preference": project.strategy,
        },
        "baseline": {
            "config": str(project.baseline),
            "source": source,
            "runs": total,
            "usable": usable,
            "diverged": len(ev.diverged),
            "status_line": f"{usable} of {total} seeds usable, {len(ev.diverged)} diverged"
            + ("" if usable else ": there are no metrics to average"),
            "metrics": _metric_rows(ev),
            "score_text": ev.target.format(p.baseline_score)
            if p.baseline_score is not None else "none (no usable seed)",
            "runs_table": [
                {"seed": r.seed, "status": r.status, "epochs": len(r.history),
                 "note": r.stop_reason or "ran every epoch"}
                for r in ev.runs
            ],
        },
        "plots": list(plots),
        "config_rows": [row.to_dict() for row in diagnosis.config_rows],
        "findings": [
            {**f.to_dict(), "evidence_rows": _evidence_rows(f),
             "role": "root cause" if f.root_cause else
             (f"symptom of {f.explained_by}" if f.explained_by else "contributing")}
            for f in diagnosis.findings
        ],
        "root_causes": [
            {"id": c, "title": by_id[c].title, "text": by_id[c].text} for c in p.root_causes
        ],
        "recommendations": [
            {**r.to_dict(), "change_text": _change_text(r.changes),
             "gain_text": f"{r.expected_gain[0]:+g} to {r.expected_gain[1]:+g}",
             "per_cost_text": f"{r.gain_per_cost:.1f} per {r.cost:g}x cost"}
            for r in p.recommendations
        ],
        "not_applicable": [{"id": k, "why": v} for k, v in diagnosis.not_applicable.items()],
        "withheld": list(p.withheld),
        "earlier": [dict(row) for row in outcome_rows(record)] if record else [],
        "plan": {
            **p.to_dict(),
            "potential_text": f"{p.potential:.1f}",
            "headroom_text": f"{p.headroom:.1f}",
            "space_rows": _space_rows(p.search_space),
            # always stated, under the rule Phase 4 decides by (rules._seed_noise)
            "seeds_text": seed_advice(ev).text,
        },
        "probes": probes,
        "preview": preview,
        "preview_file": PREVIEW_FILE,
    }


def _plots(evidence: Evidence, folder: Path) -> list[dict[str, str]]:
    from workflow.plots import plot_curves, plot_xy

    histories = [run.history for run in evidence.runs if run.history]
    arms = {"baseline": histories}
    made = [
        ("loss", plot_curves(folder / "loss.png", arms, ["train_loss", "val_loss"],
                             title="Loss (mean ± std over seeds)", ylabel="cross-entropy")),
        ("accuracy", plot_curves(folder / "accuracy.png", arms,
                                 ["train_accuracy", "val_accuracy"],
                                 title="Accuracy (mean ± std over seeds)", ylabel="accuracy")),
    ]
    lr = evidence.probes.get("lr_range")
    if lr and lr.get("lrs"):
        marks = {"suggested": lr["suggested_lr"]} if lr.get("suggested_lr") else {}
        marks["current"] = lr["current_lr"]
        made.append(("lr range test", plot_xy(
            folder / "lr_range.png", lr["lrs"], {"loss": lr["losses"], "smoothed": lr["smoothed"]},
            title="Learning-rate range test", xlabel="learning rate", ylabel="training loss",
            log_x=True, marks=marks)))
    return [{"title": title, "path": f"{PLOTS_DIR}/{path.name}"} for title, path in made]


def write_diagnosis(
    diagnosis: Diagnosis,
    project: ProjectConfig,
    out_dir: Path,
    *,
    source: str,
    project_dir: Path | None = None,
    record: Record | None = None,
) -> dict[str, Any]:
    """Write phase3/: plots, preview, findings.json, the report and its twin; return the context."""
    from workflow.reports import write_report

    out_dir.mkdir(parents=True, exist_ok=True)
    plots = _plots(diagnosis.evidence, out_dir / PLOTS_DIR)
    p = diagnosis.plan
    header = (
        f"Phase 4 config preview for {project.name}: the baseline ({project.baseline.name}) "
        f"with the {len(p.recommendations)} recommended changes of Phase 3 applied.\n"
        f"Strategy: {p.strategy}. Each changed line says what changed and why."
    )
    preview = preview_yaml(diagnosis.evidence.config, p.recommendations, header=header)
    context = report_context(diagnosis, project, plots=plots, preview=preview, source=source,
                             record=record)
    atomic_write_text(out_dir / PREVIEW_FILE, preview)
    atomic_write_json(out_dir / FINDINGS_FILE, {
        "project": project.name,
        "generated_at": context["generated_at"],
        "baseline": context["baseline"],
        "findings": [f.to_dict() for f in diagnosis.findings],
        "config_analysis": context["config_rows"],
        "plan": p.to_dict(),
        "probes": diagnosis.evidence.probes,
    })
    write_report(out_dir / REPORT_FILE, TEMPLATE, context, project_dir=project_dir)
    return context
