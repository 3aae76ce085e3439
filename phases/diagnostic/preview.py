"""The Phase 4 config preview: the baseline config with the recommendations applied, commented.

Every line a recommendation touches says so at its end: `# NEW: R1 ...` for a
setting that was absent, null or empty, `# CHANGED: from 0.0 (R2 ...)` for one
that had a value. PyYAML cannot write comments, so the YAML is emitted here;
it parses back to exactly the patched config (a test holds it to that).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from phases.diagnostic.candidates import Recommendation
from workflow.trainer.config import TrainConfig

__all__ = ["change_notes", "preview_yaml"]

_ABSENT = object()


def _get(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for key in dotted.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return _ABSENT
        node = node[key]
    return node


def _scalar(value: Any) -> str:
    """One value in YAML flow style, on one line."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def change_notes(
    config: TrainConfig, recommendations: Sequence[Recommendation]
) -> dict[str, str]:
    """The comment of each changed dotted path: NEW or CHANGED, and the recommendation's title."""
    base = config.model_dump(mode="json")
    notes: dict[str, str] = {}
    for rec in recommendations:
        for dotted in rec.changes:
            old = _get(base, dotted)
            if old is _ABSENT or old is None or old == [] or old == {}:
                notes[dotted] = f"NEW: {rec.id} {rec.title}"
            else:
                notes[dotted] = f"CHANGED: from {_scalar(old)} ({rec.id} {rec.title})"
    return notes


def preview_yaml(
    config: TrainConfig, recommendations: Sequence[Recommendation], *, header: str = ""
) -> str:
    """The patched config as YAML, each changed line commented."""
    changes = {k: v for rec in recommendations for k, v in rec.changes.items()}
    patched = config.with_changes(changes, source="the recommended changes").model_dump(
        mode="json"
    )
    notes = change_notes(config, recommendations)
    lines = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    lines += _emit(patched, notes, "", 0)
    return "\n".join(lines) + "\n"


def _emit(node: Mapping[str, Any], notes: Mapping[str, str], prefix: str, depth: int) -> list[str]:
    lines = []
    pad = "  " * depth
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        comment = f"  # {notes[dotted]}" if dotted in notes else ""
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{key}:{comment}")
            lines += _emit(value, notes, f"{dotted}.", depth + 1)
        elif isinstance(value, list) and any(isinstance(item, dict) and item for item in value):
            lines.append(f"{pad}{key}:{comment}")
            for item in value:
                if isinstance(item, dict) and item:
                    for i, (k, v) in enumerate(item.items()):
                        lead = "- " if i == 0 else "  "
                        lines.append(f"{pad}  {lead}{k}: {_scalar(v)}")
                else:
                    lines.append(f"{pad}  - {_scalar(item)}")
        else:
            lines.append(f"{pad}{key}: {_scalar(value)}{comment}")
    return lines
