"""The Phase 4 config preview: the baseline config with the recommendations applied, commented.

Every line a recommendation touches says so at its end: `# NEW: R1 ...` for a
setting that was absent, null or empty, `# CHANGED: from 0.0 (R2 ...)` for one
that had a value. PyYAML cannot write comments, so the YAML is emitted here;
it parses back to exactly the patched config (a test holds it to that).
"""

from __future__ import annotations

from collections.abc import Sequence

from phases.diagnostic.answers import Recommendation
from workflow.io import lookup
from workflow.own_config import RunConfig, own_of
from workflow.trainer.commented import commented_yaml, is_unset, scalar
from workflow.trainer.config import TrainConfig

__all__ = ["change_notes", "preview_yaml"]

def change_notes(
    config: RunConfig, recommendations: Sequence[Recommendation]
) -> dict[str, str]:
    """The comment of each changed dotted path: NEW or CHANGED, and the recommendation's title."""
    base = config.model_dump(mode="json")
    notes: dict[str, str] = {}
    for rec in recommendations:
        for dotted in rec.changes:
            old = lookup(base, dotted)
            if is_unset(old):
                notes[dotted] = f"NEW: {rec.id} {rec.title}"
            else:
                notes[dotted] = f"CHANGED: from {scalar(old)} ({rec.id} {rec.title})"
    return notes


def preview_yaml(
    config: TrainConfig, recommendations: Sequence[Recommendation], *, header: str = ""
) -> str:
    """The patched config as YAML, each changed line commented."""
    changes = {k: v for rec in recommendations for k, v in rec.changes.items()}
    # a trainer's own config is previewed as its own file, patched on its own keys
    base: RunConfig = own_of(config) or config
    patched = base.with_changes(changes, source="the recommended changes").model_dump(
        mode="json"
    )
    return commented_yaml(patched, change_notes(base, recommendations), header=header)

