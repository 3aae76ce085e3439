"""The one rich implementation of `workflow.progress.Progress`, used by every command."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workflow.metric import Metric

__all__ = ["RichProgress", "TrialTally", "console"]


def console(*, stderr: bool = False, quiet: bool = False) -> Any:
    """A rich Console whose closed pipe is a `BrokenPipeError` for `workflow.cli.main` to end
    quietly with its own exit code (rich's default exits 1, the code of a refusal)."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError("the reader closed the pipe")

    return _Console(highlight=False, stderr=stderr, quiet=quiet)


@dataclass
class TrialTally:
    """A sweep's finished trials so far: how many, how many pruned or failed, the best."""

    metric: Metric | None = None  # which way is better (None: the best is not named)
    done: int = 0
    pruned: int = 0
    failed: int = 0
    best: float | None = None
    best_trial: int | None = None

    def add(self, number: int, state: str, value: float | None) -> None:
        self.done += 1
        if state == "pruned":
            self.pruned += 1
        elif state not in ("complete", "completed"):
            self.failed += 1
        usable = state in ("complete", "completed") and value is not None and math.isfinite(value)
        if usable and self.metric is not None and (
            self.best is None or self.metric.better(float(value), self.best)  # type: ignore[arg-type]
        ):
            self.best, self.best_trial = value, number

    def line(self) -> str:
        parts = [f"{self.done} trial{'s' if self.done != 1 else ''} done",
                 f"{self.pruned} pruned"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.best is not None and self.metric is not None:
            parts.append(f"best {self.metric.name} {self.best:.4f} (trial {self.best_trial})")
        return ", ".join(parts)


class RichProgress:
    """A line per step and note, a bar per seed over its epochs, a line per sweep trial with
    the tally so far (trials done, pruned, the best value).

    Everything goes to stderr, so stdout holds only the command's answer (its JSON
    under `--json`); `quiet` shows nothing at all. `metric` names the target, so a
    sweep's best trial so far can be named.
    """

    def __init__(self, *, json: bool = False, quiet: bool = False,
                 metric: Metric | None = None) -> None:
        self.console = console(stderr=True, quiet=quiet)
        self.bars: Any = None
        self.tasks: dict[int, Any] = {}
        self.finished: set[int] = set()
        self.tally = TrialTally(metric)
        self._lock = threading.Lock()  # a sweep reports its trials from a watching thread

    def target(self, metric: Metric) -> None:
        """The metric a sweep optimizes, and its direction: the best trial can be named."""
        self.tally.metric = metric

    def step(self, phase: str, text: str) -> None:
        # soft wrap: a long line stays one line in a log, whatever the terminal's width
        self.console.print(f"[bold cyan]{phase}[/] · {text}", soft_wrap=True)

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
        with self._lock:
            self.tally.add(number, state, value)
            shown = "" if value is None or not math.isfinite(value) else f" {value:.4f}"
            self.note(f"sweep trial {number} {state}{shown} · {self.tally.line()}")

    def note(self, text: str) -> None:
        self.console.print(f"  {text}", markup=False, soft_wrap=True)
