"""What a sweep leaves in `attempt-<k>/sweep/`, and the Markdown section of the report.

```
sweep/
  study.journal         the Optuna study (unless a database URL was given)
  trials.csv            one row per trial: number, state, value, epochs, time, reason, params
  best_config.json      the chosen configuration (or the sweep's best, before re-runs)
  importance.json       parameter importance (Optuna's PED-ANOVA on the completed trials)
  plots/values.png      the monitored value against each parameter
  plots/heatmap.png     the best value over the two most important parameters
  trial-<n>/            each trial's run (config, history, metrics, checkpoints),
                        trial.json, and trial.log when the trainer raised
  rerun/trial-<n>/seed-<s>/   the top trials re-run on fresh seeds
  sweep_summary.md      the section optimization_results.md includes (and its .json)
```

Plots go through workflow.plots (`new_figure`, `save_figure`): the Agg backend,
and an image written beside its target then renamed, so a reader never sees
half of one.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phases.optimization.sweep.records import SweepResult, TrialRecord
from phases.optimization.sweep.space import CategoricalParameter, SearchSpace
from workflow.io import atomic_write_json, atomic_write_text
from workflow.metric import Metric
from workflow.plots import new_figure, save_figure

if TYPE_CHECKING:
    import optuna

__all__ = [
    "TRIALS_CSV",
    "BEST_CONFIG",
    "IMPORTANCE",
    "VALUES_PLOT",
    "HEATMAP_PLOT",
    "SUMMARY",
    "SECTION_TEMPLATE",
    "write_trials_csv",
    "read_trials_csv",
    "parameter_importance",
    "plot_values",
    "plot_heatmap",
    "write_best_config",
    "section_context",
    "render_section",
    "write_summary",
]

TRIALS_CSV = "trials.csv"
BEST_CONFIG = "best_config.json"
IMPORTANCE = "importance.json"
VALUES_PLOT = "plots/values.png"
HEATMAP_PLOT = "plots/heatmap.png"
SUMMARY = "sweep_summary.md"
SECTION_TEMPLATE = "sweep_section.md.j2"
_FIXED_COLUMNS = ("number", "state", "value", "epochs_run", "time_s", "reason", "retry_of")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def write_trials_csv(records: Sequence[TrialRecord], names: Sequence[str], path: Path) -> Path:
    """trials.csv: the fixed columns, then one column per parameter (empty where inactive)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*_FIXED_COLUMNS, *names])
    for r in records:
        time_s = f"{r.time_s:.2f}" if r.time_s is not None else None
        fixed = [r.number, r.state, r.value, r.epochs_run, time_s, r.reason, r.retry_of]
        writer.writerow([_cell(v) for v in fixed] + [_cell(r.params.get(n)) for n in names])
    atomic_write_text(path, out.getvalue())
    return path


def read_trials_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def parameter_importance(study: optuna.Study, path: Path) -> dict[str, float]:
    """Each parameter's share of the variation in the score; {} (and the reason in the file)
    when there are too few completed trials to tell."""
    import warnings

    import optuna

    try:
        with warnings.catch_warnings():
            # few trials in a branch of a conditional space: the estimate says so itself
            warnings.simplefilter("ignore")
            importance = optuna.importance.get_param_importances(study)
        values = {name: float(v) for name, v in importance.items()}
        atomic_write_json(path, {"method": "PED-ANOVA (optuna)", "importance": values})
        return values
    except (ValueError, RuntimeError, ZeroDivisionError) as exc:
        atomic_write_json(path, {"method": "PED-ANOVA (optuna)", "importance": {},
                                 "note": f"not computed: {exc}"})
        return {}


def _numeric_axis(space: SearchSpace, name: str) -> bool:
    return not isinstance(space.parameters[name], CategoricalParameter)


def _choice_labels(space: SearchSpace, name: str) -> list[str]:
    parameter = space.parameters[name]
    assert isinstance(parameter, CategoricalParameter)
    return [_short(json.dumps(c) if not isinstance(c, str) else c) for c in parameter.choices]


def _short(text: str, width: int = 14) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _choice_index(space: SearchSpace, name: str, value: Any) -> int:
    parameter = space.parameters[name]
    assert isinstance(parameter, CategoricalParameter)
    keys = [json.dumps(c, sort_keys=True) for c in parameter.choices]
    return keys.index(json.dumps(value, sort_keys=True))


