"""optimization_results.md: what Phase 4 tried, what it measured, and what it decided.

`write_optimization_results` builds the report's context from the arms and the attempt records,
draws the training curves of the baseline and the optimized arm on one figure
(workflow.plots), and renders `templates/optimization_results.md.j2` through
workflow.reports, which writes the JSON twin beside it with the same numbers.

The context holds raw numbers (the template formats them): a rate metric's
differences are also given in points (x100). `sweep` is None unless an attempt was
a sweep; then it is the sweep package's section context and the template includes
its `sweep_section.md.j2`.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from phases.optimization.decision import Decision
from workflow.arms import Arm, rule_for
from workflow.facts import AttemptRecord
from workflow.facts._phase4 import ComparisonRecord
from workflow.io import atomic_open
from workflow.metric import Metric
from workflow.project import ProjectConfig
from workflow.stats import Rule
from workflow.store import now

__all__ = [
    "BEST_CHECKPOINT",
    "CHECKPOINT_DIR",
    "LAST_CHECKPOINT",
    "REPORT_NAME",
    "TEMPLATE",
    "arm_profile",
    "atomic_copy",
    "build_context",
    "copy_checkpoints",
    "write_optimization_results",
]

REPORT_NAME = "optimization_results.md"
CHECKPOINT_DIR = Path("checkpoints") / "optimized"
BEST_CHECKPOINT = "best_model_optimized.pt"
LAST_CHECKPOINT = "last_model_optimized.pt"
TEMPLATE = "optimization_results.md.j2"
PLOTS_DIR = "plots"

_NEXT = {
    "A": "phasegate finalize {name} (the optimization_complete gate should pass)",
    "B": "phasegate optimize {name} continues with the next attempt",
    "C": "re-diagnose (phasegate diagnose {name}), then phasegate optimize {name} again",
    "D": "phasegate finalize {name} with the best config so far",
    "budget": "phasegate finalize {name} with the best config so far (flagged: the budget ran out)",
}


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _std(values: Sequence[float]) -> float | None:
    if len(values) < 2:
        return None
    m = sum(values) / len(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def arm_profile(arm: Arm, metric: Metric) -> dict[str, Any]:
    """One arm's row of the baseline-vs-optimized table, as numbers."""
    values = arm.values(metric.name)
    name = metric.name.removeprefix("val_")
    gaps, epoch_times, best_epochs, stops, runs = [], [], [], [], []
    for seed, result in sorted(arm.results.items()):
        if not result.history:
            continue
        last = result.history[-1]
        if f"train_{name}" in last and f"val_{name}" in last:
            # oriented: how much better the training split scores (a loss: val above train)
            gaps.append(metric.oriented(last[f"train_{name}"] - last[f"val_{name}"]))
        epoch_times += [row["epoch_time"] for row in result.history if "epoch_time" in row]
        if result.best_epoch is not None:
            best_epochs.append(float(result.best_epoch))
        runs.append(len(result.history))
        if result.status.value == "early_stopped":
            stops.append({"seed": seed, "epoch": len(result.history)})
    return {
        "label": arm.label,
        "seeds": arm.seeds,
        "values": [values[s] for s in sorted(values)],
        "n": len(values),
        "mean": _mean(list(values.values())),
        "std": _std(list(values.values())),
        "train_val_gap": _mean(gaps),
        "time_per_epoch": _mean(epoch_times),
        "epochs_to_best": _mean(best_epochs),
        "epochs_configured": arm.config.training.epochs,
        "epochs_run": _mean([float(r) for r in runs]),
        "early_stopped": stops,
        "statuses": {str(s): r.status.value for s, r in sorted(arm.results.items())},
    }


def _points(value: Any, metric: Metric, comparison: ComparisonRecord | None) -> float | None:
    """A difference in the gains' one unit (Metric.points): points for a rate, percent of
    the comparison's reference mean for a loss; intervals included."""
    value = _finite(value)
    if value is None:
        return None
    reference = comparison.baseline.mean if comparison and comparison.baseline else None
    return metric.points(value, reference)


def _detectable(data: ComparisonRecord, metric: Metric, rule: Rule) -> float | None:
    """The smallest gain these two arms' seeds detect with the rule's power (pooled sd)."""
    base, cand = data.baseline, data.candidate
    if not (base and cand and base.n and cand.n and base.std is not None
            and cand.std is not None):
        return None
    sd = math.sqrt((base.std**2 + cand.std**2) / 2)
    return _points(rule.detectable_effect(sd, min(base.n, cand.n)), metric, data)


