"""Every message names the command that actually moves the project on; nothing reads as done
when it is not (a fresh project's status, an n/a checklist item); a sweep shows its trials."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import CLI
from tests.test_cli_engine import (
    record_baseline,
    record_diagnosis,
    record_finalization,
    record_optimization,
)
from workflow.cli.display import RichProgress, TrialTally
from workflow.machine import take
from workflow.metric import Metric
from workflow.store import Store


def _init(home: Path, cli: CLI) -> Store:
    assert cli("init", "demo", "--config", "proj/project.yaml")[0] == 0
    return Store.open("demo", home / "runs")


# rule: a fresh project's status does not claim a trained baseline, and names the command
# that trains it (not `advance`, which cannot)
def test_a_fresh_status_names_the_baseline_command(home: Path, cli: CLI) -> None:
    _init(home, cli)
    code, out, _ = cli("status", "demo")
    assert code == 0
    assert "demo: baseline (created: the baseline is trained on every seed here" in out
    assert "phasegate baseline demo" in out and "phasegate advance" not in out
    assert json.loads(cli("status", "demo", "--json")[1])["next"]["command"] == (
        "train the baseline on every seed first (phasegate baseline demo)")


# rule: `baseline` on a project past Phase 3 is refused before any training or progress bar,
# naming what moves the project on instead
def test_baseline_past_phase_3_is_refused_at_once(home: Path, cli: CLI) -> None:
    store = _init(home, cli)
    record_baseline(store)
    take(store, "diagnose", "test")
    record_diagnosis(store)
    take(store, "optimize", "test")
    code, out, err = cli("baseline", "demo")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "seed" not in err.split("Next:")[0].split("it is")[0]
    assert "it is optimizing" in err and "Next: run a Phase 4 attempt (phasegate optimize demo)" \
        in err
    assert not (store.run_dir / "baseline").exists()


# rule: `finalize` on a promoted project says it is done, and suggests neither signing nor
# promoting again
def test_finalize_on_a_promoted_project_suggests_nothing(home: Path, cli: CLI) -> None:
    store = _init(home, cli)
    record_baseline(store)
    take(store, "diagnose", "test")
    record_diagnosis(store)
    take(store, "optimize", "test")
    record_optimization(store)
    take(store, "accept", "test")
    store.record("phase5", {"completed": True})
    take(store, "finalize", "test")
    record_finalization(store)
    store.record("phase5", {"test": {"n": 270, "task": "classification", "final_accuracy": 0.95,
                                     "baseline_accuracy": 0.9, "accuracy_difference": 0.05,
                                     "final_macro_f1": 0.95,
                                     "final_balanced_accuracy": 0.95}})
    code, out, _ = cli("gate", "sign", "demo", "finalization_complete", "model_card_reviewed",
                       "--by", "ana")
    assert code == 0 and "next: phasegate promote demo" in out
    assert cli("advance", "demo")[0] == 0 and store.current == "promoted"
    code, out, _ = cli("finalize", "demo")
    assert code == 0 and "demo was already finalized" in out
    assert "next: nothing: demo is promoted, the end of the workflow" in out
    assert "gate sign" not in out and "phasegate promote" not in out


# rule: a checklist item that does not apply renders as n/a, never as a tick, in the
# Markdown checklist a person reads and in `gate check`
def test_items_that_do_not_apply_read_n_a(home: Path, cli: CLI) -> None:
    store = _init(home, cli)
    record_baseline(store)
    record_diagnosis(store, strategy="skip", potential=1.0)
    code, out, _ = cli("gate", "check", "demo", "diagnostics_complete")
    assert code == 0
    assert "  n/a recommendations [n/a]: n/a: applies only when phase3.strategy != 'skip'" in out
    text = (store.run_dir / "checklists" / "diagnostics_complete.md").read_text()
    assert "- n/a 3 to 5 prioritized recommendations with expected gains (`recommendations`, " \
           "does not apply)" in text
    assert "[x] 3 to 5 prioritized" not in text


# rule: a sweep's progress line tells the trials done, the pruned and failed, and the best so
# far in the target's direction
def test_the_sweep_tally() -> None:
    tally = TrialTally(Metric.named("val_loss"))
    tally.add(0, "complete", 0.5)
    tally.add(1, "pruned", 0.9)
    tally.add(2, "complete", 0.3)
    tally.add(3, "failed", None)
    tally.add(4, "complete", 0.4)
    assert (tally.done, tally.pruned, tally.failed, tally.best_trial) == (5, 1, 1, 2)
    assert tally.line() == "5 trials done, 1 pruned, 1 failed, best val_loss 0.3000 (trial 2)"
    assert TrialTally().line() == "0 trials done, 0 pruned"


# rule: RichProgress writes everything to stderr (stdout is the command's answer alone)
def test_progress_goes_to_stderr(capsys: object) -> None:
    progress = RichProgress(metric=Metric.named("val_accuracy"))
    progress.step("Phase 4", "sweep")
    progress.trial(0, "complete", 0.8)
    captured = capsys.readouterr()  # type: ignore[attr-defined]
    assert captured.out == ""
    assert "sweep trial 0 complete 0.8000 · 1 trial done, 0 pruned, best val_accuracy 0.8000 " \
           "(trial 0)" in captured.err
