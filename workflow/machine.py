"""The phase graph, declared once as data, checked when this module is imported.

```
baseline ─► diagnosed ─[diagnostics_complete]─► optimizing ─► optimized
                ▲    └──── skip (potential < 3 points) ──────────┘  │
                └─ C: revert, re-diagnose ─┘   ▲ B: iterate        │
                                              └─┘            [optimization_complete]
                                                                   ▼
                         promoted ◄─[finalization_complete]─ finalized

optimized ─[reopen_phase4]─► diagnosed   (on request: phasegate reopen NAME --phase 4)
```

Each transition names its source and target, the gate (a checklist) that must
pass to take it, and `when`: a condition on the recorded facts that selects it
among the transitions leaving the same state (the Phase 4 decision, for
example). `when` chooses the branch; the gate says whether it may be taken. A
refused move changes nothing but the event log, which gains one `refused` line.

Each state names the action that does its work (`optimize` in `diagnosed` and
`optimizing`): `phasegate run` runs the current state's action, and `require`
refuses a phase asked to run elsewhere, saying what to run first. An `auto`
transition needs no phase's work: the walk takes it once its `when` holds
(`skip`). An `on_request` transition (`reopen`) is taken only when a person names
it: the facts never select it and it is not where an action's work ends. Each
transition names the `command` that takes it, so every message can say what
moves the project on (`Machine.next_command`, `next_step`). States are declared
in the order of progress, which `--until` uses.
`take` records every move in the facts (`moves.*`, `workflow.facts.MovesFacts`),
so no one reads the event log back for state.

When a transition enters a state, the passed records of the gates leaving that
state are cleared (a revert re-diagnoses, and the new diagnosis is gated
anew). A gated transition also re-verifies the artifacts of every gate passed
before it: a file changed after its gate passed blocks the way forward.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from workflow.conditions import Condition, evaluate_condition
from workflow.errors import GateFailed, Refused, StateError, WrongState
from workflow.facts import MovesFacts
from workflow.gates import (
    GateResult,
    ManualCheck,
    check_gate,
    load_checklist,
    shipped_checklist_ids,
    stale_records,
    write_gate_results,
)
from workflow.graph import Action, GraphError, State, Transition, check_graph, leads_to
from workflow.signoff import sign_command
from workflow.store import GateRecord, Store, now

__all__ = [
    "ACTIONS", "MACHINE", "STATES", "TRANSITIONS", "Action", "GraphError", "Machine", "State",
    "Taken", "Transition", "advance", "check_graph", "next_step", "require", "take",
]


def _when(**fields: Any) -> Condition:
    return Condition.model_validate(fields)


def _decision(code: str) -> Condition:
    return _when(fact="phase4.decision", value=code)


_PHASE4 = "run a Phase 4 attempt (phasegate optimize {name}); its decision picks the branch"
_PHASE3 = "run Phase 3 (phasegate diagnose {name}): it records the strategy"
_OPTIMIZE = "phasegate optimize {name}"
_DIAGNOSE = "phasegate diagnose {name}"

ACTIONS: tuple[Action, ...] = (
    Action("diagnose", "Phase 3", "phasegate baseline {name}, then phasegate diagnose {name}",
           also_in=("diagnosed",)),
    Action("optimize", "Phase 4", "phasegate optimize {name}"),
    Action("finalize", "Phase 5", "phasegate finalize {name}"),
    Action("promote", "Promotion", "phasegate promote {name}"),
)

# in the order a project progresses through them
STATES: tuple[State, ...] = (
    State("baseline", "created: the baseline is trained on every seed here, then diagnosed",
          initial=True, action="diagnose"),
    State("diagnosed", "Phase 3 has diagnosed the baseline and chosen a strategy",
          action="optimize"),
    State("optimizing", "Phase 4 attempts are running", action="optimize"),
    State("optimized", "Phase 4 has settled on a config, or was skipped", action="finalize"),
    State("finalized", "Phase 5 has trained the final model and looked at the test set once",
          action="promote"),
    State("promoted", "the final model is promoted", final=True),
)

# fmt: off
TRANSITIONS: tuple[Transition, ...] = (
    Transition("diagnose", "baseline", "diagnosed",
               when=_when(fact="baseline.completed", value=True),
               hint="train the baseline on every seed first (phasegate baseline {name})",
               command=_DIAGNOSE),
    Transition("optimize", "diagnosed", "optimizing", gate="diagnostics_complete",
               when=_when(fact="phase3.strategy", op="!=", value="skip"), hint=_PHASE3,
               command=_OPTIMIZE),
    Transition("skip", "diagnosed", "optimized", gate="diagnostics_complete",
               when=_when(fact="phase3.strategy", value="skip"), hint=_PHASE3, auto=True),
    Transition("accept", "optimizing", "optimized", when=_decision("A"), hint=_PHASE4,
               command=_OPTIMIZE),
    Transition("iterate", "optimizing", "optimizing", when=_decision("B"), hint=_PHASE4,
               command=_OPTIMIZE),
    Transition("revert", "optimizing", "diagnosed", when=_decision("C"), hint=_PHASE4,
               command=_OPTIMIZE),
    Transition("ceiling", "optimizing", "optimized", when=_decision("D"), hint=_PHASE4,
               command=_OPTIMIZE),
    Transition("budget", "optimizing", "optimized", when=_decision("budget"), hint=_PHASE4,
               command=_OPTIMIZE),
    Transition("finalize", "optimized", "finalized", gate="optimization_complete",
               when=_when(fact="phase5.completed", value=True),
               hint="run Phase 5 (phasegate finalize {name})", command="phasegate finalize {name}"),
    Transition("promote", "finalized", "promoted", gate="finalization_complete",
               command="phasegate promote {name}"),
    # a person asks to try another Phase 4 strategy after it ended (phasegate reopen --phase 4)
    Transition("reopen", "optimized", "diagnosed", gate="reopen_phase4", on_request=True,
               command="phasegate reopen {name} --phase 4"),
)
# fmt: on


class Machine:
    """A checked phase graph: which move the facts select, which action runs where."""

    def __init__(
        self,
        states: Iterable[State],
        transitions: Iterable[Transition],
        *,
        gate_ids: Collection[str],
        actions: Iterable[Action] = ACTIONS,
    ) -> None:
        states, transitions, actions = tuple(states), tuple(transitions), tuple(actions)
        errors = check_graph(states, transitions, gate_ids, actions)
        if errors:
            raise GraphError("invalid phase graph: " + "; ".join(errors))
        self.states = {s.name: s for s in states}
        self.transitions = {t.name: t for t in transitions}
        self.actions = {a.name: a for a in actions}
        self.start = next(s.name for s in states if s.initial)
        self.order = tuple(self.states)  # the order of progress (checked above)

    @property
    def gates(self) -> list[str]:
        """The gate ids on the way forward, in declaration order (a move taken on request,
        like reopen, has its own gate, which promotion does not ask for)."""
        return list(dict.fromkeys(t.gate for t in self.transitions.values()
                                  if t.gate and not t.on_request))

    def transition(self, name: str) -> Transition:
        if name not in self.transitions:
            known = ", ".join(self.transitions)
            raise GraphError(f"unknown transition {name!r}; transitions: {known}")
        return self.transitions[name]

    def state(self, name: str) -> State:
        if name not in self.states:
            raise StateError(f"unknown state {name!r}; states: {', '.join(self.states)}")
        return self.states[name]

    def outgoing(self, state: str) -> list[Transition]:
        return [t for t in self.transitions.values() if t.source == state]

    # -- actions ------------------------------------------------------------------------------

    def action(self, name: str) -> Action:
        if name not in self.actions:
            raise GraphError(f"unknown action {name!r}; actions: {', '.join(self.actions)}")
        return self.actions[name]

    def states_of(self, action: str) -> list[str]:
        """The states whose work `action` is, in the order of progress."""
        return [s.name for s in self.states.values() if s.action == self.action(action).name]

    def runs_in(self, action: str) -> list[str]:
        """Where `action` may run: its own states, and those where it may run again."""
        return self.states_of(action) + list(self.action(action).also_in)

    def ends_in(self, action: str) -> str:
        """The state a project reaches when `action`'s work is done (checked to be one)."""
        return next(iter(leads_to(self.states_of(action), self.transitions.values())))

    def is_past(self, state: str, action: str) -> bool:
        """Whether a project in `state` is past every state where `action` runs (it is done)."""
        last = max(self.order.index(s) for s in self.runs_in(action))
        return self.order.index(self.state(state).name) > last

    def command(self, state: str, project: str) -> str:
        """What a person runs next in `state`, in words."""
        action = self.state(state).action
        if action is None:
            return f"nothing: {project} is {state}, the end of the workflow"
        return self.actions[action].command.format(name=project)

    def next_command(self, state: str, facts: Mapping[str, Any], project: str) -> str:
        """The command that moves a project in `state` on, in words: the command of the move
        the facts select (`phasegate advance` for one no phase takes), else what the move
        waits for."""
        if self.state(state).final:
            return self.command(state, project)
        try:
            move = self.next_transition(state, facts, project=project)
        except Refused:
            waiting = [t.hint for t in self.forward(state) if t.hint]
            return waiting[0].format(name=project) if waiting else self.command(state, project)
        return (move.command or "phasegate advance {name}").format(name=project)

    # -- moves --------------------------------------------------------------------------------

    def auto_move(self, state: str, facts: Mapping[str, Any]) -> Transition | None:
        """The `auto` transition out of `state` whose `when` holds, if there is one."""
        for t in self.outgoing(state):
            if t.auto and t.when is not None and evaluate_condition(t.when, dict(facts)).holds:
                return t
        return None

    def forward(self, state: str) -> list[Transition]:
        """The moves out of `state` the facts may select (not those taken on request)."""
        return [t for t in self.outgoing(state) if not t.on_request]

    def stops(self) -> dict[str, str]:
        """The words `--until` accepts, each with the state it stops at: a state's name, an
        action's name or its phase ("phase4"), which stop where that work ends."""
        words = {name: name for name in self.order}
        for action in self.actions.values():
            end = self.ends_in(action.name)
            words.setdefault(action.name, end)
            words.setdefault(action.phase.lower().replace(" ", ""), end)
        return words

    def reached(self, state: str, stop: str, facts: Mapping[str, Any]) -> bool:
        """Whether a project in `state` has reached `stop`: it is there or past it. The start
        state is where a project is created, so it is reached once its work is done: a move
        out of it applies (the baseline is trained)."""
        here, there = self.order.index(self.state(state).name), self.order.index(stop)
        if here != there:
            return here > there
        if stop != self.start:
            return True
        return any(t.when is None or evaluate_condition(t.when, dict(facts)).holds
                   for t in self.forward(stop))

    def next_transition(
        self, state: str, facts: Mapping[str, Any], *, project: str = "NAME"
    ) -> Transition:
        """The one transition out of `state` whose `when` holds; `Refused` with the hint if none."""
        if self.state(state).final:
            raise Refused(f"{project} is {state}: that is the end of the workflow")
        chosen, waiting = [], []
        for t in self.forward(state):
            verdict = evaluate_condition(t.when, dict(facts)) if t.when else None
            if verdict is None or verdict.holds:
                chosen.append(t)
            else:
                waiting.append((t, verdict.text))
        if len(chosen) > 1:
            names = ", ".join(t.name for t in chosen)
            raise GraphError(f"the facts select more than one move from {state}: {names}")
        if chosen:
            return chosen[0]
        needs = "; ".join(f"{t.name} needs {t.when} ({text})" for t, text in waiting)
        hints = " / ".join(dict.fromkeys(t.hint.format(name=project) for t, _ in waiting if t.hint))
        next_step = f". Next: {hints}" if hints else ""
        raise Refused(f"{project} is {state} and no move applies yet: {needs}{next_step}")


