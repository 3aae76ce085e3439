"""Reading a YAML file a user gave, with limits: what a hostile or broken file can do is fail.

A project folder may come from anywhere, so every YAML file phasegate reads
(projects, training configs, search spaces, checklists) goes through here:

- regular files only: a FIFO would block the read forever, a link to
  `/dev/zero` would fill the memory; either is refused before it is opened
- at most `MAX_BYTES` bytes (a config is a few kilobytes)
- at most `MAX_DEPTH` levels of nesting, counted after aliases are expanded
  (Python's recursion limit is 1,000 frames; a deeper file is refused, not a crash)
- at most `MAX_NODES` values once aliases are expanded: an alias bomb (each
  level repeating the previous one nine times) is a few lines that expand to
  billions of values, and would hang whatever walks it
- plain JSON-like values only (null, booleans, numbers, text, lists and
  mappings): a date, `!!set`, `!!binary`, `!!omap` or `!!pairs` is refused
  with its line, since no setting means one and code downstream would trip on it

Every refusal is one `ConfigError` line naming the file (and the line, where
there is one).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, SequenceNode

from workflow.errors import ConfigError

__all__ = [
    "MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "one_line", "parse_yaml", "read_text_file", "read_yaml",
]

MAX_BYTES = 4 << 20  # 4 MiB
MAX_DEPTH = 64
MAX_NODES = 200_000


def one_line(text: str) -> str:
    """`text` with its control characters escaped (a newline as \\n): a key, value or path
    from the input can never split an error message in two or send escapes to a terminal."""
    return "".join(
        c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii")
        for c in text
    )


class _Refused(yaml.YAMLError):
    """A limit or an unsupported type, raised while composing; `line` is 1-based, or None."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


def _line(node_or_event: Any) -> int | None:
    mark = getattr(node_or_event, "start_mark", None)
    return mark.line + 1 if mark is not None else None


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with a nesting limit while composing and plain types only."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"nested deeper than {MAX_DEPTH} levels", _line(self.peek_event()))
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self) -> Node | None:
        node: Node | None = super().get_single_node()
        if node is not None:
            _check_expanded(node)
        return node


def _refuse_type(what: str, hint: str) -> Any:
    def construct(loader: _Loader, node: Node) -> Any:
        raise _Refused(f"{what} ({node.value if isinstance(node.value, str) else '...'}) is "
                       f"not a value any setting takes; {hint}", _line(node))

    return construct


for _tag, _what, _hint in (
    ("timestamp", "a date", "quote it if you mean text"),
    ("set", "a !!set", "write a list"),
    ("binary", "!!binary data", "write text or a number"),
    ("omap", "an !!omap", "write a mapping"),
    ("pairs", "!!pairs", "write a mapping"),
):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_type(_what, _hint))


def _check_expanded(root: Node) -> None:
    """Refuse a document whose aliases expand past `MAX_NODES` values or `MAX_DEPTH` levels,
    or refer to themselves; iterative, so a long chain of aliases cannot exhaust the stack."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        kids = _children(node)
        if children_done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[key] > MAX_NODES:
                raise _Refused(
                    f"its aliases expand to more than {MAX_NODES:,} values", _line(node)
                )
            if depth[key] > MAX_DEPTH:
                raise _Refused(
                    f"nested deeper than {MAX_DEPTH} levels once its aliases are expanded",
                    _line(node),
                )
            continue
        if key in size:
            continue
        if key in on_path:
            raise _Refused("an alias refers to the value that holds it", _line(node))
        on_path.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in size)
        for kid in kids:
            if id(kid) in on_path:
                raise _Refused("an alias refers to the value that holds it", _line(kid))


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def read_text_file(path: str | os.PathLike[str], *, limit: int = MAX_BYTES) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes; anything else a `ConfigError`."""
    path = Path(path)
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{path}: not a regular file (a {_kind(info.st_mode)})")
        if info.st_size > limit:
            raise ConfigError(f"{path}: {info.st_size:,} bytes, over the limit of {limit:,}")
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"{path}: cannot be read ({reason})") from None
    except ValueError as exc:  # a NUL byte in the path
        raise ConfigError(f"{str(path)!r}: not a usable path ({exc})") from None
    if len(data) > limit:
        raise ConfigError(f"{path}: over the limit of {limit:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "folder"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return "special file"


def parse_yaml(text: str, *, source: str) -> Any:
    """Parse one YAML document under the limits above; a problem is one `ConfigError` line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except _Refused as exc:
        where = f" at line {exc.line}" if exc.line is not None else ""
        raise ConfigError(f"{source}: refused{where}: {exc.message}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        detail = f" ({problem})" if problem else ""
        raise ConfigError(f"{source}: not valid YAML{where}{detail}") from None
    except RecursionError:  # a limit above should have caught it first; never a traceback
        raise ConfigError(f"{source}: refused: nested too deeply") from None


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """Read and parse the YAML file at `path` under the limits above."""
    try:
        return parse_yaml(read_text_file(path), source=str(path))
    except ConfigError as exc:  # a path given with a newline in it stays one line
        raise ConfigError(one_line(str(exc))) from None