def _comparison(
    data: ComparisonRecord | None, metric: Metric, rule: Rule
) -> dict[str, Any] | None:
    if data is None:
        return None
    beside = data.beside
    return {
        "detectable_points": _detectable(data, metric, rule),
        **data.model_dump(mode="json"),
        "mean_diff_points": _points(data.mean_diff, metric, data),
        "ci_low_points": _points(data.ci_low, metric, data),
        "ci_high_points": _points(data.ci_high, metric, data),
        "beside_points": {
            "ci_low": _points(beside.ci_low, metric, data),
            "ci_high": _points(beside.ci_high, metric, data),
        } if beside is not None else None,
    }


def _recommendation_rows(
    attempts: Sequence[AttemptRecord], lineage: Sequence[AttemptRecord], metric: Metric
) -> list[dict[str, Any]]:
    """Expected against measured gain for each recommendation any attempt applied."""
    kept = {a.attempt for a in lineage}
    rows = []
    for attempt in attempts:
        comparison = attempt.comparison
        ids = [r.id for r in attempt.recommendations]
        for rec in attempt.recommendations:
            low, high = (list(rec.expected_gain or [0.0, 0.0]) + [0.0, 0.0])[:2]
            rows.append({
                "attempt": attempt.attempt,
                "id": rec.id,
                "title": rec.title or rec.id,
                "priority": rec.priority,
                "finding": rec.finding,
                "expected_low": float(low),
                "expected_high": float(high),
                "actual": attempt.evidence.gain_points,
                "actual_low": _points(comparison.ci_low, metric, comparison)
                if comparison else None,
                "actual_high": _points(comparison.ci_high, metric, comparison)
                if comparison else None,
                "compared_with": attempt.compared_with,
                "together": [i for i in ids if i != rec.id],
                "kept": attempt.attempt in kept,
            })
    return rows


def _round(attempt: AttemptRecord, metric: Metric, rule: Rule) -> dict[str, Any]:
    diagnosis = attempt.diagnosis
    candidate = attempt.candidate
    return {
        "attempt": attempt.attempt,
        "strategy": attempt.strategy,
        "base": attempt.base,
        "source": attempt.source,
        "recommendations": [
            {"id": r.id, "title": r.title or r.id} for r in attempt.recommendations
        ],
        "changes": [c.model_dump(mode="json") for c in attempt.changes],
        "mean": candidate.mean if candidate else None,
        "std": _finite(candidate.std) if candidate else None,
        "n": (candidate.n or 0) if candidate else 0,
        "compared_with": attempt.compared_with,
        "comparison": _comparison(attempt.comparison, metric, rule),
        "gain_points": attempt.evidence.gain_points,
        "note": attempt.note,
        "target_text": attempt.target_text,
        "decision": attempt.decision,
        "reason": attempt.reason,
        "minutes": attempt.minutes,
        "diagnosis": (
            {
                "findings": [
                    f"{f.title} ({f.severity}): {f.text}"
                    for f in diagnosis.findings
                    if f.root_cause
                ],
                "recommendations": [
                    f"{r.id} {r.title or ''} ({r.priority or ''})".strip()
                    for r in diagnosis.recommendations
                ],
                "strategy": diagnosis.strategy,
            }
            if diagnosis
            else None
        ),
    }


