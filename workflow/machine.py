"""The phase graph, declared once as data, checked when this module is imported.

```
baseline ─► diagnosed ─[diagnostics_complete]─► optimizing ─► optimized
                ▲    └──── skip (potential < 3 points) ──────────┘  │
                └─ C: revert, re-diagnose ─┘   ▲ B: iterate        │
                                              └─┘            [optimization_complete]
                                                                   ▼
                         promoted ◄─[finalization_complete]─ finalized
```

Each transition names its source and target, the gate (a checklist) that must
pass to take it, and `when`: a condition on the recorded facts that selects it
among the transitions leaving the same state (the Phase 4 decision, for
example). `when` chooses the branch; the gate says whether it may be taken. A
refused move changes nothing but the event log, which gains one `refused` line.

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
from workflow.errors import GateFailed, Refused, WorkflowError
from workflow.gates import GateResult, evaluate, shipped_checklist_ids, stale_records, write_results
from workflow.store import GateRecord, Store, now

__all__ = [
    "MACHINE",
    "STATES",
    "TRANSITIONS",
    "GraphError",
    "Machine",
    "State",
    "Taken",
    "Transition",
    "advance",
    "check_graph",
    "take",
]


class GraphError(WorkflowError):
    """The phase graph's definition is inconsistent (a bug in the table, found at import)."""


@dataclass(frozen=True)
class State:
    name: str
    description: str
    initial: bool = False
    final: bool = False


@dataclass(frozen=True)
class Transition:
    name: str
    source: str
    target: str
    gate: str | None = None
    when: Condition | None = None
    hint: str = ""  # what to do while `when` does not hold; {name} is the project


def _when(**fields: Any) -> Condition:
    return Condition.model_validate(fields)


def _decision(code: str) -> Condition:
    return _when(fact="phase4.decision", value=code)


_PHASE4 = "run a Phase 4 attempt (phasegate optimize {name}); its decision picks the branch"
_PHASE3 = "run Phase 3 (phasegate diagnose {name}): it records the strategy"

STATES: tuple[State, ...] = (
    State("baseline", "the baseline is trained on every seed", initial=True),
    State("diagnosed", "Phase 3 has diagnosed the baseline and chosen a strategy"),
    State("optimizing", "Phase 4 attempts are running"),
    State("optimized", "Phase 4 has settled on a config, or was skipped"),
    State("finalized", "Phase 5 has trained the final model and looked at the test set once"),
    State("promoted", "the final model is promoted", final=True),
)

# fmt: off
TRANSITIONS: tuple[Transition, ...] = (
    Transition("diagnose", "baseline", "diagnosed",
               when=_when(fact="baseline.completed", value=True),
               hint="train the baseline on every seed first (phasegate baseline {name})"),
    Transition("optimize", "diagnosed", "optimizing", gate="diagnostics_complete",
               when=_when(fact="phase3.strategy", op="!=", value="skip"), hint=_PHASE3),
    Transition("skip", "diagnosed", "optimized", gate="diagnostics_complete",
               when=_when(fact="phase3.strategy", value="skip"), hint=_PHASE3),
    Transition("accept", "optimizing", "optimized", when=_decision("A"), hint=_PHASE4),
    Transition("iterate", "optimizing", "optimizing", when=_decision("B"), hint=_PHASE4),
    Transition("revert", "optimizing", "diagnosed", when=_decision("C"), hint=_PHASE4),
    Transition("ceiling", "optimizing", "optimized", when=_decision("D"), hint=_PHASE4),
    Transition("budget", "optimizing", "optimized", when=_decision("budget"), hint=_PHASE4),
    Transition("finalize", "optimized", "finalized", gate="optimization_complete",
               when=_when(fact="phase5.completed", value=True),
               hint="run Phase 5 (phasegate finalize {name})"),
    Transition("promote", "finalized", "promoted", gate="finalization_complete"),
)
# fmt: on