MACHINE = Machine(STATES, TRANSITIONS, gate_ids=shipped_checklist_ids())


@dataclass(frozen=True)
class Taken:
    """A transition that was taken, and its gate's result when it has a gate."""

    transition: Transition
    gate: GateResult | None


def take(store: Store, name: str, who: str, why: str = "", *, machine: Machine = MACHINE) -> Taken:
    """Take transition `name` if the project is at its source, its `when` holds and its gate passes.

    A refusal raises `Refused` (or `GateFailed`, listing the items) after
    appending one `refused` event; nothing else changes, except the gate's
    checklist report under checklists/, which says why.
    """
    transition = machine.transition(name)
    with store.lock():
        state = store.load_state()
        event = {"transition": name, "from": state.state, "to": transition.target,
                 "who": who, "why": why}

        def refuse(error: Refused, **details: Any) -> NoReturn:
            store.append_event("refused", {**event, "reason": str(error), **details})
            raise error

        if state.state != transition.source:
            following = machine.next_command(state.state, store.facts, state.project)
            refuse(Refused(f"cannot {name}: {state.project} is {state.state}, and {name} "
                           f"goes from {transition.source} to {transition.target}. "
                           f"Next: {following}"))
        if transition.when is not None:
            verdict = evaluate_condition(transition.when, store.facts)
            if not verdict.holds:
                hint = transition.hint.format(name=state.project)
                refuse(Refused(f"cannot {name} yet: it needs {transition.when} ({verdict.text})"
                               + (f". Next: {hint}" if hint else "")))
        result = None
        if transition.gate is not None:
            result = check_gate(store, transition.gate)
            report = write_gate_results(store, result)
            stale = stale_records(store, state, exclude={transition.gate})
            if not result.passed or stale:
                lines = [f"  - {i.id} [{i.status}]: {i.reason}" for i in result.failing]
                lines += [f"  - {line}" for line in stale]
                passing = sum(i.ok for i in result.items)
                refuse(GateFailed(
                    f"cannot {name}: gate {transition.gate} is {result.status} "
                    f"({passing} of {len(result.items)} items pass); see {report}\n"
                    + "\n".join(lines)), gate=result.summary(), stale=stale)
        gates = copy.deepcopy(state.gates)
        for leaving in machine.outgoing(transition.target):
            if leaving.gate is not None:
                gates.pop(leaving.gate, None)  # re-entering a state: its gates are checked anew
        if result is not None:
            gates[result.gate] = GateRecord(passed_at=now(), transition=name, by=who,
                                            artifacts=result.artifacts)
        store.save_state(state.model_copy(update={"state": transition.target, "gates": gates}))
        moves = MovesFacts.of(store.facts).after(name, state.state, transition.target, now())
        store.record("moves", moves.model_dump(mode="json"), who=who)
        store.append_event("transition", {**event, "gate": result.summary() if result else None})
    return Taken(transition, result)


