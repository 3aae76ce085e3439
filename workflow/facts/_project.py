"""What `Store.create` records of the project (`project.*`): the target and the rules."""

from __future__ import annotations

from typing import Literal

from workflow.facts._base import FactsModel

__all__ = ["ProjectFacts"]


class ProjectFacts(FactsModel):
    """The project's target and statistical rules, as a checklist compares against them."""

    name: str | None = None
    metric: str | None = None
    direction: Literal["maximize", "minimize"] | None = None
    goal: float | None = None
    min_effect: float | None = None
    alpha: float | None = None
    seeds: int | None = None
    iteration_limit: int | None = None
    strategy: str | None = None
