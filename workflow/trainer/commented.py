"""A training config as YAML with a comment on each line a change set.

Phase 3's config preview and Phase 4's optimization_config.yaml are both
written this way (`# NEW: ...`, `# CHANGED: from 10 ...`); the text parses
back to exactly the config it shows.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import yaml

from workflow.io import MISSING


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as {dotted.path: leaf value}; an empty mapping is a leaf."""
    if isinstance(data, dict) and data:
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): data}


def is_unset(value: Any) -> bool:
    """A setting the base config leaves empty: a change to it is NEW, not CHANGED."""
    return value is MISSING or value is None or value == [] or value == {}


def config_diff(
    base: Any, config: Any, *, ignore: Collection[str] = ("name",)
) -> list[dict[str, str]]:
    """Every setting that differs between two configs: its path, and both values as YAML.

    In the base's order, settings only the candidate has last; `ignore` leaves out
    paths that label a run without training it (its `name`, by default).
    """
    before = flatten(base.model_dump(mode="json"))
    after = flatten(config.model_dump(mode="json"))
    rows = []
    for path in list(before) + [p for p in after if p not in before]:
        if path in ignore:
            continue
        old, new = before.get(path), after.get(path)
        if old != new:
            rows.append({"path": path, "from": scalar(old), "to": scalar(new)})
    return rows


def scalar(value: Any) -> str:
    """One value in YAML flow style, on one line."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def commented_yaml(data: Mapping[str, Any], notes: Mapping[str, str], *, header: str = "") -> str:
    """`data` as block YAML; the line of each dotted path in `notes` ends with its comment."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    lines += _emit(data, notes, "", 0)
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
                        lines.append(f"{pad}  {lead}{k}: {scalar(v)}")
                else:
                    lines.append(f"{pad}  - {scalar(item)}")
        else:
            lines.append(f"{pad}{key}: {scalar(value)}{comment}")
    return lines
