"""PNG plots for reports: curves over epochs, mean ± std across seeds, several arms on one figure.

An *arm* is one config trained on several seeds (the baseline, a Phase 4
candidate); each seed is its history, a list of per-epoch rows as the trainer
writes them. `plot_curves` draws, for every arm and every column asked for, the
mean over the seeds at each epoch with a band of one standard deviation; a seed
that stopped early simply stops contributing. Train columns are dashed, the
others solid; each arm has its own color.

matplotlib is imported inside the functions, with the Agg backend: no display
is needed, and commands that draw nothing never pay for the import.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["Arm", "curve_stats", "new_figure", "plot_curves", "plot_xy", "save_figure"]

# per arm: each seed's history (rows of the trainer's history.csv)
Arm = Sequence[Sequence[Mapping[str, float]]]


def curve_stats(
    seeds: Arm, column: str
) -> tuple[list[float], list[float], list[float]]:
    """Epochs, mean and sample std across seeds of `column` (non-finite values skipped)."""
    by_epoch: dict[float, list[float]] = {}
    for history in seeds:
        for row in history:
            value = row.get(column)
            if value is None or not math.isfinite(float(value)):
                continue
            by_epoch.setdefault(float(row.get("epoch", len(by_epoch) + 1)), []).append(float(value))
    epochs = sorted(by_epoch)
    means, stds = [], []
    for epoch in epochs:
        values = by_epoch[epoch]
        m = sum(values) / len(values)
        var = sum((v - m) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
        means.append(m)
        stds.append(math.sqrt(var))
    return epochs, means, stds


def plot_curves(
    path: str | os.PathLike[str],
    arms: Mapping[str, Arm],
    columns: Sequence[str],
    *,
    title: str,
    ylabel: str,
    log_y: bool = False,
) -> Path:
    """Draw `columns` of every arm over the epochs into the PNG `path`; return the path."""
    figure, axes = new_figure(figsize=(7, 4.2), dpi=110)
    import matplotlib.pyplot as plt

    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    drawn = 0
    for index, (arm, seeds) in enumerate(arms.items()):
        color = colors[index % len(colors)]
        for column in columns:
            epochs, means, stds = curve_stats(seeds, column)
            if not epochs:
                continue
            style = "--" if column.startswith("train_") else "-"
            label = f"{arm}: {column}" if len(arms) > 1 else column
            axes.plot(epochs, means, style, color=color, label=f"{label} (n={len(seeds)})")
            low = [m - s for m, s in zip(means, stds, strict=True)]
            high = [m + s for m, s in zip(means, stds, strict=True)]
            axes.fill_between(epochs, low, high, color=color, alpha=0.15, linewidth=0)
            drawn += 1
    if not drawn:
        axes.text(0.5, 0.5, "no finite values to plot", ha="center", va="center",
                  transform=axes.transAxes)
    axes.set_title(title)
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    if log_y and drawn:
        axes.set_yscale("log")
    axes.grid(alpha=0.3)
    if drawn:
        axes.legend(fontsize="small")
    figure.tight_layout()
    return save_figure(figure, path)


def plot_xy(
    path: str | os.PathLike[str],
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    log_x: bool = False,
    marks: Mapping[str, float] | None = None,
) -> Path:
    """A plain line plot (a probe's curve), with optional labelled vertical marks."""
    figure, axes = new_figure(figsize=(7, 4.2), dpi=110)
    for label, ys in series.items():
        axes.plot(list(x)[: len(ys)], list(ys), label=label)
    for label, value in (marks or {}).items():
        axes.axvline(value, linestyle=":", color="black")
        axes.annotate(label, (value, 0.95), xycoords=("data", "axes fraction"), rotation=90,
                      ha="right", va="top", fontsize="small")
    if log_x:
        axes.set_xscale("log")
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    if series:
        axes.legend(fontsize="small")
    figure.tight_layout()
    return save_figure(figure, path)


def new_figure(**subplots: Any) -> tuple[Any, Any]:
    """`plt.subplots(**subplots)` on the Agg backend (no display needed): figure and axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(**subplots)


def save_figure(figure: Any, path: str | os.PathLike[str], **savefig: Any) -> Path:
    """Write the PNG beside its target, then rename (a reader never sees half an image); close."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        figure.savefig(partial, format="png", **savefig)
        os.replace(partial, path)
    finally:
        plt.close(figure)
        partial.unlink(missing_ok=True)
    return path
