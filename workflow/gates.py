"""Gate checklists: what must hold before the project may move on, checked from recorded facts.

A checklist is `checklists/<gate>.yaml`: a title and items, each with an id, the
text a person reads, one `check`, and optionally a `when` condition that says
when the item applies (otherwise it is `skipped`: it counts as a pass and reads
"n/a", never as a tick). The
check kinds:

- `artifact`: a file of the run directory exists and is not empty; its sha256 is
  recorded when the gate passes on a transition, and a later change makes the
  gate stale
- `metric`: a condition on facts (see workflow.conditions): `fact` + `op` +
  `value`, or `fact` + `op` + `other` (another fact) + `offset`, or `any_of` /
  `all_of` lists of conditions
- `significant`: a recorded comparison (a dict) whose `verdict` is "significant"
- `manual`: a person's sign-off (`phasegate gate sign`), bound to the sha256 of
  the `artifacts` it names (workflow.signoff): refused before they exist, void
  when they change; `reason_required` makes it a waiver that must say why
- `python`: `module:function` taking (facts, run_dir), returning (bool, reason)

A checklist is checked when it is loaded, not when an item is evaluated: every
fact path it names must be a field of the facts models (workflow.facts; a
misspelt fact would otherwise leave its item pending forever), and every
`python` check must import and take (facts, run_dir). Either problem is one
`ConfigError` / `PluginError` line naming the file and the item.

Checklists are looked up in the project's own `checklists/` folder first, then
in the shipped one. A project checklist with `extends: true` appends its items
to the shipped checklist of the same id; without it, it replaces that checklist.

Every item evaluates to pass, fail, pending (a fact, file or sign-off is not
there yet) or skipped, with a reason naming the value, the comparison and the
threshold. Nothing here is ever `eval`ed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workflow.conditions import Condition, evaluate_condition, format_value
from workflow.errors import ConfigError, PluginError, UsageError
from workflow.facts import checklist_problems
from workflow.io import load_model, sha256_file
from workflow.plugins import check_spec, load_callable
from workflow.resources import search_path, shipped_dir
from workflow.signoff import ManualCheck, evaluate_manual, inside_run_dir
from workflow.store import MISSING, RunState, Store, lookup, now

__all__ = [
    "Checklist",
    "GateResult",
    "Item",
    "ItemResult",
    "ManualCheck",
    "checklist_ids",
    "check_gate",
    "find_item",
    "load_checklist",
    "shipped_checklist_ids",
    "stale_records",
    "write_gate_results",
]

ID_PATTERN = r"^[a-z][a-z0-9_]*$"


class ArtifactCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["artifact"]
    path: str

    @field_validator("path")
    @classmethod
    def _inside_run_dir(cls, path: str) -> str:
        return inside_run_dir(path)


class MetricCheck(Condition):
    kind: Literal["metric"]


class SignificantCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["significant"]
    fact: str


class PythonCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["python"]
    function: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


Check = Annotated[
    ArtifactCheck | MetricCheck | SignificantCheck | ManualCheck | PythonCheck,
    Field(discriminator="kind"),
]


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN)
    text: str = Field(min_length=1)
    check: Check
    when: Condition | None = None


class Checklist(BaseModel):
    """One gate's checklist; its id is the file's name."""

    model_config = ConfigDict(extra="forbid")
    title: str
    description: str = ""
    extends: bool = False
    items: list[Item] = Field(min_length=1)

    @field_validator("items")
    @classmethod
    def _unique_ids(cls, items: list[Item]) -> list[Item]:
        ids = [item.id for item in items]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"item ids must be unique, but {repeated} repeat")
        return items


# -- finding checklists -------------------------------------------------------------------------


def shipped_checklist_ids() -> list[str]:
    return sorted(p.stem for p in shipped_dir("checklists").glob("*.yaml"))


def checklist_ids(project_dir: Path | None = None) -> list[str]:
    """Every gate id a project can use: its own checklists and the shipped ones."""
    folders = search_path("checklists", project_dir)
    return sorted({path.stem for folder in folders for path in folder.glob("*.yaml")})


def load_checklist(
    gate: str, project_dir: Path | None = None, *, import_checks: bool = True
) -> Checklist:
    """The checklist `gate`, the project's own first; `extends: true` appends to the shipped one.

    `import_checks=False` (read-only commands such as `status`): a project's `python`
    checks are checked by name only (plugins.check_spec), never imported.
    """
    files = [f / f"{gate}.yaml" for f in search_path("checklists", project_dir)]
    files = [p for p in files if p.is_file()] if re.match(ID_PATTERN, gate) else []
    if not files:
        known = ", ".join(checklist_ids(project_dir)) or "none"
        raise UsageError(f"unknown gate {gate!r}; gates that exist: {known}")
    first = _load(files[0], import_checks)
    if not first.extends:
        return first
    if len(files) < 2:
        raise ConfigError(f"{files[0]}: extends: there is no shipped checklist {gate!r} to extend")
    base = _load(files[1], import_checks)
    clash = sorted({i.id for i in base.items} & {i.id for i in first.items})
    if clash:
        raise ConfigError(f"{files[0]}: items: ids {clash} already exist in {files[1]}")
    return base.model_copy(update={"items": base.items + first.items})


def _load(path: Path, import_checks: bool = True) -> Checklist:
    """The checklist at `path`, its fact paths and `python` checks checked (see the docstring)."""
    checklist = load_model(path, Checklist)
    problems = checklist_problems(checklist)
    if problems:
        raise ConfigError(f"{path}: names facts that no facts model has: {'; '.join(problems)}")
    for item in checklist.items:
        if isinstance(item.check, PythonCheck):
            try:
                if import_checks or _ours(item.check.function):
                    _python_check(item.check.function, item.id)
                else:  # the user's code is not run by a read-only command
                    check_spec(item.check.function, role=f"check {item.id}")
            except PluginError as exc:
                raise PluginError(f"{path}: {exc}") from None
    return checklist


def _ours(spec: str) -> bool:
    """A check shipped with phasegate (workflow.checks): safe to run anywhere."""
    return spec.partition(":")[0].split(".")[0] in ("workflow", "phases")


def _python_check(spec: str, item_id: str) -> Callable[..., Any]:
    return load_callable(spec, role=f"check {item_id}", required=("facts", "run_dir"))


def find_item(checklist: Checklist, gate: str, item_id: str) -> Item:
    for item in checklist.items:
        if item.id == item_id:
            return item
    known = ", ".join(i.id for i in checklist.items)
    raise UsageError(f"gate {gate!r} has no item {item_id!r}; its items: {known}")


# -- evaluating a gate --------------------------------------------------------------------------

Status = Literal["pass", "fail", "pending", "skipped"]


@dataclass(frozen=True)
class ItemResult:
    id: str
    text: str
    kind: str
    status: Status
    reason: str
    stale: bool = False
    artifact: dict[str, str] = field(default_factory=dict)  # {path: sha256} of a passed artifact

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "skipped")


@dataclass(frozen=True)
class GateResult:
    gate: str
    title: str
    project: str
    checked_at: str
    items: tuple[ItemResult, ...]

    @property
    def status(self) -> str:
        """pass, stale (an artifact changed since the gate passed), fail or pending."""
        if any(i.stale for i in self.items):
            return "stale"
        if all(i.ok for i in self.items):
            return "pass"
        return "fail" if any(i.status == "fail" for i in self.items) else "pending"

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def failing(self) -> list[ItemResult]:
        return [i for i in self.items if not i.ok]

    @property
    def artifacts(self) -> dict[str, str]:
        return {path: sha for i in self.items for path, sha in i.artifact.items()}

    def summary(self) -> dict[str, Any]:
        """What an event records: the outcome and each item that is not passing."""
        return {
            "gate": self.gate,
            "status": self.status,
            "passed": sum(i.ok for i in self.items),
            "total": len(self.items),
            "failing": [{"id": i.id, "status": i.status, "reason": i.reason} for i in self.failing],
        }

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.summary().items() if k != "failing"}
        data.update(title=self.title, project=self.project, checked_at=self.checked_at)
        data["items"] = [asdict(i) for i in self.items]
        return data


def check_gate(store: Store, gate: str, *, run_code: bool = True) -> GateResult:
    """Check every item of `gate` against the store's facts, files, sign-offs and hashes.

    `run_code=False` (`status`, a read-only command): a project's own `python` check is
    not imported or run; its item is pending and names the command that runs it.
    """
    state = store.load_state()
    project_dir = Path(state.project_dir) if state.project_dir else None
    checklist = load_checklist(gate, project_dir, import_checks=run_code)
    facts = store.facts
    items = tuple(_item(item, gate, store.run_dir, facts, state, run_code=run_code)
                  for item in checklist.items)
    return GateResult(gate, checklist.title, state.project, now(), items)


def _item(
    item: Item, gate: str, run_dir: Path, facts: dict[str, Any], state: RunState, *,
    run_code: bool = True,
) -> ItemResult:
    def result(status: Status, reason: str, **extra: Any) -> ItemResult:
        return ItemResult(item.id, item.text, item.check.kind, status, reason, **extra)

    if item.when is not None:
        applies = evaluate_condition(item.when, facts)
        if applies.holds is None:
            return result("pending", f"cannot tell whether it applies yet: {applies.text}")
        if not applies.holds:
            # n/a, in words that cannot be read as a passed check
            return result("skipped", f"n/a: applies only when {item.when}, and here "
                                     f"{applies.text} is false")
    check = item.check
    if isinstance(check, ArtifactCheck):
        record = state.gates.get(gate)
        recorded = record.artifacts.get(check.path) if record else None
        path = run_dir / check.path
        if not path.is_file():
            if recorded and record is not None:
                return result("fail", f"{check.path} was removed after the gate passed "
                              f"at {record.passed_at}: stale", stale=True)
            return result("pending", f"{check.path} does not exist yet")
        size = path.stat().st_size
        if size == 0:
            return result("fail", f"{check.path} is empty")
        digest = sha256_file(path)
        if recorded and recorded != digest and record is not None:
            return result("fail", f"{check.path} changed after the gate passed at "
                          f"{record.passed_at} (sha256 {recorded[:12]} -> {digest[:12]}): stale",
                          stale=True)
        return result("pass", f"{check.path} exists ({size} bytes, sha256 {digest[:12]})",
                      artifact={check.path: digest})
    if isinstance(check, MetricCheck):
        verdict = evaluate_condition(check, facts)
        status: Status = "pending" if verdict.holds is None else "pass" if verdict.holds else "fail"
        return result(status, verdict.text)
    if isinstance(check, SignificantCheck):
        return result(*_significant(check.fact, facts))
    if isinstance(check, ManualCheck):
        manual = evaluate_manual(check, gate, item.id, run_dir, facts, state)
        return result(manual.status, manual.reason, stale=manual.stale)
    if not run_code and not _ours(check.function):
        return result("pending", f"{check.function} is the project's own python check: "
                      f"`phasegate gate check {state.project} {gate}` runs it")
    return result(*_python(check.function, item.id, facts, run_dir))


def _significant(name: str, facts: dict[str, Any]) -> tuple[Status, str]:
    comparison = lookup(facts, name)
    if comparison is MISSING:
        return "pending", f"{name} is not recorded"
    if not isinstance(comparison, dict) or "verdict" not in comparison:
        return "fail", f"{name} = {format_value(comparison)} is not a comparison with a verdict"
    details = []
    if "p_value" in comparison:
        details.append(f"p = {format_value(comparison['p_value'])}")
    if "ci_low" in comparison and "ci_high" in comparison:
        low, high = format_value(comparison["ci_low"]), format_value(comparison["ci_high"])
        details.append(f"95% CI [{low}, {high}]")
    extra = f" ({', '.join(details)})" if details else ""
    text = f"{name}.verdict = {format_value(comparison['verdict'])}{extra} == 'significant'"
    return ("pass" if comparison["verdict"] == "significant" else "fail"), text


def _python(spec: str, item_id: str, facts: dict[str, Any], run_dir: Path) -> tuple[Status, str]:
    check = _python_check(spec, item_id)  # loaded and checked with the checklist
    try:
        outcome = check(copy.deepcopy(facts), run_dir)
    except Exception as exc:  # a user's check may fail in any way; the gate reports it
        return "fail", f"{spec} raised {exc.__class__.__name__}: {exc}"
    if not (isinstance(outcome, tuple) and len(outcome) == 2 and isinstance(outcome[0], bool)):
        return "fail", f"{spec} returned {outcome!r}, expected (bool, reason)"
    return ("pass" if outcome[0] else "fail"), f"{spec}: {outcome[1]}"


def stale_records(store: Store, state: RunState, *, exclude: set[str]) -> list[str]:
    """One line per artifact of an earlier passed gate that changed or vanished since."""
    lines = []
    for gate, record in state.gates.items():
        if gate in exclude:
            continue
        for rel, recorded in record.artifacts.items():
            path = store.run_dir / rel
            current = sha256_file(path) if path.is_file() else None
            if current != recorded:
                change = "was removed" if current is None else "changed"
                lines.append(f"gate {gate} is stale: {rel} {change} after it passed "
                             f"at {record.passed_at}")
    return lines


def write_gate_results(store: Store, result: GateResult) -> Path:
    """Render the result to checklists/<gate>.md (a checklist a person reads) and its .json."""
    from workflow.reports import write_report

    path = store.run_dir / "checklists" / f"{result.gate}.md"
    return write_report(path, "checklist.md.j2", result.to_dict(), project_dir=store.project_dir)