def plot_values(
    records: Sequence[TrialRecord], space: SearchSpace, monitor: str, path: Path
) -> Path | None:
    """One panel per parameter: each trial's value (completed filled, pruned hollow)."""
    scored = [r for r in records if r.value is not None and r.state in ("complete", "pruned")]
    if not scored:
        return None
    names = space.names
    columns = min(3, len(names))
    rows = math.ceil(len(names) / columns)
    fig, axes = new_figure(
        nrows=rows, ncols=columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False
    )
    for ax, name in zip(axes.flat, names, strict=False):
        for state, style in (
            ("complete", {"marker": "o", "color": "tab:blue", "label": "complete"}),
            ("pruned", {"marker": "x", "color": "tab:gray", "label": "pruned (partial)"}),
        ):
            points = [r for r in scored if r.state == state and name in r.params]
            if not points:
                continue
            if _numeric_axis(space, name):
                xs = [float(r.params[name]) for r in points]
            else:
                xs = [float(_choice_index(space, name, r.params[name])) for r in points]
            ax.scatter(xs, [r.value for r in points], alpha=0.8, **style)
        parameter = space.parameters[name]
        if getattr(parameter, "log", False):
            ax.set_xscale("log")
        if not _numeric_axis(space, name):
            labels = _choice_labels(space, name)
            ax.set_xticks(range(len(labels)), labels, rotation=20, fontsize=8)
        ax.set_xlabel(name)
        ax.set_ylabel(monitor)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"{monitor} of each trial against each parameter")
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def _bins(space: SearchSpace, name: str, n: int = 5) -> tuple[list[str], Any]:
    """Labels and a function mapping a value to its bin index."""
    parameter = space.parameters[name]
    if isinstance(parameter, CategoricalParameter):
        return _choice_labels(space, name), lambda v: _choice_index(space, name, v)
    low, high = float(parameter.low), float(parameter.high)
    if parameter.log:
        edges = [math.exp(math.log(low) + (math.log(high) - math.log(low)) * i / n)
                 for i in range(n + 1)]
    else:
        edges = [low + (high - low) * i / n for i in range(n + 1)]

    def index(value: Any) -> int:
        v = float(value)
        for i in range(n):
            if v <= edges[i + 1]:
                return i
        return n - 1

    labels = [f"{edges[i]:.3g}–{edges[i + 1]:.3g}" for i in range(n)]
    return labels, index


def plot_heatmap(
    records: Sequence[TrialRecord],
    space: SearchSpace,
    importance: dict[str, float],
    metric: Metric,
    path: Path,
) -> Path | None:
    """The best completed value in each cell of the two most important parameters (those
    every trial has first: a conditional one leaves most cells empty)."""
    names = sorted(
        space.names,
        key=lambda n: (space.parameters[n].when is not None, -importance.get(n, -1.0)),
    )
    if len(names) < 2:
        return None
    x_name, y_name = names[0], names[1]
    complete = [
        r for r in records
        if r.state == "complete" and r.value is not None and x_name in r.params
        and y_name in r.params
    ]
    if not complete:
        return None
    import numpy as np

    x_labels, x_index = _bins(space, x_name)
    y_labels, y_index = _bins(space, y_name)
    grid = np.full((len(y_labels), len(x_labels)), np.nan)
    for r in complete:
        i, j = y_index(r.params[y_name]), x_index(r.params[x_name])
        old = grid[i, j]
        value = float(r.value) if r.value is not None else math.nan
        if math.isnan(old) or metric.better(value, old):
            grid[i, j] = value
    fig, ax = new_figure(figsize=(1.3 * len(x_labels) + 2.5, 0.8 * len(y_labels) + 2))
    image = ax.imshow(  # the better end of the scale is bright, whichever the direction
        np.ma.masked_invalid(grid), cmap="viridis" if metric.higher_is_better else "viridis_r",
        aspect="auto", origin="lower",
    )
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            if not math.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.3f}", ha="center", va="center", fontsize=8,
                        color="white")
    ax.set_xticks(range(len(x_labels)), x_labels, rotation=25, fontsize=8)
    ax.set_yticks(range(len(y_labels)), y_labels, fontsize=8)
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    fig.colorbar(image, ax=ax, label=f"best {metric.name}")
    ax.set_title("best completed trial per cell (blank: none)")
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def write_best_config(result: SweepResult, path: Path) -> Path | None:
    """The chosen configuration after the re-runs, or the sweep's best if none was chosen."""
    chosen = result.chosen
    if chosen is not None:
        data: dict[str, Any] = {
            "source": "re-run",
            "trial": chosen.trial,
            "params": chosen.params,
            "sweep_value": chosen.sweep_value,
            "rerun": chosen.summary.to_dict() if chosen.summary else None,
            "verdict": chosen.verdict,
            "config": chosen.config.model_dump(mode="json"),
        }
    elif result.best_trial is not None:
        data = {
            "source": "sweep (not re-run)",
            "trial": result.best_trial.number,
            "params": result.best_trial.params,
            "sweep_value": result.best_trial.value,
            "rerun": None,
            "verdict": "not_compared",
            "config": None,
        }
    else:
        return None
    data["monitor"] = result.monitor
    atomic_write_json(path, data)
    return path


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}f}"


