"""The workflow's own facts (`moves.*`): how each state was entered, which moves were taken.

OWNER: the graph/pipeline helper. Placeholder until then: a permissive model.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["MovesFacts"]


class MovesFacts(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
