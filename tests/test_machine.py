"""workflow.machine: the phase graph's table, its checks, and taking a transition."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from workflow.conditions import Condition
from workflow.errors import GateFailed, Refused, WrongState
from workflow.facts import MovesFacts
from workflow.gates import shipped_checklist_ids
from workflow.machine import (
    MACHINE,
    STATES,
    TRANSITIONS,
    Action,
    GraphError,
    Machine,
    State,
    Transition,
    advance,
    require,
    take,
)
from workflow.project import load_project
from workflow.store import Store


def _facts(**dotted: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for path, value in dotted.items():
        node = facts
        *parents, leaf = path.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return facts


# rule: the shipped graph has the documented states, start, end and gated moves
def test_shipped_graph() -> None:
    assert list(MACHINE.states) == [
        "baseline", "diagnosed", "optimizing", "optimized", "finalized", "promoted"
    ]
    assert MACHINE.start == "baseline" and MACHINE.states["promoted"].final
    edges = {t.name: (t.source, t.target, t.gate) for t in TRANSITIONS}
    assert edges == {
        "diagnose": ("baseline", "diagnosed", None),
        "optimize": ("diagnosed", "optimizing", "diagnostics_complete"),
        "skip": ("diagnosed", "optimized", "diagnostics_complete"),
        "accept": ("optimizing", "optimized", None),
        "iterate": ("optimizing", "optimizing", None),
        "revert": ("optimizing", "diagnosed", None),
        "ceiling": ("optimizing", "optimized", None),
        "budget": ("optimizing", "optimized", None),
        "finalize": ("optimized", "finalized", "optimization_complete"),
        "promote": ("finalized", "promoted", "finalization_complete"),
        "reopen": ("optimized", "diagnosed", "reopen_phase4"),
    }
    assert [t.name for t in TRANSITIONS if t.on_request] == ["reopen"]
    assert MACHINE.gates == ["diagnostics_complete", "optimization_complete",
                             "finalization_complete"]


# rule: the facts select exactly one branch; Phase 4's decision picks A, B, C, D or budget
@pytest.mark.parametrize(
    ("state", "facts", "expected"),
    [
        ("baseline", _facts(baseline__completed=True), "diagnose"),
        ("diagnosed", _facts(phase3__strategy="targeted"), "optimize"),
        ("diagnosed", _facts(phase3__strategy="skip"), "skip"),
        ("optimizing", _facts(phase4__decision="A"), "accept"),
        ("optimizing", _facts(phase4__decision="B"), "iterate"),
        ("optimizing", _facts(phase4__decision="C"), "revert"),
        ("optimizing", _facts(phase4__decision="D"), "ceiling"),
        ("optimizing", _facts(phase4__decision="budget"), "budget"),
        ("optimized", _facts(phase5__completed=True), "finalize"),
        ("finalized", {}, "promote"),
    ],
)
def test_next_transition(state: str, facts: dict[str, Any], expected: str) -> None:
    assert MACHINE.next_transition(state, facts).name == expected


# rule: when no branch's condition holds, the refusal says what each needs and what to run
def test_next_transition_refusal_gives_the_hint() -> None:
    with pytest.raises(Refused) as info:
        MACHINE.next_transition("optimizing", {}, project="demo")
    message = str(info.value)
    assert "accept needs phase4.decision == 'A' (phase4.decision is not recorded)" in message
    assert "phasegate optimize demo" in message
    with pytest.raises(Refused, match="baseline.completed == true .*phasegate baseline demo"):
        MACHINE.next_transition("baseline", _facts(baseline__completed=False), project="demo")


# rule: nothing leaves promoted
def test_promoted_is_final() -> None:
    with pytest.raises(Refused, match="end of the workflow"):
        MACHINE.next_transition("promoted", {})


WORK = (Action("work", "Work", "do work on {name}"),)
GOOD_STATES = (
    State("a", "start", initial=True, action="work"), State("b", "middle", action="work"),
    State("c", "end", final=True),
)
GOOD_MOVES = (Transition("ab", "a", "b"), Transition("bc", "b", "c", gate="g"))


# rule: the checker accepts a sound table
def test_checker_accepts_a_sound_graph() -> None:
    assert Machine(GOOD_STATES, GOOD_MOVES, gate_ids={"g"}, actions=WORK).start == "a"
    assert Machine(STATES, TRANSITIONS, gate_ids=shipped_checklist_ids()).start == "baseline"


# rule: each kind of broken table is refused when it is built, with every error named
@pytest.mark.parametrize(
    ("states", "moves", "error"),
    [
        ((State("a", "", initial=True), State("b", "", initial=True), State("c", "", final=True)),
         (Transition("ab", "a", "b"), Transition("bc", "b", "c")),
         "expected exactly one start state, found 2 ['a', 'b']"),
        ((State("a", ""), State("c", "", final=True)), (Transition("ac", "a", "c"),),
         "expected exactly one start state, found 0"),
        (GOOD_STATES + (State("lost", ""),), GOOD_MOVES + (Transition("lc", "lost", "c"),),
         "state 'lost' is unreachable from 'a'"),
        (GOOD_STATES, GOOD_MOVES + (Transition("again", "c", "a"),),
         "transition 'again' leaves final state 'c'"),
        (GOOD_STATES, (Transition("ab", "a", "b"), Transition("bc", "b", "c", gate="nope")),
         "transition 'bc' names gate 'nope', which is not a shipped checklist (g)"),
        (GOOD_STATES, GOOD_MOVES + (Transition("ax", "a", "x"),),
         "transition 'ax' names unknown state 'x'"),
        (GOOD_STATES, GOOD_MOVES + (Transition("ab", "a", "c"),),
         "transition 'ab' is declared twice"),
        (GOOD_STATES + (State("trap", ""),), GOOD_MOVES + (Transition("at", "a", "trap"),),
         "state 'trap' has no path to a final state"),
        ((State("a", "", initial=True), State("b", "")), (Transition("ab", "a", "b"),),
         "no final state"),
        ((State("a", "", initial=True, action="work"), State("b", ""), State("c", "", final=True)),
         GOOD_MOVES, "state 'b' has no action (what runs there?)"),
        ((State("a", "", initial=True, action="work"), State("b", "", action="dance"),
          State("c", "", final=True)), GOOD_MOVES, "state 'b' names unknown action 'dance'"),
        (GOOD_STATES[:2] + (State("c", "", final=True, action="work"),), GOOD_MOVES,
         "final state 'c' has an action ('work')"),
        ((State("a", "", initial=True, action="work"), State("c", "", final=True),
          State("b", "", action="work")), GOOD_MOVES,
         "state 'c' is not entered from a state declared before it"),
        (GOOD_STATES + (State("d", "", final=True),), GOOD_MOVES + (Transition("bd", "b", "d"),),
         "action 'work' should lead to one state, but its states ['a', 'b'] lead to ['c', 'd']"),
        (GOOD_STATES, (Transition("ab", "a", "b", auto=True), GOOD_MOVES[1]),
         "transition 'ab' is auto but has no `when`"),
    ],
)
def test_checker_refuses_broken_graphs(
    states: tuple[State, ...], moves: tuple[Transition, ...], error: str
) -> None:
    with pytest.raises(GraphError) as info:
        Machine(states, moves, gate_ids={"g"}, actions=WORK)
    assert error in str(info.value)


# rule: an action no state names, or one declared twice, is an error of the table
def test_checker_refuses_unused_and_repeated_actions() -> None:
    idle = WORK + (Action("idle", "Idle", "wait"),)
    with pytest.raises(GraphError, match="action 'idle' is the action of no state"):
        Machine(GOOD_STATES, GOOD_MOVES, gate_ids={"g"}, actions=idle)
    with pytest.raises(GraphError, match="action 'work' is declared twice"):
        Machine(GOOD_STATES, GOOD_MOVES, gate_ids={"g"}, actions=WORK + WORK)


# rule: every state but promoted has its action; each action runs where the phase may run and
# ends in the state its phase leads to, which is where --until <phase> stops
def test_shipped_actions() -> None:
    actions = {name: state.action for name, state in MACHINE.states.items()}
    assert actions == {"baseline": "diagnose", "diagnosed": "optimize", "optimizing": "optimize",
                       "optimized": "finalize", "finalized": "promote", "promoted": None}
    where = {a: (MACHINE.runs_in(a), MACHINE.ends_in(a)) for a in MACHINE.actions}
    assert where == {
        "diagnose": (["baseline", "diagnosed"], "diagnosed"),
        "optimize": (["diagnosed", "optimizing"], "optimized"),
        "finalize": (["optimized"], "finalized"),
        "promote": (["finalized"], "promoted"),
    }
    assert MACHINE.stops() == {
        **{s: s for s in MACHINE.order},
        "diagnose": "diagnosed", "phase3": "diagnosed", "optimize": "optimized",
        "phase4": "optimized", "finalize": "finalized", "phase5": "finalized",
        "promote": "promoted", "promotion": "promoted",
    }
    assert [t.name for t in TRANSITIONS if t.auto] == ["skip"]


# rule: a project has reached a state when it is there or past it in the order of progress;
# the start state only once a move out of it applies (the baseline is trained)
def test_reached() -> None:
    done = _facts(baseline__completed=True)
    assert not MACHINE.reached("baseline", "baseline", {})
    assert MACHINE.reached("baseline", "baseline", done)
    assert MACHINE.reached("diagnosed", "baseline", {})
    assert MACHINE.reached("optimizing", "diagnosed", {})
    assert not MACHINE.reached("optimizing", "optimized", {})
    assert MACHINE.reached("optimized", "optimized", {})
    assert not MACHINE.reached("diagnosed", "promoted", done)


# rule: the walk's own move (auto) is selected only by its condition
def test_auto_move() -> None:
    skip = MACHINE.auto_move("diagnosed", _facts(phase3__strategy="skip"))
    assert skip is not None and skip.name == "skip"
    assert MACHINE.auto_move("diagnosed", _facts(phase3__strategy="targeted")) is None
    assert MACHINE.auto_move("optimizing", _facts(phase4__decision="A")) is None


# -- taking transitions, on a small graph with a project checklist ------------------------------

TINY = """
title: Tiny
items:
  - id: ready
    text: Ready is recorded
    check: {kind: metric, fact: baseline.completed, op: "==", value: true}
  - id: report
    text: The report exists
    check: {kind: artifact, path: out/report.md}