def _changes(params: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={_short(json.dumps(v), 24) if not isinstance(v, float) else f'{v:.3g}'}"
        for k, v in params.items()
    )


def section_context(result: SweepResult, report_dir: Path) -> dict[str, Any]:
    """The values sweep_section.md.j2 shows, formatted; plot links relative to `report_dir`."""

    def link(name: str) -> str | None:
        path = result.artifacts.get(name)
        if path is None:
            return None
        return Path(os.path.relpath(path, report_dir)).as_posix()

    metric = Metric.named(result.monitor, result.direction)

    def interval(comparison: Any) -> str:
        if comparison is None:
            return "–"
        low, high = (metric.points(x, comparison.baseline.mean)
                     for x in (comparison.ci_low, comparison.ci_high))
        return f"[{low:+.2f}, {high:+.2f}] {metric.unit}"

    candidates = []
    for c in result.candidates:
        comparison = c.comparison
        candidates.append(
            {
                "rank": c.rank,
                "trial": c.trial,
                "changes": _changes(c.params),
                "sweep_value": _fmt(c.sweep_value),
                "rerun": (
                    f"{_fmt(c.summary.mean)} ± {_fmt(c.summary.std)} (n={c.summary.n})"
                    if c.summary is not None else "–"
                ),
                "p": f"{comparison.p_adjusted:.3g}" if comparison else "–",
                "interval": interval(comparison),
                "verdict": c.verdict.replace("_", " "),
                "note": c.note,
                "chosen": result.chosen is not None and c.trial == result.chosen.trial,
            }
        )
    chosen = result.chosen
    return {
        "method": result.method,
        "pruner": result.pruner,
        "monitor": result.monitor,
        "direction": result.direction,
        "study": result.study_name,
        "storage": result.storage,
        "n_trials": len(result.trials),
        "counts": ", ".join(f"{n} {state}" for state, n in sorted(result.counts.items())),
        "stop_reason": result.stop_reason,
        "total_epochs": result.total_epochs,
        "wall_time": f"{result.wall_time_s:.0f} s",
        "space": result.space,
        "best_trial": (
            {"number": result.best_trial.number, "value": _fmt(result.best_trial.value),
             "changes": _changes(result.best_trial.params)}
            if result.best_trial else None
        ),
        "candidates": candidates,
        "chosen": (
            {"trial": chosen.trial, "changes": _changes(chosen.params), "verdict":
             chosen.verdict.replace("_", " "),
             "reason": chosen.comparison.reason if chosen.comparison else chosen.note}
            if chosen else None
        ),
        "importance": [
            {"name": k, "value": f"{v:.2f}"}
            for k, v in sorted(result.importance.items(), key=lambda kv: -kv[1])
        ],
        "values_plot": link("values_plot"),
        "heatmap_plot": link("heatmap_plot"),
        "trials_csv": link("trials_csv"),
        "best_config": link("best_config"),
        "notes": result.notes,
    }


def render_section(
    result: SweepResult, report_dir: Path, project_dir: Path | None = None
) -> str:
    """The sweep section as Markdown, links relative to the report that includes it."""
    from workflow.reports import render

    return render(SECTION_TEMPLATE, {"sweep": section_context(result, report_dir)}, project_dir)


def write_summary(result: SweepResult, project_dir: Path | None = None) -> Path:
    """sweep_summary.md (the section, links relative to the sweep folder) and its JSON twin."""
    from workflow.reports import write_report

    path = result.sweep_dir / SUMMARY
    context = {"sweep": section_context(result, result.sweep_dir), "result": result.to_dict()}
    return write_report(path, SECTION_TEMPLATE, context, project_dir=project_dir)