def check_graph(
    states: Iterable[State], transitions: Iterable[Transition], gate_ids: Collection[str]
) -> list[str]:
    """Every inconsistency of a graph definition, in words (empty when it is sound)."""
    states, transitions = list(states), list(transitions)
    errors = []
    names = [s.name for s in states]
    errors += [f"state {n!r} is declared twice" for n in _repeated(names)]
    starts = [s.name for s in states if s.initial]
    if len(starts) != 1:
        errors.append(f"expected exactly one start state, found {len(starts)} {starts}")
    moves = [t.name for t in transitions]
    errors += [f"transition {n!r} is declared twice" for n in _repeated(moves)]
    finals = {s.name for s in states if s.final}
    for t in transitions:
        for end in (t.source, t.target):
            if end not in names:
                errors.append(f"transition {t.name!r} names unknown state {end!r}")
        if t.source in finals:
            errors.append(f"transition {t.name!r} leaves final state {t.source!r}")
        if t.gate is not None and t.gate not in gate_ids:
            errors.append(f"transition {t.name!r} names gate {t.gate!r}, which is not a "
                          f"shipped checklist ({', '.join(sorted(gate_ids)) or 'none'})")
    edges = [(t.source, t.target) for t in transitions]
    if len(starts) == 1:
        reached = _closure({starts[0]}, edges)
        errors += [f"state {n!r} is unreachable from {starts[0]!r}" for n in names
                   if n not in reached]
    if not finals:
        errors.append("no final state")
    else:
        back = [(b, a) for a, b in edges]
        ending = _closure(finals, back)
        errors += [f"state {n!r} has no path to a final state" for n in names if n not in ending]
    return errors


def _repeated(names: list[str]) -> list[str]:
    return sorted({n for n in names if names.count(n) > 1})


def _closure(seeds: set[str], edges: list[tuple[str, str]]) -> set[str]:
    seen, frontier = set(seeds), list(seeds)
    while frontier:
        node = frontier.pop()
        for a, b in edges:
            if a == node and b not in seen:
                seen.add(b)
                frontier.append(b)
    return seen


class Machine:
    """A checked phase graph; `next_transition` picks the move the facts select."""

    def __init__(
        self,
        states: Iterable[State],
        transitions: Iterable[Transition],
        *,
        gate_ids: Collection[str],
    ) -> None:
        states, transitions = tuple(states), tuple(transitions)
        errors = check_graph(states, transitions, gate_ids)
        if errors:
            raise GraphError("invalid phase graph: " + "; ".join(errors))
        self.states = {s.name: s for s in states}
        self.transitions = {t.name: t for t in transitions}
        self.start = next(s.name for s in states if s.initial)

    @property
    def gates(self) -> list[str]:
        """The gate ids on the graph's transitions, in declaration order."""
        return list(dict.fromkeys(t.gate for t in self.transitions.values() if t.gate))

    def transition(self, name: str) -> Transition:
        if name not in self.transitions:
            known = ", ".join(self.transitions)
            raise WorkflowError(f"unknown transition {name!r}; transitions: {known}")
        return self.transitions[name]

    def outgoing(self, state: str) -> list[Transition]:
        return [t for t in self.transitions.values() if t.source == state]

    def next_transition(
        self, state: str, facts: Mapping[str, Any], *, project: str = "NAME"
    ) -> Transition:
        """The one transition out of `state` whose `when` holds; `Refused` with the hint if none."""
        if state not in self.states:
            raise WorkflowError(f"unknown state {state!r}; states: {', '.join(self.states)}")
        if self.states[state].final:
            raise Refused(f"{project} is {state}: that is the end of the workflow")
        chosen, waiting = [], []
        for t in self.outgoing(state):
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
            refuse(Refused(f"cannot {name}: {state.project} is {state.state}, and {name} "
                           f"goes from {transition.source} to {transition.target}"))
        if transition.when is not None:
            verdict = evaluate_condition(transition.when, store.facts)
            if not verdict.holds:
                hint = transition.hint.format(name=state.project)
                refuse(Refused(f"cannot {name} yet: it needs {transition.when} ({verdict.text})"
                               + (f". Next: {hint}" if hint else "")))
        result = None
        if transition.gate is not None:
            result = evaluate(store, transition.gate)
            report = write_results(store, result)
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
        store.append_event("transition", {**event, "gate": result.summary() if result else None})
    return Taken(transition, result)


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
