"""workflow.plots: mean ± std curves across seeds, several arms on one PNG."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from workflow.plots import curve_stats, plot_curves, plot_xy

PNG = b"\x89PNG\r\n\x1a\n"


def test_curve_stats_average_the_seeds_at_each_epoch() -> None:
    # mean and sample std per epoch; a seed that stopped early stops counting; NaN is skipped
    seeds = [
        [{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.5}, {"epoch": 3, "loss": 0.2}],
        [{"epoch": 1, "loss": 3.0}, {"epoch": 2, "loss": math.nan}],
    ]
    epochs, means, stds = curve_stats(seeds, "loss")
    assert epochs == [1.0, 2.0, 3.0]
    assert means == [2.0, 0.5, 0.2]
    assert stds[0] == pytest.approx(math.sqrt(2.0))
    assert stds[1:] == [0.0, 0.0]


def test_plot_curves_writes_a_png_of_several_arms(tmp_path: Path) -> None:
    # two arms, two columns: a PNG file (and nothing half-written beside it)
    arm = [[{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e} for e in range(1, 6)]] * 3
    path = plot_curves(tmp_path / "plots" / "loss.png", {"baseline": arm, "candidate": arm},
                       ["train_loss", "val_loss"], title="Loss", ylabel="loss", log_y=True)
    assert path.read_bytes().startswith(PNG)
    assert sorted(p.name for p in path.parent.iterdir()) == ["loss.png"]


def test_plots_survive_nothing_to_draw(tmp_path: Path) -> None:
    # every seed diverged in its first epoch: the figure says so instead of failing
    path = plot_curves(tmp_path / "empty.png", {"baseline": [[]]}, ["val_loss"], title="t",
                       ylabel="y")
    assert path.read_bytes().startswith(PNG)
    xy = plot_xy(tmp_path / "xy.png", [1e-3, 1e-2, 1e-1], {"loss": [2.0, 1.0, 3.0]}, title="t",
                 xlabel="lr", ylabel="loss", log_x=True, marks={"suggested": 1e-2})
    assert xy.read_bytes().startswith(PNG)
