"""Manual checklist items: a person's sign-off, bound to the files they read.

A `manual` item may name `artifacts` (files of the run directory): the model
card for `model_card_reviewed`. `sign_item` refuses a sign-off before they
exist, and records their sha256 with it (`signoffs.*` in facts.json, beside
the who, when and note in state.json). `evaluate_manual` then checks the item
against what was read: a file that changed or vanished since makes the
sign-off void, and the gate stale, naming the file.

An item with `reason_required` is a waiver (`goal_waiver`): the sign-off must
say why (`--note REASON`), and the reason is kept with it.

A sign-off recorded without hashes (the library's `Store.sign` called
directly) is checked by the files' modification times instead: one written in
a later second than the sign-off voids it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workflow.errors import ConfigError, UsageError, WrongState
from workflow.facts import SignoffsFacts
from workflow.io import sha256_file
from workflow.store import RunState, SignOff, Store

if TYPE_CHECKING:
    from workflow.gates import Checklist

__all__ = ["ManualCheck", "ManualVerdict", "Signed", "evaluate_manual", "sign_item",
           "sign_command"]


def inside_run_dir(path: str) -> str:
    """`path` when it names a file inside the run directory (relative, no `..`)."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise ValueError(f"must be a path inside the run directory, but got {path!r}")
    return path


class ManualCheck(BaseModel):
    """A person's sign-off; bound to `artifacts` when it names them."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["manual"]
    # the files the person reads before signing: the sign-off covers these bytes only
    artifacts: list[str] = Field(default_factory=list)
    # a waiver: the sign-off must say why (`--note REASON`)
    reason_required: bool = False

    @field_validator("artifacts")
    @classmethod
    def _inside(cls, paths: list[str]) -> list[str]:
        return [inside_run_dir(p) for p in paths]


@dataclass(frozen=True)
class ManualVerdict:
    """What a manual item's check says: pass, pending or fail (void: stale), and why."""

    status: Literal["pass", "fail", "pending"]
    reason: str
    stale: bool = False


def sign_command(gate: str, item: str, project: str, *, reason: bool = False) -> str:
    """The command a person runs to give this sign-off."""
    note = ' --note "WHY"' if reason else ""
    return f"phasegate gate sign {project} {gate} {item} --by NAME{note}"


def evaluate_manual(
    check: ManualCheck, gate: str, item: str, run_dir: Path, facts: dict[str, Any],
    state: RunState,
) -> ManualVerdict:
    """The item's verdict from its sign-off and the files it covers (see the module docstring)."""
    again = sign_command(gate, item, state.project, reason=check.reason_required)
    missing = [rel for rel in check.artifacts if not (run_dir / rel).is_file()]
    signoff = state.signoffs.get(gate, {}).get(item)
    if signoff is None:
        if missing:
            return ManualVerdict("pending", f"waiting for {', '.join(missing)} to exist, then "
                                            f"for a person to read it and sign: {again}")
        return ManualVerdict("pending", f"waiting for a sign-off: {again}")
    bound = SignoffsFacts.model_validate(facts.get("signoffs") or {}).of(gate, item)
    if bound is not None and (bound.at, bound.by) != (signoff.at, signoff.by):
        bound = None  # a later sign-off through the library replaced the bound one
    for rel in check.artifacts:
        void = _void(rel, run_dir / rel, signoff, bound)
        if void:
            return ManualVerdict("fail", f"{void}: the sign-off of {signoff.by} at {signoff.at} "
                                         f"is void (stale); read it again and sign: {again}",
                                 stale=True)
    note = f": {signoff.note}" if signoff.note else ""
    covered = ""
    if bound is not None and bound.artifacts:
        covered = " (covers " + ", ".join(f"{rel} sha256 {sha[:12]}"
                                          for rel, sha in bound.artifacts.items()) + ")"
    return ManualVerdict("pass", f"signed by {signoff.by} at {signoff.at}{note}{covered}")


def _void(rel: str, path: Path, signoff: SignOff, bound: Any) -> str | None:
    """Why the sign-off no longer covers `rel`, or None while it does."""
    if not path.is_file():
        return f"{rel} does not exist" if bound is None else f"{rel} was removed after signing"
    if bound is not None:
        recorded = bound.artifacts.get(rel)
        if recorded is None:
            return f"{rel} was not there when it was signed"
        current = sha256_file(path)
        if current != recorded:
            return f"{rel} changed after it was signed (sha256 {recorded[:12]} -> {current[:12]})"
        return None
    signed = datetime.fromisoformat(signoff.at).timestamp()
    if math.floor(path.stat().st_mtime) > signed:
        return f"{rel} was written after it was signed"
    return None


@dataclass(frozen=True)
class Signed:
    """A sign-off as given: the record, and the hashes of the files it covers."""

    gate: str
    item: str
    signoff: SignOff
    artifacts: dict[str, str]

    def describe(self) -> str:
        files = "; ".join(f"{rel} (sha256 {sha[:12]})" for rel, sha in self.artifacts.items())
        covers = f", covering {files}" if files else ""
        note = f" ({self.signoff.note})" if self.signoff.note else ""
        return (f"{self.gate}/{self.item} signed by {self.signoff.by} at "
                f"{self.signoff.at}{note}{covers}")


def sign_item(
    store: Store, checklist: Checklist, gate: str, item_id: str, *, who: str, note: str = ""
) -> Signed:
    """Record `who`'s sign-off of manual item `item_id`, bound to the files it names.

    Refused (`WrongState`, exit 1) while a file it names does not exist yet; a waiver
    without a reason, or an item that is not manual, is bad input (exit 2).
    """
    from workflow.gates import find_item

    item = find_item(checklist, gate, item_id)
    check = item.check
    if not isinstance(check, ManualCheck):
        manual = [i.id for i in checklist.items if isinstance(i.check, ManualCheck)]
        raise ConfigError(
            f"item {item_id!r} of gate {gate!r} is checked automatically "
            f"({check.kind}), not signed; its manual items: {', '.join(manual) or 'none'}"
        )
    if not who.strip():
        raise UsageError("a sign-off needs the person signing: add --by NAME "
                         '(for example --by "$(git config user.name)")')
    if check.reason_required and not note.strip():
        raise UsageError(f"{gate}/{item_id} is a waiver: say why with --note REASON")
    with store.lock():
        hashes = {}
        for rel in check.artifacts:
            path = store.run_dir / rel
            if not path.is_file() or path.stat().st_size == 0:
                raise WrongState(_too_early(store, gate, item_id, rel))
            hashes[rel] = sha256_file(path)
        signoff = store.sign(gate, item_id, who=who, note=note)
        store.record(f"signoffs.gates.{gate}",
                     {item_id: {"by": signoff.by, "at": signoff.at, "artifacts": hashes}},
                     who=who)
    return Signed(gate, item_id, signoff, hashes)


def _too_early(store: Store, gate: str, item: str, rel: str) -> str:
    from workflow.machine import MACHINE

    state = store.current
    return (f"cannot sign {gate}/{item} of {store.name}: {rel} does not exist yet (the project "
            f"is {state}), and a sign-off covers what was read. Next: "
            f"{MACHINE.command(state, store.name)}")
