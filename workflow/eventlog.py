"""events.jsonl: an append-only log whose lines are chained, so an edit is found, not trusted.

Each event carries `prev`: the first 16 hex digits of the sha256 of the line
before it ("" for the first line). Reading the log checks the chain: a line
edited, inserted or removed breaks it at the next line, which is reported as a
`StateError` naming the file and the line. Lines written before the chain
existed (no `prev`) are read as they are. A missing log, a byte that is not
UTF-8 and a line that is not JSON are errors too; a torn last line (a kill
mid-append) is left out, as `Store.append_event` drops it before appending.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from workflow.errors import StateError

__all__ = ["PREV", "digest", "last_line", "lost", "read_events"]

PREV = "prev"
_CHUNK = 1 << 16


def digest(line: bytes | None) -> str:
    """The `prev` of the line after `line` (None: the log is empty)."""
    return "" if line is None else hashlib.sha256(line).hexdigest()[:16]


def lost(path: Path) -> str:
    return (f"{path}: the event log is missing; the project's history is not recreated "
            "empty: restore the file from a backup")


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every complete event of the log at `path`, its chain checked."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StateError(lost(path)) from None
    except OSError as exc:
        raise StateError(f"{path}: cannot be read ({exc.strerror})") from None
    events = []
    previous: bytes | None = None
    for number, raw in enumerate(data.split(b"\n")[:-1], 1):  # after the last \n: torn
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise StateError(f"{path}: line {number} is not valid UTF-8 (the log was edited "
                             "or damaged); repair it by hand or restore it") from None
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            raise StateError(f"{path}: line {number} is not valid JSON") from None
        if not isinstance(event, dict):
            raise StateError(f"{path}: line {number} is not an event (a JSON object)")
        if PREV in event and event[PREV] != digest(previous):
            raise StateError(
                f"{path}: line {number} does not follow the line before it (a line was "
                "edited, inserted or removed); the history is not trusted: restore the file")
        previous = raw
        events.append(event)
    return events


def last_line(fd: int, size: int) -> bytes | None:
    """The last non-blank line (without its newline) of a log of `size` bytes ending in a
    newline, read from the end; None when there is none."""
    read = _CHUNK
    while True:
        read = min(read, size)
        lines = os.pread(fd, read, size - read).split(b"\n")[:-1]
        if read < size:
            lines = lines[1:]  # the first may be cut
        for line in reversed(lines):
            if line.strip():
                return line
        if read == size:
            return None
        read *= 2
