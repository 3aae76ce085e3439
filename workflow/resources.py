"""Where the shipped defaults (checklists, templates, configs) are found.

In a source checkout or an editable install they sit at the repository root; in
an installed wheel they are packaged under `workflow/_defaults/`. A project's own
folder of the same name is looked up before either.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
KINDS = ("checklists", "templates", "configs")


def shipped_dir(kind: str) -> Path:
    """The folder of shipped `kind` files (one of KINDS)."""
    if kind not in KINDS:
        raise ValueError(f"unknown resource kind {kind!r}; expected one of {KINDS}")
    installed = _PACKAGE / "_defaults" / kind
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / kind


def search_path(kind: str, project_dir: Path | None = None) -> list[Path]:
    """The folders to search for `kind` files, the project's own first."""
    folders = []
    if project_dir is not None and (project_dir / kind).is_dir():
        folders.append(project_dir / kind)
    folders.append(shipped_dir(kind))
    return folders
