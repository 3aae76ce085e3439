"""The engine's verbs: init, status, gate check, gate sign, advance.

Each is a few lines over workflow.store, workflow.gates and workflow.machine.
Nothing here imports torch, and rich is imported only to draw the status table,
so `status` and `gate check` start fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from workflow.cli import add_command, whoami
from workflow.errors import EXIT_OK, EXIT_REFUSED, ConfigError, Refused, UsageError
from workflow.gates import (
    GateResult,
    ManualCheck,
    check_gate,
    checklist_ids,
    find_item,
    load_checklist,
    write_gate_results,
)
from workflow.machine import MACHINE, advance
from workflow.project import check_name, load_project
from workflow.store import RUNS_ENV, Store

Subparsers = argparse._SubParsersAction  # argparse gives the type no public name

_MARK = {"pass": "[x]", "skipped": "[x]", "fail": "[ ]", "pending": "[ ]"}
_STYLE = {"pass": "green", "skipped": "dim", "fail": "red", "pending": "yellow", "stale": "red"}


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    init = add_command(
        subparsers, "init", help="create a project's run directory from a project file",
        example="phasegate init myproj --config configs/quickstart.yaml",
    )
    init.add_argument("name", help="project name: the folder under the runs root")
    init.add_argument("--config", required=True, metavar="PROJECT.yaml", help="project file")
    _add_runs(init)
    init.set_defaults(handler=_init)

    status = add_command(
        subparsers, "status", help="show a project's phase, its next move and every gate's items",
        example="phasegate status myproj --json",
    )
    status.add_argument("name", help="project name")
    status.add_argument("--json", action="store_true", help="print JSON for machines")
    _add_runs(status)
    status.set_defaults(handler=_status)

    gate = add_command(
        subparsers, "gate", help="check a gate's checklist, or sign one of its manual items",
        example="phasegate gate check optimization_complete --project myproj",
    )
    actions = gate.add_subparsers(dest="gate_command", metavar="ACTION", required=True)
    check = add_command(
        actions, "check", help="evaluate a gate and write checklists/<gate>.md and .json "
        "(exit 0 when it passes, 1 when not)",
        example="phasegate gate check optimization_complete --project myproj",
    )
    check.add_argument("gate", help="gate (checklist) id")
    check.add_argument("--project", required=True, metavar="NAME", help="project name")
    check.add_argument("--json", action="store_true", help="print JSON for machines")
    _add_runs(check)
    check.set_defaults(handler=_gate_check)

    sign = add_command(
        actions, "sign", help="record a person's sign-off of a manual checklist item",
        example='phasegate gate sign finalization_complete model_card_reviewed --project myproj '
        '--by "$(git config user.name)" --note "read it"',
    )
    sign.add_argument("gate", help="gate (checklist) id")
    sign.add_argument("item", help="id of a manual item of that gate")
    sign.add_argument("--project", required=True, metavar="NAME", help="project name")
    sign.add_argument("--by", metavar="WHO", help="who signs (required)")
    sign.add_argument("--note", default="", help="what was checked")
    _add_runs(sign)
    sign.set_defaults(handler=_gate_sign)

    move = add_command(
        subparsers, "advance", help="take the next transition if the facts select it and "
        "its gate passes (exit 1 with each failing item otherwise)",
        example="phasegate advance myproj --why 'diagnosis reviewed'",
    )
    move.add_argument("name", help="project name")
    move.add_argument("--by", metavar="WHO", help="who moves it (default: the login name)")
    move.add_argument("--why", default="", help="a reason, kept in the event log")
    _add_runs(move)
    move.set_defaults(handler=_advance)


def _add_runs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs", metavar="DIR", default=None,
        help=f"root of the run directories (default: ${RUNS_ENV}, else ./runs)",
    )


def _init(args: argparse.Namespace) -> int:
    config = load_project(args.config)
    config = config.model_copy(update={"name": check_name(args.name)})
    store = Store.create(
        config, args.runs, start=MACHINE.start, project_dir=Path(args.config).parent,
        who=whoami(None),
    )
    print(f"created {store.run_dir} ({MACHINE.start}); next: phasegate status {store.name}")
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    store = Store.open(args.name, args.runs)
    data = status_data(store)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        _print_status(data)
    return EXIT_OK


def status_data(store: Store) -> dict[str, Any]:
    """The project's phase, its next move, and every gate's evaluation, as JSON-ready data."""
    state = store.load_state()
    facts = store.facts
    project_dir = store.project_dir
    ids = MACHINE.gates + [g for g in checklist_ids(project_dir) if g not in MACHINE.gates]
    gates = {gate: check_gate(store, gate) for gate in ids}
    try:
        move = MACHINE.next_transition(state.state, facts, project=state.project)
        result = gates.get(move.gate) if move.gate else None
        next_move: dict[str, Any] = {
            "transition": move.name, "to": move.target, "gate": move.gate,
            "ready": result.passed if result else True, "hint": None,
        }
    except Refused as exc:
        next_move = {"transition": None, "to": None, "gate": None, "ready": False,
                     "hint": str(exc)}
    return {
        "project": state.project,
        "state": state.state,
        "description": MACHINE.states[state.state].description,
        "final": MACHINE.states[state.state].final,
        "next": next_move,
        "gates": {gate: {**result.to_dict(), "passed_record": _record(state, gate)}
                  for gate, result in gates.items()},
    }


def _record(state: Any, gate: str) -> dict[str, Any] | None:
    record = state.gates.get(gate)
    return record.model_dump(mode="json") if record else None


def _print_status(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    console.print(f"[bold]{data['project']}[/]: {data['state']} ({data['description']})")
    move = data["next"]
    if move["transition"] is None:
        console.print(f"next: {move['hint']}", markup=False)
    else:
        gate = f", gate {move['gate']}" if move["gate"] else ""
        ready = "ready" if move["ready"] else "blocked"
        console.print(f"next: {move['transition']} -> {move['to']}{gate}: {ready} "
                      f"(phasegate advance {data['project']})")
    for gate, result in data["gates"].items():
        style = _STYLE.get(result["status"], "")
        table = Table(title=f"{gate}: [{style}]{result['status']}[/] "
                      f"({result['passed']} of {result['total']} pass)",
                      title_justify="left", show_lines=False)
        table.add_column("item")
        table.add_column("status")
        table.add_column("reason", overflow="fold")
        for item in result["items"]:
            table.add_row(item["id"], f"[{_STYLE[item['status']]}]{item['status']}[/]",
                          escape(item["reason"]))
        console.print(table)


def _gate_check(args: argparse.Namespace) -> int:
    store = Store.open(args.project, args.runs)
    result = check_gate(store, args.gate)
    report = write_gate_results(store, result)
    if args.json:
        print(json.dumps({**result.to_dict(), "report": str(report)}, indent=2))
    else:
        _print_gate(result, report)
    return EXIT_OK if result.passed else EXIT_REFUSED


def _print_gate(result: GateResult, report: Path) -> None:
    passing = sum(i.ok for i in result.items)
    print(f"gate {result.gate} of {result.project}: {result.status}, "
          f"{passing} of {len(result.items)} items pass ({report})")
    for item in result.items:
        print(f"  {_MARK[item.status]} {item.id} [{item.status}]: {item.reason}")


def _gate_sign(args: argparse.Namespace) -> int:
    if not (args.by or "").strip():
        raise UsageError(
            "a sign-off needs the person signing: add --by NAME "
            '(for example --by "$(git config user.name)")'
        )
    store = Store.open(args.project, args.runs)
    checklist = load_checklist(args.gate, store.project_dir)
    item = find_item(checklist, args.gate, args.item)
    if not isinstance(item.check, ManualCheck):
        manual = [i.id for i in checklist.items if isinstance(i.check, ManualCheck)]
        raise ConfigError(
            f"item {args.item!r} of gate {args.gate!r} is checked automatically "
            f"({item.check.kind}), not signed; its manual items: {', '.join(manual) or 'none'}"
        )
    signoff = store.sign(args.gate, args.item, who=args.by, note=args.note)
    print(f"{args.gate}/{args.item} of {store.name}: signed by {signoff.by} at {signoff.at}")
    return EXIT_OK


def _advance(args: argparse.Namespace) -> int:
    store = Store.open(args.name, args.runs)
    taken = advance(store, whoami(args.by), args.why)
    move = taken.transition
    gate = ""
    if taken.gate is not None:
        gate = f"; gate {taken.gate.gate} passed ({len(taken.gate.items)} items)"
    print(f"{store.name}: {move.source} -> {move.target} ({move.name}){gate}")
    return EXIT_OK


__all__ = ["register", "status_data"]
