"""The engine's verbs: init, status, gate check, gate sign, advance, reopen.

Each is a few lines over workflow.store, workflow.gates and workflow.machine.
Nothing here imports torch, and rich is imported only to draw the status table,
so `status` and `gate check` start fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workflow.cli import add_command, print_json, whoami
from workflow.errors import EXIT_OK, EXIT_REFUSED, Refused, UsageError
from workflow.facts import read_facts
from workflow.gates import (
    GateResult,
    check_gate,
    checklist_ids,
    load_checklist,
    shipped_checklist_ids,
    write_gate_results,
)
from workflow.machine import MACHINE, Taken, advance, next_step, take
from workflow.project import check_name, load_project
from workflow.signoff import sign_item
from workflow.store import RUNS_ENV, Store

Subparsers = argparse._SubParsersAction  # argparse gives the type no public name

# an item that does not apply reads n/a, never as a tick
_MARK = {"pass": "[x]", "skipped": "n/a", "fail": "[ ]", "pending": "[ ]"}
_SHOWN = {"skipped": "n/a"}
_STYLE = {"pass": "green", "skipped": "dim", "fail": "red", "pending": "yellow", "stale": "red"}


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    init = add_command(
        subparsers, "init", help="create a project's run directory from a project file; the "
        "project file, its baseline config, its plug-ins and its phase settings are checked "
        "first (a typo is one line, exit 2, and nothing is created)",
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
    _add_runs(status)
    status.set_defaults(handler=_status)

    gate = add_command(
        subparsers, "gate", help="check a gate's checklist, or sign one of its manual items",
        example="phasegate gate check myproj optimization_complete",
    )
    actions = gate.add_subparsers(dest="gate_command", metavar="ACTION", required=True)
    check = add_command(
        actions, "check", help="evaluate a gate and write checklists/<gate>.md and .json "
        "(exit 0 when it passes, 1 when not)",
        example="phasegate gate check myproj optimization_complete",
    )
    check.add_argument("names", nargs="+", metavar="PROJECT GATE",
                       help="project name, then gate (checklist) id")
    _add_project_alias(check)
    _add_runs(check)
    check.set_defaults(handler=_gate_check)

    sign = add_command(
        actions, "sign", help="record a person's sign-off of a manual checklist item; it "
        "covers the files the item names (the model card), so it is refused before they "
        "exist and void once they change; a waiver (goal_waiver) needs --note REASON",
        example='phasegate gate sign myproj finalization_complete model_card_reviewed '
        '--by "$(git config user.name)" --note "read it"',
    )
    sign.add_argument("names", nargs="+", metavar="PROJECT GATE ITEM",
                      help="project name, gate (checklist) id, id of a manual item of that gate")
    _add_project_alias(sign)
    sign.add_argument("--by", metavar="WHO", help="who signs (required)")
    sign.add_argument("--note", default="", help="what was checked; a waiver's reason")
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

    reopen = add_command(
        subparsers, "reopen", help="reopen Phase 4 of an optimized project (back to diagnosed, "
        "its attempts kept) to try another strategy; refused once Phase 5 has looked at the "
        "test set (gate reopen_phase4)",
        example="phasegate reopen myproj --phase 4 --why 'try a sweep'\n"
        "  phasegate optimize myproj --strategy sweep --space configs/space.yaml",
    )
    reopen.add_argument("name", help="project name")
    reopen.add_argument("--phase", type=int, choices=(4,), required=True,
                        help="the phase to reopen (4: optimization)")
    reopen.add_argument("--by", metavar="WHO", help="who reopens it (default: the login name)")
    reopen.add_argument("--why", default="", help="a reason, kept in the event log")
    _add_runs(reopen)
    reopen.set_defaults(handler=_reopen)


def _add_project_alias(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", metavar="NAME", default=None,
                        help="the project, as an option (then leave it out of the positionals)")


def _names(args: argparse.Namespace, *what: str) -> list[str]:
    """The positionals of `gate check|sign`: the project first, unless --project gave it."""
    given = list(args.names)
    if args.project is not None:
        given.insert(0, args.project)
    if len(given) != len(what):
        usage = " ".join(w.upper() for w in what)
        raise UsageError(f"expected {usage} (or --project NAME and the rest), but got "
                         f"{' '.join(args.names) or 'nothing'}")
    return given


def _add_runs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs", metavar="DIR", default=None,
        help=f"root of the run directories (default: ${RUNS_ENV}, else ./runs)",
    )


def _init(args: argparse.Namespace) -> int:
    from phases.settings import check_project

    name = check_name(args.name)
    config = load_project(args.config)
    config = config.model_copy(update={"name": name})
    check_project(config, source=str(args.config))  # before anything is created
    store = Store.create(
        config, args.runs, start=MACHINE.start, project_dir=Path(args.config).parent,
        who=whoami(None),
    )
    following = MACHINE.next_command(MACHINE.start, store.facts, store.name)
    if args.json:
        print_json({"project": store.name, "run_dir": str(store.run_dir),
                    "state": MACHINE.start, "next": following})
    else:
        print(f"created {store.run_dir} ({MACHINE.start}); next: {following}")
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    store = Store.open(args.name, args.runs)
    data = status_data(store)
    if args.json:
        print_json(data)
    else:
        _print_status(data)
    return EXIT_OK


def status_data(store: Store) -> dict[str, Any]:
    """The project's phase, its next move, and every gate's evaluation, as JSON-ready data."""
    state = store.load_state()
    facts = store.facts
    project_dir = store.project_dir
    # the gates on the way forward, and a project's own; a gate taken on request (reopen)
    # shows once it has passed
    ids = MACHINE.gates + [g for g in checklist_ids(project_dir)
                           if g not in MACHINE.gates and (g not in shipped_checklist_ids()
                                                          or g in state.gates)]
    # read-only: a project's own python checks are not run here (`gate check` runs them)
    gates = {gate: check_gate(store, gate, run_code=False) for gate in ids}
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
    next_move["command"] = next_step(store)
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
    from rich.markup import escape
    from rich.table import Table

    from workflow.cli.display import console as make_console

    console = make_console()
    console.print(f"[bold]{data['project']}[/]: {data['state']} ({data['description']})")
    move = data["next"]
    if move["transition"] is None:
        console.print(f"next: {move['hint']}", markup=False)
    else:
        gate = f", gate {move['gate']}" if move["gate"] else ""
        ready = "ready" if move["ready"] else "blocked"
        console.print(f"next: {move['transition']} -> {move['to']}{gate}: {ready} "
                      f"({move['command']})", markup=False)
    for gate, result in data["gates"].items():
        style = _STYLE.get(result["status"], "")
        table = Table(title=f"{gate}: [{style}]{result['status']}[/] "
                      f"({result['passed']} of {result['total']} pass)",
                      title_justify="left", show_lines=False)
        table.add_column("item")
        table.add_column("status")
        table.add_column("reason", overflow="fold")
        for item in result["items"]:
            shown = _SHOWN.get(item["status"], item["status"])
            table.add_row(item["id"], f"[{_STYLE[item['status']]}]{shown}[/]",
                          escape(item["reason"]))
        console.print(table)


def _gate_check(args: argparse.Namespace) -> int:
    name, gate = _names(args, "project", "gate")
    store = Store.open(name, args.runs)
    result = check_gate(store, gate)
    report = write_gate_results(store, result)
    if args.json:
        print_json({**result.to_dict(), "report": str(report)})
    else:
        _print_gate(result, report)
    return EXIT_OK if result.passed else EXIT_REFUSED


def _print_gate(result: GateResult, report: Path) -> None:
    passing = sum(i.ok for i in result.items)
    print(f"gate {result.gate} of {result.project}: {result.status}, "
          f"{passing} of {len(result.items)} items pass ({report})")
    for item in result.items:
        print(f"  {_MARK[item.status]} {item.id} [{_SHOWN.get(item.status, item.status)}]: "
              f"{item.reason}")


def _gate_sign(args: argparse.Namespace) -> int:
    name, gate, item = _names(args, "project", "gate", "item")
    if not (args.by or "").strip():
        raise UsageError(
            "a sign-off needs the person signing: add --by NAME "
            '(for example --by "$(git config user.name)")'
        )
    store = Store.open(name, args.runs)
    checklist = load_checklist(gate, store.project_dir)
    signed = sign_item(store, checklist, gate, item, who=args.by, note=args.note)
    if args.json:
        print_json({"project": store.name, "gate": gate, "item": item,
                    "by": signed.signoff.by, "at": signed.signoff.at,
                    "note": signed.signoff.note, "artifacts": signed.artifacts})
    else:
        print(f"{store.name}: {signed.describe()}; next: {next_step(store)}")
    return EXIT_OK


def _advance(args: argparse.Namespace) -> int:
    store = Store.open(args.name, args.runs)
    taken = advance(store, whoami(args.by), args.why)
    _print_taken(args, store, taken)
    return EXIT_OK


def _reopen(args: argparse.Namespace) -> int:
    store = Store.open(args.name, args.runs)
    who = whoami(args.by)
    with store.lock():
        before = read_facts(store).phase4
        taken = take(store, "reopen", who, args.why or f"reopen Phase {args.phase}")
        store.append_event("reopened", {"phase": args.phase, "who": who, "why": args.why,
                                        "decision": before.decision,
                                        "strategy": before.strategy,
                                        "attempts": len(before.attempts)})
    _print_taken(args, store, taken, following=f"phasegate optimize {store.name} --strategy "
                 "NAME (targeted, iterative, sweep); earlier attempts stay on record")
    return EXIT_OK


def _print_taken(
    args: argparse.Namespace, store: Store, taken: Taken, *, following: str | None = None
) -> None:
    move = taken.transition
    following = following or next_step(store)
    if args.json:
        print_json({"project": store.name, "transition": move.name, "from": move.source,
                    "to": move.target,
                    "gate": taken.gate.to_dict() if taken.gate is not None else None,
                    "next": following})
        return
    gate = ""
    if taken.gate is not None:
        gate = f"; gate {taken.gate.gate} passed ({len(taken.gate.items)} items)"
    print(f"{store.name}: {move.source} -> {move.target} ({move.name}){gate}; next: {following}")


__all__ = ["register", "status_data"]
