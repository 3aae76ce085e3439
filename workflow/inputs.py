"""Files a later step depends on, hashed when they are used and checked when they are used again.

A phase that reads a file another command wrote (the baseline's checkpoints and
config, the model Phase 5 evaluated) records the file's sha256 when it uses it.
Whoever relies on that use later checks the hashes again: a file that changed
or went missing is an error naming it, never a silent retrain, reset or
recreate, because the result that was recorded describes the old bytes.

Paths are kept relative to a root (the run directory) when they lie inside it,
so a run directory that is moved keeps its record.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from workflow.io import sha256_file

__all__ = ["FileChange", "changed_files", "hash_files", "relative"]


@dataclass(frozen=True)
class FileChange:
    """A recorded file whose bytes are not the ones recorded (`now` is None when it is gone)."""

    path: str
    recorded: str
    now: str | None

    def describe(self) -> str:
        if self.now is None:
            return f"{self.path} is missing (it had sha256 {self.recorded[:12]})"
        return f"{self.path} changed (sha256 {self.recorded[:12]} -> {self.now[:12]})"


def relative(root: Path, path: str | os.PathLike[str]) -> str:
    """`path` relative to `root` when it lies inside it (POSIX form), else absolute."""
    full = Path(path) if Path(path).is_absolute() else root / path
    try:
        return full.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(full.resolve())


def hash_files(root: Path, paths: Iterable[str | os.PathLike[str]]) -> dict[str, str]:
    """Each existing file's sha256, keyed by its path relative to `root`; missing ones left out."""
    found = {}
    for path in paths:
        key = relative(root, path)
        full = root / key
        if full.is_file():
            found[key] = sha256_file(full)
    return found


def changed_files(root: Path, recorded: Mapping[str, str]) -> list[FileChange]:
    """The recorded files (relative to `root`, or absolute) that changed or went missing."""
    changes = []
    for key, digest in recorded.items():
        full = root / key
        now = sha256_file(full) if full.is_file() else None
        if now != digest:
            changes.append(FileChange(key, digest, now))
    return changes
