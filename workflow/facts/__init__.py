"""Typed facts: every section of facts.json is a pydantic model (OWNER: the facts helper)."""

from workflow.facts._moves import MovesFacts
from workflow.facts._phase4 import AttemptRecord, Phase4Facts

__all__ = ["AttemptRecord", "MovesFacts", "Phase4Facts"]
