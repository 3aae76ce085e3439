"""What a long command tells whoever watches it: one protocol for every phase.

A phase calls these hooks; the library default shows nothing, and the CLI's
one rich implementation (`workflow.cli.display.RichProgress`) draws a line
per step and a bar per seed. A hook never decides anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

__all__ = ["Progress", "QuietProgress"]


class Progress(Protocol):
    """The hooks of a walk: its steps, each training's epochs, sweep trials, notes."""

    def step(self, phase: str, text: str) -> None:
        """A phase starts a step ("Phase 4", "attempt 2 (targeted): train 5 seeds")."""

    def training(self, label: str, seeds: Sequence[int], done: Sequence[int], epochs: int) -> None:
        """A training of `seeds` starts (`done` were finished by an earlier run)."""

    def epoch(self, seed: int, epoch: int, row: Mapping[str, float]) -> None:
        """A seed finished an epoch; `row` is its history row."""

    def seed_done(self, seed: int, status: str, epochs: int) -> None:
        """A seed's run ended with `status` after `epochs` epochs."""

    def end_training(self) -> None:
        """The training started by `training` is over (every seed done, or interrupted)."""

    def trial(self, number: int, state: str, value: float | None) -> None:
        """A sweep trial finished (complete, pruned or failed) with its value."""

    def note(self, text: str) -> None:
        """A line for the person watching (a decision, a transition taken)."""


class QuietProgress:
    """Shows nothing (the library default)."""

    def step(self, phase: str, text: str) -> None:
        pass

    def training(self, label: str, seeds: Sequence[int], done: Sequence[int], epochs: int) -> None:
        pass

    def epoch(self, seed: int, epoch: int, row: Mapping[str, float]) -> None:
        pass

    def seed_done(self, seed: int, status: str, epochs: int) -> None:
        pass

    def end_training(self) -> None:
        pass

    def trial(self, number: int, state: str, value: float | None) -> None:
        pass

    def note(self, text: str) -> None:
        pass
