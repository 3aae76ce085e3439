"""Sign-offs that cannot be given blind, and promotion below the goal only with a waiver.

The project is walked to `finalized` through the Store API (no training); every
command under test runs through the CLI and is judged by its exit code and output.
The move to promoted is taken with `advance` (the gate and its stale checks, without
Phase 5's copy of real model files); `run`'s promotion is stood in for the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.cli.conftest import CLI, optimized
from tests.test_cli_engine import (
    record_finalization,
)
from workflow.machine import take
from workflow.store import Store

CARD = "phase5/finalization_report.md"
SIGN = ("gate", "sign", "demo", "finalization_complete")


def _finalized(home: Path, cli: CLI, *, final_mean: float = 0.975) -> Store:
    store = optimized(home, cli, decision="A")
    store.record("phase5", {"completed": True})
    take(store, "finalize", "test")
    record_finalization(store, final_mean=final_mean)
    return store


# rule (acceptance): a sign-off of the model card before the card exists is refused (exit 1),
# naming the missing file and the command that moves the project on; nothing is recorded
def test_an_early_sign_off_is_refused(home: Path, cli: CLI) -> None:
    assert cli("init", "demo", "--config", "proj/project.yaml")[0] == 0
    store = Store.open("demo", home / "runs")
    code, out, err = cli(*SIGN, "model_card_reviewed", "--by", "alice")
    assert code == 1 and out == ""
    assert f"{CARD} does not exist yet (the project is baseline)" in err
    assert "Next: phasegate baseline demo" in err
    assert store.load_state().signoffs == {}
    code, out, _ = cli(*SIGN, "model_card_reviewed", "--by", "alice", "--json")
    assert code == 1 and json.loads(out)["exit_code"] == 1


# rule (acceptance): a sign-off covers the card's sha256: editing the card afterwards voids
# it, the gate goes stale naming the file, promote is refused; signing again restores it
def test_an_edited_card_voids_the_sign_off(home: Path, cli: CLI) -> None:
    store = _finalized(home, cli)
    code, out, _ = cli(*SIGN, "model_card_reviewed", "--by", "alice", "--note", "read it")
    assert code == 0
    assert "finalization_complete/model_card_reviewed signed by alice" in out
    assert f"covering {CARD} (sha256 " in out
    assert cli("gate", "check", "demo", "finalization_complete")[0] == 0

    with open(store.run_dir / CARD, "a") as card:
        card.write("A sentence added after the review.\n")
    code, out, _ = cli("gate", "check", "demo", "finalization_complete")
    assert code == 1 and "finalization_complete of demo: stale" in out
    assert f"{CARD} changed after it was signed" in out and "is void" in out
    code, _, err = cli("advance", "demo")
    assert code == 1 and f"{CARD} changed after it was signed" in err
    assert store.current == "finalized"

    assert cli(*SIGN, "model_card_reviewed", "--by", "alice")[0] == 0
    assert cli("advance", "demo")[0] == 0 and store.current == "promoted"


# rule (acceptance): a final model below the goal is not promoted without a recorded waiver,
# its own gate item; the waiver needs a reason (exit 2 without) and records who and why
def test_promotion_below_the_goal_needs_a_waiver(home: Path, cli: CLI) -> None:
    store = _finalized(home, cli, final_mean=0.90)
    assert json.loads(cli("status", "demo", "--json")[1])["next"]["command"] == (
        "phasegate gate sign demo finalization_complete model_card_reviewed --by NAME && "
        'phasegate gate sign demo finalization_complete goal_waiver --by NAME --note "WHY" && '
        "phasegate promote demo")
    assert cli(*SIGN, "model_card_reviewed", "--by", "alice")[0] == 0
    code, _, err = cli("advance", "demo")
    assert code == 1 and "goal_waiver [pending]: waiting for a sign-off" in err
    code, _, err = cli(*SIGN, "goal_waiver", "--by", "alice")
    assert code == 2 and "is a waiver: say why with --note REASON" in err
    code, out, _ = cli(*SIGN, "goal_waiver", "--by", "alice", "--note", "good enough for now",
                       "--json")
    assert code == 0 and json.loads(out)["note"] == "good enough for now"
    assert cli("advance", "demo")[0] == 0 and store.current == "promoted"
    waiver = store.load_state().signoffs["finalization_complete"]["goal_waiver"]
    assert (waiver.by, waiver.note) == ("alice", "good enough for now")


# rule: a model that meets the goal (to the last float bit: 0.97 as 0.9699999999999999)
# needs no waiver: the item reads n/a
def test_a_met_goal_needs_no_waiver(home: Path, cli: CLI) -> None:
    _finalized(home, cli, final_mean=0.9699999999999999)
    assert cli(*SIGN, "model_card_reviewed", "--by", "alice")[0] == 0
    code, out, _ = cli("gate", "check", "demo", "finalization_complete")
    assert code == 0 and "n/a goal_waiver [n/a]: n/a: applies only when" in out
    assert "[x] goal_waiver" not in out


# rule (acceptance): `run` on a project below its goal stops at finalized (exit 1) saying how
# to waive; with --waive-goal it promotes, says "promoted below goal" and what it signed
def test_run_promotes_below_the_goal_only_with_a_waiver(
    home: Path, cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def promote(store: Store, *, who: str, why: str = "") -> Any:
        take(store, "promote", who, why)  # the gate decides, as Phase 5's promote does
        return SimpleNamespace(folder=store.run_dir / "promoted")

    monkeypatch.setattr("phases.finalization.promotion.promote", promote)
    store = _finalized(home, cli, final_mean=0.90)
    project = "proj/project.yaml"
    code, out, err = cli("run", project, "--sign-off", "alice")
    assert code == 1 and "(refused)" in out
    assert "misses the project's goal" in out and "--waive-goal REASON" in out
    assert store.current == "finalized"
    assert "goal_waiver" not in store.load_state().signoffs.get("finalization_complete", {})

    code, out, err = cli("run", project, "--sign-off", "alice", "--waive-goal",
                         "the demo needs a model today", "--json")
    assert code == 0, err
    outcome = json.loads(out)
    assert outcome["outcome"] == "promoted below goal" and outcome["below_goal"] is True
    assert any("goal_waiver signed by alice" in line for line in outcome["signed"])
    assert any("model_card_reviewed signed by alice" in line and CARD in line
               for line in outcome["signed"])
    assert "the demo needs a model today" in outcome["reason"]
    assert store.current == "promoted"