def next_step(store: Store, *, machine: Machine = MACHINE) -> str:
    """What a person runs next, in words: the next move's command, preceded by the sign-offs
    its gate still waits for (a manual item is the one thing no command does by itself)."""
    state = store.load_state()
    following = machine.next_command(state.state, store.facts, state.project)
    if machine.state(state.state).final:
        return following
    try:
        move = machine.next_transition(state.state, store.facts, project=state.project)
    except Refused:
        return following
    if move.gate is None:
        return following
    failing = check_gate(store, move.gate).failing
    manual = [i for i in failing if i.kind == "manual"]
    if not manual or len(manual) != len(failing):
        return following
    checks = {i.id: i.check for i in load_checklist(move.gate, store.project_dir).items}
    signs = [sign_command(move.gate, i.id, state.project,
                          reason=isinstance(checks.get(i.id), ManualCheck)
                          and checks[i.id].reason_required)  # type: ignore[union-attr]
             for i in manual]
    return " && ".join([*signs, following])


def require(store: Store, action: str, *, machine: Machine = MACHINE) -> str:
    """The project's state when `action` may run in it; `WrongState` saying what to run first
    (or that the work is done) otherwise. Phases call it before doing anything."""
    state = store.current
    where = machine.runs_in(action)
    if state in where:
        return state
    done = machine.is_past(state, action)
    because = "its work is done" if done else "it comes later"
    raise WrongState(
        f"cannot {action} {store.name}: it is {state}, and {machine.action(action).phase} runs "
        f"from {' or '.join(where)} ({because}). Next: {machine.command(state, store.name)}"
    )


def advance(store: Store, who: str, why: str = "", *, machine: Machine = MACHINE) -> Taken:
    """Take the move the facts select from the current state (see `Machine.next_transition`)."""
    with store.lock():
        state = store.load_state()
        try:
            transition = machine.next_transition(state.state, store.facts, project=state.project)
        except Refused as error:
            store.append_event("refused", {"transition": None, "from": state.state, "who": who,
                                           "why": why, "reason": str(error)})
            raise
        return take(store, transition.name, who, why, machine=machine)
