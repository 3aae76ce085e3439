"""Phase 4's facts (`phase4.*` in facts.json) and its attempt record.

OWNER: the Phase 4 helper. Placeholder until then: permissive models.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["AttemptRecord", "Phase4Facts"]


class AttemptRecord(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Phase4Facts(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
