"""`phasegate reopen PROJECT --phase 4`: try another Phase 4 strategy after `optimized`.

The project is walked to `optimized` through the Store API (no training).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import CLI, optimized


# rule (acceptance): asking an optimized project for another strategy is refused (exit 1),
# never silently ignored, and names `phasegate reopen`
def test_optimize_with_a_strategy_on_an_optimized_project_is_refused(
    home: Path, cli: CLI
) -> None:
    store = optimized(home, cli)
    for argv in (["--strategy", "sweep"], ["--strategy", "targeted"], ["--trials", "4"]):
        code, out, err = cli("optimize", "demo", *argv)
        assert code == 1 and out == "", argv
        assert "Phase 4 of demo is done (it is optimized)" in err
        assert "Next: phasegate reopen demo --phase 4" in err
    assert store.current == "optimized"


# rule (acceptance): reopen moves optimized -> diagnosed through its own gate, records its
# own event, keeps Phase 4's attempts, and says what to run next
def test_reopen_phase_4(home: Path, cli: CLI) -> None:
    store = optimized(home, cli)
    assert "reopen_phase4" not in json.loads(cli("status", "demo", "--json")[1])["gates"]
    code, out, _ = cli("reopen", "demo", "--phase", "4", "--by", "ana", "--why", "try a sweep")
    assert code == 0
    assert "demo: optimized -> diagnosed (reopen); gate reopen_phase4 passed" in out
    assert "next: phasegate optimize demo --strategy" in out
    assert store.current == "diagnosed"
    reopened = [e for e in store.events() if e["event"] == "reopened"]
    assert len(reopened) == 1 and reopened[0]["who"] == "ana"
    assert reopened[0]["decision"] == "D" and reopened[0]["why"] == "try a sweep"
    assert store.get("moves.counts.reopen") == 1
    # Phase 4's way in is gated again from here, as after any entry into diagnosed
    assert cli("advance", "demo")[0] == 0 and store.current == "optimizing"
    code, _, err = cli("reopen", "demo", "--phase", "4")
    assert code == 1 and "cannot reopen: demo is optimizing" in err


# rule: once Phase 5 has looked at the test split, Phase 4 cannot be reopened (tuning after
# seeing the test set); a skipped Phase 4 has nothing to reopen
def test_reopen_is_refused_after_the_test_look(home: Path, cli: CLI) -> None:
    store = optimized(home, cli)
    store.record("phase5", {"test_evaluations": 1})
    code, _, err = cli("reopen", "demo", "--phase", "4")
    assert code == 1 and "test_split_untouched [fail]: " in err
    assert "the test split was evaluated" in err and store.current == "optimized"
    code, _, err = cli("reopen", "demo", "--phase", "3")
    assert code == 2 and "--phase: invalid choice: 3" in err
