"""The run directory of one project: its state, facts, event log and lock.

```
runs/<project>/
  project.yaml   the validated project config (baseline path absolute)
  state.json     the phase, each passed gate's artifact hashes, the sign-offs
  facts.json     what the phases recorded, a nested dict read by dotted paths;
                 each section fits its model in workflow.facts (checked on every write)
  events.jsonl   append-only log: one JSON object per line
  .lock          flock'ed by the one command writing; holds its pid
```

Every write goes through a `Store` method, under the lock: JSON files are
replaced atomically (a reader, or a process killed mid-write, sees the old file
or the new one), and each event line is flushed and fsynced before the method
returns. A corrupt state or facts file is a `StateError` naming it, never a
silent reset. Read-only commands (status, gate check) do not take the lock.

What later phases depend on is checked whenever a command opens the project
(`Store.open`): the event log must exist (a deleted log is an error, never
recreated empty, since the history would be gone), and the inputs recorded in
`state.json` (`project.yaml`, and the baseline's config and run folders once
the baseline completed; see `workflow.inputs`) must be as they were recorded.
A change or a loss is a `StateError` naming the file, never a silent retrain,
reset or recreate.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workflow.errors import ConfigError, FactsError, LockHeld, StateError, UsageError
from workflow.eventlog import PREV, digest, last_line, lost, read_events
from workflow.facts import ProjectFacts, check_section, path_problem
from workflow.inputs import InputRecord, baseline_inputs, changed_inputs, input_records
from workflow.io import (
    MISSING,
    atomic_write_json,
    atomic_write_text,
    describe_validation_error,
    lookup,
    validate,
)
from workflow.project import ProjectConfig, check_name
from workflow.safe_yaml import read_yaml

__all__ = [
    "MISSING",
    "RUNS_ENV",
    "GateRecord",
    "RunState",
    "SignOff",
    "Store",
    "lookup",
    "now",
    "runs_root",
]

RUNS_ENV = "PHASEGATE_RUNS"
PROJECT_FILE = "project.yaml"
STATE_FILE = "state.json"
FACTS_FILE = "facts.json"
EVENTS_FILE = "events.jsonl"
LOCK_FILE = ".lock"




def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def runs_root(option: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding every project's run directory: --runs, else $PHASEGATE_RUNS, else runs."""
    if option is not None:
        return Path(option)
    return Path(os.environ.get(RUNS_ENV) or "runs")


class GateRecord(BaseModel):
    """A gate that passed on a transition, with the hashes of the artifacts it checked."""

    model_config = ConfigDict(extra="forbid")

    passed_at: str
    transition: str
    by: str
    artifacts: dict[str, str] = Field(default_factory=dict)


class SignOff(BaseModel):
    """A person's sign-off of a manual checklist item."""

    model_config = ConfigDict(extra="forbid")

    by: str
    at: str
    note: str = ""


