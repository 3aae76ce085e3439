"""The one rich implementation of `workflow.progress.Progress`, used by every command."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["RichProgress"]


class RichProgress:
    """A line per step and note, a bar per seed over its epochs.

    Everything goes to stderr when `json` is set, so stdout holds only the
    command's JSON answer; `quiet` shows nothing at all.
    """

    def __init__(self, *, json: bool = False, quiet: bool = False) -> None:
        from rich.console import Console

        self.console = Console(highlight=False, stderr=json, quiet=quiet)
        self.bars: Any = None
        self.tasks: dict[int, Any] = {}
        self.finished: set[int] = set()

    def step(self, phase: str, text: str) -> None:
        self.console.print(f"[bold cyan]{phase}[/] · {text}")

    def training(self, label: str, seeds: Sequence[int], done: Sequence[int], epochs: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.end_training()
        if done:
            self.note(f"resuming: seeds {', '.join(map(str, done))} were trained earlier")
        self.bars = Progress(
            TextColumn("  [bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[metrics]}"), console=self.console, transient=False,
        )
        self.tasks = {
            seed: self.bars.add_task(
                f"{label} seed {seed}", total=epochs, completed=epochs if seed in done else 0,
                metrics="finished earlier" if seed in done else "")
            for seed in seeds
        }
        self.bars.start()

    def epoch(self, seed: int, epoch: int, row: Mapping[str, float]) -> None:
        # a worker's last epoch may arrive after its seed was reported done
        if self.bars is None or seed not in self.tasks or seed in self.finished:
            return
        shown = [f"{key} {row[key]:.3f}" for key in ("train_loss", "val_loss", "val_accuracy")
                 if key in row and isinstance(row[key], (int, float)) and math.isfinite(row[key])]
        self.bars.update(self.tasks[seed], completed=epoch, metrics="  ".join(shown))

    def seed_done(self, seed: int, status: str, epochs: int) -> None:
        if self.bars is None or seed not in self.tasks:
            return
        self.finished.add(seed)
        self.bars.update(self.tasks[seed], total=max(1, epochs), completed=max(1, epochs),
                         metrics=status)

    def end_training(self) -> None:
        if self.bars is not None:
            self.bars.stop()
            self.bars = None
            self.tasks, self.finished = {}, set()

    def trial(self, number: int, state: str, value: float | None) -> None:
        shown = "" if value is None or not math.isfinite(value) else f": {value:.4f}"
        self.note(f"trial {number} {state}{shown}")

    def note(self, text: str) -> None:
        self.console.print(f"  {text}", markup=False)
