"""Files a later step depends on, hashed when they are used and checked when they are used again.

A phase that reads a file another command wrote (the baseline's checkpoints and
config, the model Phase 5 evaluated) records the file's sha256 when it uses it.
Whoever relies on that use later checks the hashes again: a file that changed
or went missing is an error naming it, never a silent retrain, reset or
recreate, because the result that was recorded describes the old bytes.

Paths are kept relative to a root (the run directory) when they lie inside it,
so a run directory that is moved keeps its record.

Two records use this:

- `state.json`'s `inputs` (`InputRecord` per file): what every command relies
  on, checked whenever a command opens the project (`Store.open`): the
  project's `project.yaml` from `init`, and the baseline's config file and run
  folders (checkpoints, histories, metrics) once `baseline.completed` is
  recorded. The size and modification time are kept beside the hash, so an
  unchanged file is not read again on every command;
- `phase5.files`: the files the model card reports on, checked by `promote`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from workflow.io import sha256_file

__all__ = [
    "FileChange",
    "InputRecord",
    "baseline_inputs",
    "changed_files",
    "changed_inputs",
    "hash_files",
    "input_records",
    "relative",
]


class InputRecord(BaseModel):
    """A file a later step depends on, as it was when it was used."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sha256: str
    bytes: int
    mtime_ns: int


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
    """`path` relative to `root` when it lies inside it (POSIX form), else absolute.

    A relative `path` is relative to the working directory, as every path a command
    builds from its run directory is (`runs/x/phase5/model.pt` under `--runs runs`), never
    to `root`: read that way it would name `runs/x/runs/x/phase5/model.pt`.
    """
    full = Path(path)
    try:
        return full.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(full.resolve())


def hash_files(root: Path, paths: Iterable[str | os.PathLike[str]]) -> dict[str, str]:
    """Each existing file's sha256, keyed by its path relative to `root`; missing ones left out."""
    return {key: record.sha256 for key, record in input_records(root, paths).items()}


def changed_files(root: Path, recorded: Mapping[str, str]) -> list[FileChange]:
    """The recorded files (relative to `root`, or absolute) that changed or went missing."""
    return [change for key, digest in recorded.items()
            if (change := _change(root, key, digest)) is not None]


def _change(root: Path, key: str, digest: str) -> FileChange | None:
    full = root / key
    now = sha256_file(full) if full.is_file() else None
    return None if now == digest else FileChange(key, digest, now)


def input_records(root: Path, paths: Iterable[str | os.PathLike[str]]) -> dict[str, InputRecord]:
    """Each existing file's record, keyed by its path relative to `root`."""
    found = {}
    for path in paths:
        key = relative(root, path)
        full = root / key
        if full.is_file():
            stat = full.stat()
            found[key] = InputRecord(sha256=sha256_file(full), bytes=stat.st_size,
                                     mtime_ns=stat.st_mtime_ns)
    return found


def changed_inputs(root: Path, recorded: Mapping[str, InputRecord]) -> list[FileChange]:
    """The recorded inputs that changed or went missing (a file of the same size and time is
    taken as unchanged without reading it)."""
    changes = []
    for key, record in recorded.items():
        try:
            stat = (root / key).stat()
        except OSError:
            stat = None
        if stat is not None and (stat.st_size, stat.st_mtime_ns) == (record.bytes,
                                                                      record.mtime_ns):
            continue
        change = _change(root, key, record.sha256)
        if change is not None:
            changes.append(change)
    return changes


def baseline_inputs(run_dir: Path, baseline_config: Path) -> list[Path]:
    """What later phases read of the baseline: its config file and every file of its seeds'
    run folders (staging folders left out)."""
    files = [baseline_config]
    for seed in sorted((run_dir / "baseline").glob("seed-*")):
        files += sorted(p for p in seed.rglob("*") if p.is_file() and not p.name.startswith("."))
    return files
