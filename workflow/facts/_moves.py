"""The workflow's own facts (`moves.*`): how each state was last entered, how often each move ran.

`workflow.machine.take` records them with every move it makes, so a later phase
asks the facts, never the event log: Phase 5 trains the baseline's config when
`optimized` was entered by `skip`; `phasegate run` counts the reverts against
the iteration limit and knows a revert brought the project back to `diagnosed`.

`taken` numbers the moves (1 is the first a project made); an entry's `move` is
its number, so "did X happen after the project entered S" compares numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from workflow.facts._base import FactsModel

__all__ = ["MoveEntry", "MovesFacts"]


class MoveEntry(FactsModel):
    """How a state was last entered: by which move, from where, when, and its number."""

    transition: str
    source: str
    at: str
    move: int


class MovesFacts(FactsModel):
    """Every move's count and each state's last entry (empty before the first move)."""

    taken: int = 0
    counts: dict[str, int] = Field(default_factory=dict)
    entered: dict[str, MoveEntry] = Field(default_factory=dict)

    @classmethod
    def of(cls, facts: Mapping[str, Any]) -> MovesFacts:
        """The `moves` section of a facts.json object (defaults when none was recorded)."""
        return cls.model_validate(facts.get("moves") or {})

    def count(self, transition: str) -> int:
        """How many times `transition` was taken."""
        return self.counts.get(transition, 0)

    def entry(self, state: str) -> MoveEntry | None:
        """How `state` was last entered; None when no move entered it (a project created there)."""
        return self.entered.get(state)

    def after(self, transition: str, source: str, target: str, at: str) -> MovesFacts:
        """These facts once `transition` has moved the project from `source` to `target` at `at`."""
        move = self.taken + 1
        entry = MoveEntry(transition=transition, source=source, at=at, move=move)
        return MovesFacts(
            taken=move,
            counts={**self.counts, transition: self.count(transition) + 1},
            entered={**self.entered, target: entry},
        )
