"""Which dotted fact paths the facts models accept: the cross-check of checklists and the graph.

A checklist item or a graph branch names facts by dotted path
(`phase4.comparison.p_value`). A path that no model has would leave its item
pending forever, silently; `path_problem` says why a path is unknown, and
`checklist_problems` / `graph_problems` list every unknown path of a
checklist or of the phase graph's `when`s.

`{metric}` stands for the project's target metric: it is accepted where a
model is keyed by metric name (`ByMetric`, or a `dict[str, ...]`), and so is
any literal metric name there. Below an untyped value (`Any`, a permissive
model) nothing more can be checked, and the path is accepted.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from workflow.facts._root import Facts
from workflow.io import is_model, union_members

if TYPE_CHECKING:
    from workflow.conditions import Condition
    from workflow.gates import Checklist
    from workflow.machine import Transition

__all__ = [
    "METRIC",
    "checklist_paths",
    "checklist_problems",
    "condition_paths",
    "graph_problems",
    "path_problem",
]

METRIC = "{metric}"


class _Free:
    """The marker of a value whose inside the models do not declare (anything goes below it)."""


_FREE = _Free()


@lru_cache(maxsize=1024)
def path_problem(path: str, root: Any = Facts) -> str | None:
    """None when the models accept dotted `path`; otherwise why not, in words."""
    parts = path.split(".")
    current: Any = root
    for depth, part in enumerate(parts):
        following = _child(current, part)
        if following is _FREE:
            return None
        if following is None:
            where = ".".join(parts[:depth]) or "facts"
            known = _names(current)
            has = f" (it has: {', '.join(known)})" if known else ""
            if part == METRIC:
                return f"{path}: {where} is not keyed by metric name{has}"
            return f"{path}: {where} has no {part!r}{has}"
        current = following
    return None


def _child(annotation: Any, part: str) -> Any:
    """The annotation of `part` below `annotation`; _FREE when undeclared, None when absent."""
    for member in union_members(annotation):
        if member is Any:
            return _FREE
        if is_model(member):
            if part != METRIC and part in member.model_fields:
                return member.model_fields[part].annotation
            if member.model_config.get("extra") == "allow":
                extra = typing.get_type_hints(member).get("__pydantic_extra__")
                args = typing.get_args(extra)
                return args[1] if len(args) == 2 else _FREE
        elif typing.get_origin(member) is dict:
            args = typing.get_args(member)
            return args[1] if len(args) == 2 else _FREE
        elif member is dict:
            return _FREE
    return None


def _names(annotation: Any) -> list[str]:
    return [name for m in union_members(annotation) if is_model(m) for name in m.model_fields]


def condition_paths(condition: Condition) -> list[str]:
    """Every fact path a condition reads: `fact` and `other`, through any_of/all_of."""
    paths = [p for p in (condition.fact, condition.other) if p is not None]
    for inner in (condition.any_of or []) + (condition.all_of or []):
        paths += condition_paths(inner)
    return paths


def checklist_paths(checklist: Checklist) -> list[tuple[str, str]]:
    """(item id, fact path) for every path the checklist's items and their `when`s read."""
    found = []
    for item in checklist.items:
        paths = condition_paths(item.when) if item.when is not None else []
        check: Any = item.check
        if check.kind == "metric":
            paths += condition_paths(check)
        elif check.kind == "significant":
            paths.append(check.fact)
        found += [(item.id, path) for path in paths]
    return found


def checklist_problems(checklist: Checklist, root: Any = Facts) -> list[str]:
    """One line per fact path of `checklist` that no facts model has, naming the item."""
    return _problems(checklist_paths(checklist), "item", root)


def graph_problems(transitions: Iterable[Transition], root: Any = Facts) -> list[str]:
    """One line per fact path of the transitions' `when`s that no facts model has."""
    found = [(t.name, path) for t in transitions if t.when is not None
             for path in condition_paths(t.when)]
    return _problems(found, "transition", root)


def _problems(found: list[tuple[str, str]], what: str, root: Any) -> list[str]:
    lines = []
    for owner, path in found:
        problem = path_problem(path, root)
        if problem is not None:
            lines.append(f"{what} {owner}: {problem}")
    return lines
