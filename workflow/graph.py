"""The vocabulary of a phase graph (states, actions, transitions) and its checks.

`check_graph` lists every inconsistency of a definition: a state declared twice,
not exactly one start, an unreachable state or one with no path to the end, a
transition out of a final state or naming an unknown state or gate, an action
missing or leading to more than one state. workflow.machine declares the graph
with these types and refuses to build one that fails.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from workflow.conditions import Condition
from workflow.errors import WorkflowError

__all__ = ["Action", "GraphError", "State", "Transition", "check_graph", "leads_to"]


class GraphError(WorkflowError):
    """The phase graph's definition is inconsistent (a bug in the table, found at import)."""


@dataclass(frozen=True)
class Action:
    """The work a phase does in the states that name it; `command` is how a person runs it."""

    name: str
    phase: str  # who does it ("Phase 4"); `--until phase4` stops where its work ends
    command: str  # what to run, with {name} for the project
    also_in: tuple[str, ...] = ()  # states past its own where it may run again (a re-diagnosis)


@dataclass(frozen=True)
class State:
    name: str
    description: str
    initial: bool = False
    final: bool = False
    action: str | None = None  # the work done in this state (every state but a final one has one)


@dataclass(frozen=True)
class Transition:
    name: str
    source: str
    target: str
    gate: str | None = None
    when: Condition | None = None
    hint: str = ""  # what to do while `when` does not hold; {name} is the project
    auto: bool = False  # no phase's work comes first: the walk takes it once `when` holds
    # taken only when a person asks for it by name (`phasegate reopen`): the facts never
    # select it, the walk never takes it, and it is not the way an action's work ends
    on_request: bool = False
    # what a person runs to take it (the phase command that does the work and moves on);
    # {name} is the project; empty: `phasegate advance {name}` takes it
    command: str = ""


def check_graph(
    states: Iterable[State],
    transitions: Iterable[Transition],
    gate_ids: Collection[str],
    actions: Iterable[Action],
) -> list[str]:
    """Every inconsistency of a graph definition, in words (empty when it is sound)."""
    states, transitions, actions = list(states), list(transitions), list(actions)
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
        if t.auto and t.when is None:
            errors.append(f"transition {t.name!r} is auto but has no `when` to say when")
        if t.auto and t.on_request:
            errors.append(f"transition {t.name!r} cannot be both auto and on request")
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
    errors += _action_errors(states, transitions, actions)
    return errors


def _action_errors(states: list[State], moves: list[Transition], acts: list[Action]) -> list[str]:
    """Each non-final state has a known action, each action is used and ends in one state;
    the states are declared in the order of progress (each is entered from an earlier one)."""
    errors = []
    known = [a.name for a in acts]
    names = [s.name for s in states]
    errors += [f"action {n!r} is declared twice" for n in _repeated(known)]
    for state in states:
        if state.final and state.action is not None:
            errors.append(f"final state {state.name!r} has an action ({state.action!r})")
        elif not state.final and state.action is None:
            errors.append(f"state {state.name!r} has no action (what runs there?)")
        elif state.action is not None and state.action not in known:
            errors.append(f"state {state.name!r} names unknown action {state.action!r}; "
                          f"actions: {', '.join(known) or 'none'}")
        earlier = names[: names.index(state.name)]
        if not state.initial and not any(t.target == state.name and t.source in earlier
                                         for t in moves):
            errors.append(f"state {state.name!r} is not entered from a state declared before "
                          "it (states are declared in the order of progress)")
    for action in acts:
        own = [s.name for s in states if s.action == action.name]
        if not own:
            errors.append(f"action {action.name!r} is the action of no state")
            continue
        errors += [f"action {action.name!r} may run again in unknown state {n!r}"
                   for n in action.also_in if n not in names]
        ends = leads_to(own, moves)
        if len(ends) != 1:
            errors.append(f"action {action.name!r} should lead to one state, but its states "
                          f"{own} lead to {sorted(ends) or 'none'}")
    return errors


def leads_to(own: list[str], transitions: Iterable[Transition]) -> set[str]:
    """The states outside `own` that the transitions leaving `own` enter (a move taken on
    request, like reopening Phase 4, is not where the work leads)."""
    return {t.target for t in transitions
            if t.source in own and t.target not in own and not t.on_request}


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