class RunState(BaseModel):
    """The content of state.json."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    project: str
    state: str
    project_dir: str | None = None
    created: str
    updated: str
    gates: dict[str, GateRecord] = Field(default_factory=dict)
    signoffs: dict[str, dict[str, SignOff]] = Field(default_factory=dict)
    # files later phases depend on, as they were when recorded (see workflow.inputs)
    inputs: dict[str, InputRecord] = Field(default_factory=dict)


class Store:
    """One project's run directory. Reads always hit the disk: another process may have written."""

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.run_dir = Path(run_dir)
        self._lock_fd: int | None = None
        self._lock_depth = 0

    # -- opening and creating ---------------------------------------------------------------

    @classmethod
    def open(cls, name: str, root: str | os.PathLike[str] | None = None) -> Store:
        """The existing project `name` under `root` (see `runs_root`)."""
        folder = runs_root(root)
        store = cls(folder / check_name(name))
        if not (store.run_dir / STATE_FILE).is_file():
            existing = sorted(p.parent.name for p in folder.glob(f"*/{STATE_FILE}"))
            known = f"; projects there: {', '.join(existing)}" if existing else ""
            raise UsageError(
                f"no project {name!r} in {folder}/ (create it with: phasegate init {name} "
                f"--config PROJECT.yaml){known}"
            )
        store.check_inputs()
        return store

    @classmethod
    def create(
        cls,
        config: ProjectConfig,
        root: str | os.PathLike[str] | None = None,
        *,
        start: str,
        project_dir: Path | None,
        who: str,
    ) -> Store:
        """A new run directory for `config` in state `start`; an existing one is an error."""
        store = cls(runs_root(root) / check_name(config.name))
        store.run_dir.mkdir(parents=True, exist_ok=True)
        with store.lock():
            # state.json is written last: a folder without it is an interrupted init
            if (store.run_dir / STATE_FILE).exists():
                raise UsageError(
                    f"{store.run_dir} already exists (state: {store.current}); "
                    "choose another name or remove that folder"
                )
            project = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
            atomic_write_text(store.run_dir / PROJECT_FILE, project)
            target = config.target
            recorded = ProjectFacts(
                name=config.name,
                metric=target.metric,
                direction=target.direction,
                goal=target.goal,
                min_effect=config.min_effect,
                alpha=config.alpha,
                seeds=len(config.seeds),
                iteration_limit=config.iteration_limit,
                strategy=config.strategy,
            )
            atomic_write_json(store.facts_file, {"project": recorded.model_dump()})
            # the log exists from here on: a later command finding it gone says so
            atomic_write_text(store.run_dir / EVENTS_FILE, "")
            stamp = now()
            resolved_dir = str(project_dir.resolve()) if project_dir is not None else None
            state = RunState(
                project=config.name,
                state=start,
                project_dir=resolved_dir,
                created=stamp,
                updated=stamp,
                inputs=input_records(store.run_dir, [store.run_dir / PROJECT_FILE]),
            )
            store.save_state(state)
            store.append_event("created", {"to": start, "who": who, "project_dir": resolved_dir})
        return store

    # -- reading ----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def project(self) -> ProjectConfig:
        path = self.run_dir / PROJECT_FILE
        try:  # under the YAML limits every file phasegate reads has (workflow.safe_yaml)
            data = read_yaml(path)
        except ConfigError as exc:
            raise StateError(str(exc)) from None
        return validate(data, ProjectConfig, source=str(path))

    def load_state(self) -> RunState:
        path = self.run_dir / STATE_FILE
        data = _read_json(path)
        try:
            return RunState.model_validate(data)
        except ValidationError as exc:
            raise StateError(describe_validation_error(exc, RunState, str(path))) from None

    @property
    def current(self) -> str:
        """The project's phase-graph state."""
        return self.load_state().state

    @property
    def project_dir(self) -> Path | None:
        """The folder of the project file: its checklists/ and templates/ come first."""
        folder = self.load_state().project_dir
        return Path(folder) if folder else None

    @property
    def facts_file(self) -> Path:
        return self.run_dir / FACTS_FILE

    @property
    def facts(self) -> dict[str, Any]:
        """facts.json as recorded, untyped (gates read it by dotted path); see `read_facts`."""
        path = self.facts_file
        data = _read_json(path)
        if not isinstance(data, dict):
            raise StateError(f"{path}: expected a JSON object, got {type(data).__name__}")
        return data

    def get(self, path: str, default: Any = MISSING) -> Any:
        """The fact at dotted `path`, or `default` when it was never recorded.

        A path no facts model has is a `FactsError`: a misspelt read would otherwise
        see `default` forever. Prefer `workflow.facts.read_facts`, which is typed.
        """
        problem = path_problem(path)
        if problem is not None:
            raise FactsError(f"no such fact: {problem}")
        value = lookup(self.facts, path)
        return default if value is MISSING else value

    def events(self) -> list[dict[str, Any]]:
        """The event log, its chain checked (`workflow.eventlog`); a torn last line is left out."""
        return read_events(self.run_dir / EVENTS_FILE)

    def check_inputs(self) -> None:
        """Raise `StateError` unless the event log exists and every recorded input is as it
        was recorded (see the module docstring)."""
        self.events()  # there, and readable: UTF-8 JSON lines
        changes = changed_inputs(self.run_dir, self.load_state().inputs)
        if changes:
            raise StateError(
                f"project {self.name!r}: " + "; ".join(c.describe() for c in changes)
                + " since it was used; the recorded results depend on it as it was: restore "
                "it, or start a new project (phasegate init)"
            )

    # -- writing (each takes the lock) -------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the project's lock; re-entrant within this Store, exclusive across processes."""
        if self._lock_fd is not None:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            # a dead holder's flock is released by the kernel: a stale lock is simply free
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockHeld(
                f"project {self.name!r} is locked by pid {holder} (another phasegate command "
                f"is writing it; see {path}); try again when it has finished"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._lock_fd, self._lock_depth = fd, 1
            yield
        finally:
            self._lock_fd, self._lock_depth = None, 0
            os.ftruncate(fd, 0)
            os.close(fd)

    def save_state(self, state: RunState) -> None:
        with self.lock():
            state = state.model_copy(update={"updated": now()})
            atomic_write_json(self.run_dir / STATE_FILE, state.model_dump(mode="json"))

    def append_event(self, event: str, fields: Mapping[str, Any] | None = None) -> None:
        """Append one line to events.jsonl, chained to the last, durable before returning."""
        record = {"time": now(), "event": event, **(fields or {})}
        path = self.run_dir / EVENTS_FILE
        with self.lock():
            try:  # no O_CREAT: a log that is gone is an error, never a fresh empty one
                fd = os.open(path, os.O_RDWR | os.O_APPEND)
            except FileNotFoundError:
                raise StateError(lost(path)) from None
            with os.fdopen(fd, "r+b") as handle:
                size = handle.seek(0, os.SEEK_END)
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    # a kill mid-append left a torn last line, which `events` skips; appending
                    # after it would glue this line to it and make the log unreadable, so the
                    # fragment (never a complete event) is dropped first
                    handle.seek(0)
                    size = handle.truncate(handle.read().rfind(b"\n") + 1)
                record[PREV] = digest(last_line(fd, size))
                handle.write((json.dumps(record, default=str) + "\n").encode("utf-8"))
                handle.flush()
                os.fsync(fd)

    def record(
        self, prefix: str, mapping: Mapping[str, Any] | BaseModel, *, who: str = "phasegate"
    ) -> None:
        """Set each key of `mapping` under dotted `prefix` in facts.json, replacing its value.

        `record("phase4", {"decision": "A"})` sets phase4.decision and keeps the rest
        of phase4. `mapping` may be a facts model (`Phase3Facts(strategy="sweep")`):
        the fields it was given are recorded. Values must be JSON (numbers, strings,
        booleans, null, lists, dicts). The section after the merge must fit its model
        in workflow.facts, and the section must be one facts.json has: otherwise a
        `FactsError` naming the field, and nothing is written.
        """
        keys = prefix.split(".")
        if not all(keys):
            raise FactsError(f"cannot record under {prefix!r}: expected a dotted path")
        if isinstance(mapping, BaseModel):
            mapping = mapping.model_dump(exclude_unset=True, by_alias=True)
        try:
            values = json.loads(json.dumps(dict(mapping), allow_nan=True))
        except (TypeError, ValueError) as exc:
            raise FactsError(f"cannot record under {prefix!r}: not JSON ({exc})") from None
        with self.lock():
            facts = self.facts
            node = facts
            for depth, key in enumerate(keys):
                child = node.setdefault(key, {})
                if not isinstance(child, dict):
                    where = ".".join(keys[: depth + 1])
                    raise FactsError(
                        f"cannot record under {prefix!r}: {where} is a value, not a group"
                    )
                node = child
            node.update(values)
            try:
                check_section(keys[0], facts[keys[0]], source=FACTS_FILE)
            except FactsError as exc:
                raise FactsError(f"cannot record under {prefix!r}: {exc}") from None
            atomic_write_json(self.facts_file, facts)
            self.append_event("recorded", {"prefix": prefix, "keys": sorted(values), "who": who})
            if keys == ["baseline"] and values.get("completed") is True:
                self.record_inputs(baseline_inputs(self.run_dir, self.project.baseline))

    def record_inputs(self, paths: list[Path]) -> None:
        """Record the files later phases depend on (checked by every `Store.open`)."""
        with self.lock():
            state = self.load_state()
            records = input_records(self.run_dir, paths)
            self.save_state(state.model_copy(update={"inputs": {**state.inputs, **records}}))
            self.append_event("inputs_recorded", {"files": sorted(records)})

    def sign(self, gate: str, item: str, *, who: str, note: str = "") -> SignOff:
        """Record a person's sign-off of a manual item (the caller checks the item exists)."""
        if not who.strip():
            raise UsageError("a sign-off needs the name of the person signing (--by NAME)")
        signoff = SignOff(by=who.strip(), at=now(), note=note)
        with self.lock():
            state = self.load_state()
            signoffs = copy.deepcopy(state.signoffs)
            signoffs.setdefault(gate, {})[item] = signoff
            self.save_state(state.model_copy(update={"signoffs": signoffs}))
            self.append_event(
                "signed", {"gate": gate, "item": item, "who": signoff.by, "note": note}
            )
        return signoff


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise StateError(f"{path}: file is missing from the run directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"{path}: cannot be read ({exc.__class__.__name__})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); it was not reset: "
            "repair it by hand or restore it from a backup"
        ) from None