"""
LATER = """
title: Later
items:
  - id: done
    text: Done
    check: {kind: metric, fact: phase3.findings_count, op: ">=", value: 2}
"""
def _small_machine() -> Machine:
    return Machine(
        GOOD_STATES,
        (
            Transition("forward", "a", "b", gate="tiny"),
            Transition("back", "b", "a", when=Condition(fact="phase5.completed", value=True),
                       hint="record phase5.completed"),
            Transition("finish", "b", "c", gate="later",
                       when=Condition(fact="phase5.completed", op="!=", value=True)),
        ),
        gate_ids={"tiny", "later"},
        actions=WORK,
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    project_dir = tmp_path / "project"
    (project_dir / "checklists").mkdir(parents=True)
    (project_dir / "checklists" / "tiny.yaml").write_text(TINY)
    (project_dir / "checklists" / "later.yaml").write_text(LATER)
    (project_dir / "baseline.yaml").write_text("name: b\n")
    (project_dir / "p.yaml").write_text("name: demo\nbaseline: baseline.yaml\n")
    config = load_project(project_dir / "p.yaml")
    return Store.create(config, tmp_path / "runs", start="a", project_dir=project_dir, who="t")


def _snapshot(store: Store) -> tuple[bytes, bytes, int]:
    run = store.run_dir
    return (run / "state.json").read_bytes(), (run / "facts.json").read_bytes(), len(store.events())


# rule: a failing gate raises GateFailed listing each item; only one `refused` event is added
def test_refused_transition_changes_nothing_but_the_log(store: Store) -> None:
    machine = _small_machine()
    state_before, facts_before, events_before = _snapshot(store)
    with pytest.raises(GateFailed) as info:
        take(store, "forward", "tester", "try", machine=machine)
    message = str(info.value)
    assert "gate tiny is pending (0 of 2 items pass)" in message
    assert "ready [pending]: baseline.completed is not recorded" in message
    assert "report [pending]: out/report.md does not exist yet" in message
    state_after, facts_after, events_after = _snapshot(store)
    assert (state_after, facts_after) == (state_before, facts_before)
    assert events_after == events_before + 1
    refused = store.events()[-1]
    assert refused["event"] == "refused" and refused["transition"] == "forward"
    assert refused["who"] == "tester" and refused["gate"]["failing"][0]["id"] == "ready"
    assert (store.run_dir / "checklists" / "tiny.md").is_file()  # the person's copy of why


# rule: a passing gate moves the state, records the artifacts' sha256 and logs the transition
def test_passing_gate_records_hashes(store: Store) -> None:
    machine = _small_machine()
    store.record("baseline", {"completed": True})
    (store.run_dir / "out").mkdir()
    (store.run_dir / "out" / "report.md").write_text("# report\n")
    taken = take(store, "forward", "tester", "ready now", machine=machine)
    assert taken.gate is not None and taken.gate.passed
    state = store.load_state()
    assert state.state == "b"
    record = state.gates["tiny"]
    assert record.transition == "forward" and record.by == "tester"
    assert record.artifacts == {"out/report.md": taken.gate.artifacts["out/report.md"]}
    assert len(record.artifacts["out/report.md"]) == 64
    last = store.events()[-1]
    assert (last["event"], last["from"], last["to"], last["why"]) == (
        "transition", "a", "b", "ready now"
    )
    assert last["gate"]["status"] == "pass"


# rule: a transition from another state, or whose condition does not hold, is refused and logged
def test_wrong_state_and_unmet_condition_are_refused(store: Store) -> None:
    machine = _small_machine()
    before = _snapshot(store)
    with pytest.raises(Refused, match="demo is a, and back goes from b to a"):
        take(store, "back", "t", machine=machine)
    assert _snapshot(store)[:2] == before[:2] and _snapshot(store)[2] == before[2] + 1
    store.record("baseline", {"completed": True})
    (store.run_dir / "out").mkdir()
    (store.run_dir / "out" / "report.md").write_text("# report\n")
    take(store, "forward", "t", machine=machine)
    with pytest.raises(Refused, match=r"cannot back yet: it needs phase5.completed == true "
                       r".*record phase5.completed"):
        take(store, "back", "t", machine=machine)
    assert store.events()[-1]["event"] == "refused"


# rule: re-entering a state clears the records of the gates leaving it (they are checked anew)
def test_reentry_clears_gate_records(store: Store) -> None:
    machine = _small_machine()
    store.record("baseline", {"completed": True})
    (store.run_dir / "out").mkdir()
    (store.run_dir / "out" / "report.md").write_text("# report\n")
    take(store, "forward", "t", machine=machine)
    store.record("phase5", {"completed": True})
    assert advance(store, "t", machine=machine).transition.name == "back"
    assert "tiny" not in store.load_state().gates
    (store.run_dir / "out" / "report.md").write_text("# a new report\n")  # not stale: re-gated
    assert take(store, "forward", "t", machine=machine).gate is not None


# rule: an artifact changed after its gate passed blocks every later gated transition
def test_stale_earlier_gate_blocks_later_moves(store: Store) -> None:
    machine = _small_machine()
    store.record("baseline", {"completed": True})
    (store.run_dir / "out").mkdir()
    (store.run_dir / "out" / "report.md").write_text("# report\n")
    take(store, "forward", "t", machine=machine)
    store.record("phase5", {"completed": False})
    store.record("phase3", {"findings_count": 3})
    (store.run_dir / "out" / "report.md").write_text("# edited after the gate\n")
    before = _snapshot(store)
    with pytest.raises(GateFailed, match=r"gate tiny is stale: out/report.md changed"):
        advance(store, "t", machine=machine)
    assert _snapshot(store)[:2] == before[:2]


def _pass_forward(store: Store, machine: Machine) -> None:
    store.record("baseline", {"completed": True})
    (store.run_dir / "out").mkdir(exist_ok=True)
    (store.run_dir / "out" / "report.md").write_text("# report\n")
    take(store, "forward", "t", machine=machine)


# rule: advance with no applicable move logs one refused event and changes nothing else
def test_advance_without_a_move(store: Store) -> None:
    machine = _small_machine()
    _pass_forward(store, machine)
    before = _snapshot(store)
    with pytest.raises(Refused,
                       match=r"demo is b and no move applies yet: back needs phase5.completed"):
        advance(store, "t", machine=machine)
    after = _snapshot(store)
    assert after[:2] == before[:2] and after[2] == before[2] + 1
    assert store.events()[-1]["event"] == "refused"


# rule: advance takes the move the facts select, and its gate still decides
def test_advance_checks_the_selected_gate(store: Store) -> None:
    machine = _small_machine()
    _pass_forward(store, machine)
    store.record("phase5", {"completed": False})
    store.record("phase3", {"findings_count": 0})
    with pytest.raises(GateFailed, match=r"done \[fail\]: phase3.findings_count = 0 >= 2"):
        advance(store, "t", machine=machine)
    store.record("phase3", {"findings_count": 2})
    assert advance(store, "t", machine=machine).transition.name == "finish"
    assert store.current == "c"


# rule: every move is recorded in the facts: its count, and how its target was entered
def test_take_records_the_moves(store: Store) -> None:
    machine = _small_machine()
    assert MovesFacts.of(store.facts) == MovesFacts()
    _pass_forward(store, machine)
    store.record("phase5", {"completed": True})
    take(store, "back", "t", machine=machine)
    take(store, "forward", "t", machine=machine)
    moves = MovesFacts.of(store.facts)
    assert moves.taken == 3 and moves.counts == {"forward": 2, "back": 1}
    assert moves.count("back") == 1 and moves.count("finish") == 0
    entry = moves.entry("b")
    assert entry is not None and (entry.transition, entry.source, entry.move) == ("forward", "a", 3)
    entry = moves.entry("a")
    assert entry is not None and (entry.transition, entry.move) == ("back", 2)
    assert moves.entry("c") is None
    assert store.events()[-1]["event"] == "transition"  # the log still ends with the move


# rule: a phase asked to run where its action does not apply is refused (exit 1) with what
# to run first, or with the news that its work is done
def test_require(tmp_path: Path) -> None:
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    (project_dir / "baseline.yaml").write_text("name: b\n")
    (project_dir / "p.yaml").write_text("name: demo\nbaseline: baseline.yaml\n")
    config = load_project(project_dir / "p.yaml")
    store = Store.create(config, tmp_path / "runs", start="diagnosed", project_dir=project_dir,
                         who="t")
    assert require(store, "optimize") == "diagnosed"
    assert require(store, "diagnose") == "diagnosed"  # Phase 3 may run again there
    with pytest.raises(WrongState, match=r"cannot finalize demo: it is diagnosed, and Phase 5 "
                       r"runs from optimized \(it comes later\). Next: phasegate optimize demo"):
        require(store, "finalize")
    later = Store.create(config.model_copy(update={"name": "later"}), tmp_path / "runs",
                         start="finalized", project_dir=project_dir, who="t")
    with pytest.raises(WrongState, match=r"Phase 4 runs from diagnosed or optimizing \(its work "
                       r"is done\). Next: phasegate promote later"):
        require(later, "optimize")
    assert WrongState.exit_code == 1