def build_context(
    *,
    project: ProjectConfig,
    baseline: Arm,
    optimized: Arm,
    kept: bool,
    decision: Decision,
    attempts: Sequence[AttemptRecord],
    lineage: Sequence[AttemptRecord],
    changes: Sequence[Mapping[str, Any]],
    comparison: ComparisonRecord | None,
    strategy: str,
    plots: Mapping[str, str | None],
    sweep: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Every value the template shows (and the JSON twin holds)."""
    measure = project.target.measure
    metric, is_rate = measure.name, measure.is_rate
    baseline_mean = _mean(list(baseline.values(metric).values()))
    rule = rule_for(project)
    return {
        "generated": now(),
        "project": {
            "name": project.name,
            "metric": metric,
            "direction": project.target.direction,
            "goal": project.target.goal,
            "alpha": project.alpha,
            "power": project.power,
            "test_alpha": project.alpha / project.iteration_limit,
            "min_effect": project.min_effect,
            "min_effect_points": measure.points(project.min_effect, baseline_mean),
            "seeds": list(project.seeds),
            "iteration_limit": project.iteration_limit,
            "time_budget_minutes": project.time_budget_minutes,
        },
        "is_rate": is_rate,
        "unit": measure.unit,
        "goal_summary": goal_summary(project, optimized, kept, decision, attempts),
        "strategy": strategy,
        "decision": {
            **decision.to_dict(),
            "code": decision.code.value,
            "next_step": _NEXT[decision.code.value].format(name=project.name),
        },
        "kept": kept,
        "arms": {
            "baseline": arm_profile(baseline, measure),
            "optimized": arm_profile(optimized, measure),
        },
        "comparison": _comparison(comparison, measure, rule),
        "changes": [dict(row) for row in changes],
        "recommendations": _recommendation_rows(attempts, lineage, measure),
        "rounds": [_round(a, measure, rule) for a in attempts],
        "plots": dict(plots),
        "sweep": dict(sweep) if sweep is not None else None,
    }


def goal_summary(
    project: ProjectConfig, optimized: Arm, kept: bool, decision: Decision,
    attempts: Sequence[AttemptRecord],
) -> str | None:
    """The report's first line when the goal is not met: the best kept figure, the best
    attempt's, and why it was not kept. None when the goal is met or there is none."""
    goal, measure = project.target.goal, project.target.measure
    if goal is None:
        return None
    mean = _mean(list(optimized.values(measure.name).values()))
    if mean is not None and measure.meets(mean, goal):
        return None
    kept_text = (f"the kept config ({optimized.label}) reaches {measure.format(mean)}" if kept
                 else f"nothing was kept; the baseline stays at {measure.format(mean)}")
    text = f"Goal not met: {measure.name} goal {measure.format(goal)}; {kept_text}."
    reaching = [a for a in attempts if a.candidate is not None and a.candidate.mean is not None
                and measure.meets(a.candidate.mean, goal) and a.decision != "A"]
    if reaching:
        best = reaching[-1]
        why = best.comparison.reason if best.comparison else (best.note or "not compared")
        reached = best.candidate.mean if best.candidate else None
        text += (f" Attempt {best.attempt} reached {measure.format(reached)} "
                 f"but was not kept against {best.compared_with}: {why}.")
    else:
        text += f" No attempt reached the goal. Decision {decision.code.value}: {decision.reason}"
    return text


def plot_arms(folder: Path, baseline: Arm, optimized: Arm, metric: str) -> dict[str, str | None]:
    """The curves of both arms on one PNG (the target metric; the loss on a second)."""
    from workflow.plots import plot_curves

    name = metric.removeprefix("val_")
    arms = {baseline.label: baseline.histories(), optimized.label: optimized.histories()}
    plots: dict[str, str | None] = {"metric": None, "loss": None}
    plot_curves(
        folder / PLOTS_DIR / "curves.png", arms, [f"train_{name}", f"val_{name}"],
        title=f"{name}: {baseline.label} vs {optimized.label} (mean ± std over seeds)",
        ylabel=name,
    )
    plots["metric"] = f"{PLOTS_DIR}/curves.png"
    if name != "loss":
        plot_curves(
            folder / PLOTS_DIR / "loss.png", arms, ["train_loss", "val_loss"],
            title=f"loss: {baseline.label} vs {optimized.label} (mean ± std over seeds)",
            ylabel="loss",
        )
        plots["loss"] = f"{PLOTS_DIR}/loss.png"
    return plots


def write_optimization_results(
    folder: Path,
    *,
    project: ProjectConfig,
    baseline: Arm,
    optimized: Arm,
    kept: bool,
    decision: Decision,
    attempts: Sequence[AttemptRecord],
    lineage: Sequence[AttemptRecord],
    changes: Sequence[Mapping[str, Any]],
    comparison: ComparisonRecord | None,
    strategy: str,
    project_dir: Path | None = None,
    sweep: Mapping[str, Any] | None = None,
) -> Path:
    """Draw the curves and write optimization_results.md and .json into `folder` (phase4/)."""
    from workflow.reports import write_report

    if sweep is None:
        sweeps = [a.sweep for a in attempts if a.sweep]
        sweep = sweeps[-1] if sweeps else None
    plots = plot_arms(folder, baseline, optimized, project.target.metric)
    context = build_context(
        project=project, baseline=baseline, optimized=optimized, kept=kept, decision=decision,
        attempts=attempts, lineage=lineage, changes=changes, comparison=comparison,
        strategy=strategy, plots=plots, sweep=sweep,
    )
    return write_report(folder / REPORT_NAME, TEMPLATE, context, project_dir=project_dir)


def copy_checkpoints(arm: Arm, folder: Path, *, metric: Metric) -> list[str]:
    """The best seed's best.pt and last.pt as phase4's optimized checkpoints; what was missing."""
    seed = arm.best_seed(metric)
    source = arm.root / f"seed-{seed}" / "checkpoints"
    missing = []
    for name, copy_as in (("best.pt", BEST_CHECKPOINT), ("last.pt", LAST_CHECKPOINT)):
        if (source / name).is_file():
            atomic_copy(source / name, folder / CHECKPOINT_DIR / copy_as)
        else:
            missing.append(f"{arm.label} seed {seed} has no {name} to copy")
    return missing


def atomic_copy(source: Path, target: Path) -> None:
    """Copy through workflow.io's atomic write (temporary sibling, fsync, rename, directory
    fsync): never half a checkpoint."""
    with atomic_open(target, "wb") as out, open(source, "rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
