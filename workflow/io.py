"""Durable file writes, validated YAML loading and dotted-path lookups, shared by every module.

Writes go to a temporary file in the same folder, are fsynced, then renamed over
the target: a reader (or a process killed mid-write) sees the old file or the
new one, never a torn one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import types
import typing
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ValidationError

from workflow.errors import ConfigError

# YAML a user gave is read under limits (regular files only, a size cap, depth and alias
# limits, plain types): see workflow.safe_yaml
from workflow.safe_yaml import one_line as one_line
from workflow.safe_yaml import parse_yaml as parse_yaml
from workflow.safe_yaml import read_yaml as read_yaml

M = TypeVar("M", bound=BaseModel)
_UMASK = os.umask(0)
os.umask(_UMASK)


class _Missing:
    """The value at a path that holds none (distinct from a recorded null)."""

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


def lookup(data: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path ("phase4.best.val_accuracy.mean"), or MISSING."""
    node: Any = data
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return MISSING
        node = node[key]
    return node


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary sibling of `path`; on a clean exit fsync it and rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual mode
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # the rename itself must reach the disk for the new file to survive a power cut
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file; a missing or corrupt file is a `ConfigError` naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except (UnicodeDecodeError, IsADirectoryError, PermissionError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.__class__.__name__})") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid JSON (nested too deeply)") from None


def load_model(path: str | os.PathLike[str], model: type[M]) -> M:
    """Load `path` as YAML and validate it as `model`; any problem is one `ConfigError` line."""
    data = read_yaml(path)
    if data is None:
        data = {}
    return validate(data, model, source=str(path))


def validate(data: Any, model: type[M], *, source: str) -> M:
    """Validate `data` as `model`, turning pydantic's report into one line naming `source`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, model, source)) from None


def describe_validation_error(exc: ValidationError, model: type[BaseModel], source: str) -> str:
    """One line: the file, the field path, what was wrong and what is allowed."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = tuple(first["loc"])
    field = ".".join(str(part) for part in loc) or "(top level)"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        allowed = _allowed_fields(model, loc[:-1])
        message = "unknown field"
        if allowed:
            message += f" (allowed: {', '.join(allowed)})"
    elif first["type"] == "missing":
        message = "required field is missing"
    else:
        message = message.removeprefix("Value error, ")
        value = first.get("input")
        if isinstance(value, (int, float, str, bool)) or value is None:
            message += f" (got {value!r})"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return one_line(f"{source}: {field}: {message}{more}")



def _allowed_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found by walking `loc` from `model`, best effort."""
    current: Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    candidates = [m for m in union_members(current) if is_model(m)]
    if len(candidates) != 1:
        return []
    return [info.alias or name for name, info in candidates[0].model_fields.items()]


def _step(current: Any, part: Any) -> Any:
    for member in union_members(current):
        if is_model(member):
            if isinstance(part, str) and part in member.model_fields:
                return member.model_fields[part].annotation
            # a discriminated union puts the tag in the path: pick the member it names
            if isinstance(part, str) and _tag_matches(member, part):
                return member
        origin = typing.get_origin(member)
        if isinstance(part, int) and origin in (list, tuple):
            args = typing.get_args(member)
            return args[0] if args else None
        if isinstance(part, str) and origin is dict:
            args = typing.get_args(member)
            return args[1] if len(args) == 2 else None
    return None


def _tag_matches(model: type[BaseModel], tag: str) -> bool:
    for info in model.model_fields.values():
        if typing.get_origin(info.annotation) is typing.Literal and tag in typing.get_args(
            info.annotation
        ):
            return True
    return False


def union_members(annotation: Any) -> list[Any]:
    """The members of a (possibly Annotated, possibly nested) union; `[annotation]` otherwise."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return union_members(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [m for arg in typing.get_args(annotation) for m in union_members(arg)]
    return [annotation]


def is_model(obj: Any) -> bool:
    """Whether `obj` is a pydantic model class."""
    return isinstance(obj, type) and issubclass(obj, BaseModel)
