"""phases.diagnostic.phase through `phasegate baseline` and `diagnose`, driven as a user would.

Most tests import crafted histories (`baseline --import`), so no training runs;
one trains a tiny baseline for real through the runner. Each asserts on the
exit code, on what was written, and on the facts the diagnostics_complete gate
reads.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from tests.diagnostic.histories import seeds
from workflow.cli import main
from workflow.gates import check_gate
from workflow.store import RUNS_ENV, Store
from workflow.trainer.result import HISTORY_COLUMNS

BASELINE = """\
name: bare
data: {dataset: digits, max_samples: 200, batch_size: 32}
model: {name: mlp, widths: [32]}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 8}
device: cpu
"""
PROJECT = """\
name: demo
baseline: baseline.yaml
target: {metric: val_accuracy, direction: maximize, goal: 0.9}
seeds: [0, 1, 2]
fresh_seeds: [10, 11, 12]
"""
PHASE3 = ("diagnostic_report.md", "diagnostic_report.json", "findings.json",
          "optimization_config.preview.yaml", "plots/loss.png", "plots/accuracy.png")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with proj/project.yaml and its baseline; runs/ is the runs root."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "runs"))
    monkeypatch.setenv("PHASEGATE_WORKERS", "1")
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "baseline.yaml").write_text(BASELINE)
    (tmp_path / "proj" / "project.yaml").write_text(PROJECT)
    return tmp_path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_histories(folder: Path, histories: list[list[dict[str, float]]]) -> Path:
    for seed, rows in enumerate(histories):
        (folder / f"seed-{seed}").mkdir(parents=True)
        with open(folder / f"seed-{seed}" / "history.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=HISTORY_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    return folder


def overfit_histories(folder: Path) -> Path:
    """Train accuracy 100% against val 70%: an overfitting baseline, as a user's own runs."""
    return write_histories(folder, seeds(
        train_accuracy=lambda e: min(1.0, 0.5 + 0.05 * e),
        val_accuracy=lambda e: min(0.70, 0.4 + 0.05 * e),
        val_balanced_accuracy=lambda e: min(0.695, 0.4 + 0.05 * e),
    ))


def init(capsys: pytest.CaptureFixture[str], name: str = "demo") -> Store:
    code, _, err = cli(capsys, "init", name, "--config", "proj/project.yaml")
    assert code == 0, err
    return Store.open(name)


def test_imported_overfit_baseline_to_phase_4(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # import -> diagnose -> diagnostics_complete passes -> advance moves to Phase 4 (optimizing);
    # the facts carry the names the gate and Phase 4 read
    store = init(capsys)
    mine = overfit_histories(home / "mine")
    code, out, err = cli(capsys, "baseline", "demo", "--import", str(mine))
    assert code == 0, err
    assert "3 of 3 seeds usable" in out
    baseline = store.get("baseline")
    assert baseline["completed"] is True and baseline["source"] == "imported"
    assert (baseline["seeds"], baseline["diverged"]) == (3, 0)
    for metric in ("val_accuracy", "val_balanced_accuracy", "val_macro_f1", "val_loss",
                   "train_accuracy"):
        assert isinstance(baseline[metric]["mean"], float) and baseline[metric]["std"] >= 0
    assert baseline["val_accuracy"]["mean"] == pytest.approx(0.70)

    code, out, err = cli(capsys, "diagnose", "demo")
    assert code == 0, err
    assert "overfitting" in out and "now diagnosed" in out
    assert store.current == "diagnosed"
    for name in PHASE3:
        assert (store.run_dir / "phase3" / name).is_file(), name
    facts = store.get("phase3")
    assert facts["findings_count"] == len(facts["findings"]) >= 1
    assert "overfitting" in facts["root_causes"]
    assert 3 <= facts["recommendations_count"] == len(facts["recommendations"]) <= 5
    assert set(facts["recommendations"][0]) == {"id", "name", "priority", "changes",
                                                "expected_gain", "finding"}
    assert facts["strategy"] == "targeted" and facts["search_space"] == {}
    assert isinstance(facts["potential"], float) and facts["potential"] >= 3
    assert facts["completed_at"]
    findings = json.loads((store.run_dir / "phase3" / "findings.json").read_text())
    assert findings["plan"]["potential"] == facts["potential"]

    assert check_gate(store, "diagnostics_complete").passed
    code, out, err = cli(capsys, "advance", "demo")
    assert code == 0, err
    assert store.current == "optimizing"


def test_diagnose_twice_rerenders_and_is_refused_past_diagnosed(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # rerunning diagnose on a diagnosed project writes the same diagnosis again (no move); once
    # Phase 4 has started it is refused with one line, exit 1, and nothing changes
    store = init(capsys)
    cli(capsys, "baseline", "demo", "--import", str(overfit_histories(home / "mine")))
    assert cli(capsys, "diagnose", "demo")[0] == 0
    first = {k: v for k, v in store.get("phase3").items() if k != "completed_at"}
    code, _, err = cli(capsys, "diagnose", "demo", "--json")
    assert code == 0, err
    assert {k: v for k, v in store.get("phase3").items() if k != "completed_at"} == first
    assert store.current == "diagnosed"
    assert [e["event"] for e in store.events()].count("rediagnosed") == 1
    assert cli(capsys, "advance", "demo")[0] == 0
    report = (store.run_dir / "phase3" / "diagnostic_report.md").read_bytes()
    code, _, err = cli(capsys, "diagnose", "demo")
    assert code == 1
    assert err.count("\n") == 1 and "cannot diagnose demo: it is optimizing" in err
    assert (store.run_dir / "phase3" / "diagnostic_report.md").read_bytes() == report
    code, _, err = cli(capsys, "baseline", "demo", "--import", str(home / "mine"))
    assert code == 1 and "the baseline is fixed once Phase 4 has started" in err


def test_diagnose_needs_a_baseline(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # diagnose before any baseline: refused, exit 1, with the command to run
    init(capsys)
    code, _, err = cli(capsys, "diagnose", "demo")
    assert code == 1
    assert "no baseline yet (run: phasegate baseline demo" in err


@pytest.mark.parametrize(
    ("drop", "message"),
    [("val_loss", "missing column 'val_loss'"), (None, "no epochs (only a header)")],
)
def test_import_validates_every_history(
    home: Path, capsys: pytest.CaptureFixture[str], drop: str | None, message: str
) -> None:
    # a history without a required column (or without rows) is bad input: exit 2, one line
    # naming the file and the column, and nothing is imported
    store = init(capsys)
    mine = overfit_histories(home / "mine")
    bad = mine / "seed-1" / "history.csv"
    rows = list(csv.DictReader(bad.open()))
    columns = [c for c in HISTORY_COLUMNS if c != drop]
    with open(bad, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        if drop is not None:
            writer.writerows(rows)
    code, _, err = cli(capsys, "baseline", "demo", "--import", str(mine))
    assert code == 2
    assert err.count("\n") == 1
    assert str(bad) in err and message in err
    assert store.get("baseline", None) is None
    assert not (store.run_dir / "baseline").exists()


def test_import_must_hold_the_project_seeds(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # imported seeds other than the project's would pass Phase 3 and only fail in Phase 4,
    # which pairs every candidate seed with the baseline's: exit 2 at the import, one line
    # naming both lists, and nothing is imported
    store = init(capsys)
    mine = overfit_histories(home / "mine")
    (mine / "seed-2").rename(mine / "seed-7")
    code, _, err = cli(capsys, "baseline", "demo", "--import", str(mine))
    assert code == 2 and err.count("\n") == 1
    assert "holds seeds [0, 1, 7], but the project's seeds are [0, 1, 2]" in err
    assert store.get("baseline", None) is None
    assert not (store.run_dir / "baseline").exists()


def test_diverged_import_is_diagnosed_lr_too_high(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a user's runs whose loss became NaN: no usable seed, the diagnosis says lr too high, and
    # the gate refuses Phase 4 (fewer than 3 usable seeds) while saying why
    store = init(capsys)
    mine = write_histories(home / "mine", seeds(train_loss=lambda e: math.nan if e > 2 else 1.0))
    code, out, _ = cli(capsys, "baseline", "demo", "--import", str(mine))
    assert code == 0 and "0 of 3 seeds usable, 3 diverged" in out
    assert cli(capsys, "diagnose", "demo")[0] == 0
    assert "lr_too_high" in store.get("phase3.root_causes")
    code, _, err = cli(capsys, "advance", "demo")
    assert code == 1 and "baseline_seeds" in err


def test_fixed_baseline_rerun_after_diagnose(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a diverged baseline is diagnosed, fixed and re-run while diagnosed: the old diagnosis is
    # stale (Phase 4 is refused) until diagnose runs again, then the gate passes
    store = init(capsys)
    diverged = write_histories(home / "bad", seeds(train_loss=lambda e: math.nan))
    cli(capsys, "baseline", "demo", "--import", str(diverged))
    assert cli(capsys, "diagnose", "demo")[0] == 0
    code, out, _ = cli(capsys, "baseline", "demo", "--import", str(overfit_histories(home / "ok")))
    assert code == 0 and "next: phasegate diagnose demo again" in out
    assert store.current == "diagnosed" and store.get("phase3.strategy") is None
    code, _, err = cli(capsys, "advance", "demo")
    assert code == 1 and "strategy_chosen" in err
    assert cli(capsys, "diagnose", "demo")[0] == 0
    assert store.get("phase3.stale") is None and store.get("phase3.strategy") == "targeted"
    assert cli(capsys, "advance", "demo")[0] == 0


def test_commands_take_the_project_lock(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # while another command holds the project's lock, diagnose and baseline refuse to start
    store = init(capsys)
    mine = overfit_histories(home / "mine")
    with Store(store.run_dir).lock():
        for argv in (("baseline", "demo", "--import", str(mine)), ("diagnose", "demo")):
            code, _, err = cli(capsys, *argv)
            assert code == 3 and "is locked by pid" in err  # busy (issue 15)


def test_trained_baseline_with_the_lr_probe(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # baseline trains every project seed through the runner (a rerun trains nothing again), and
    # diagnose --probe lr adds the range test's curve and suggestion
    # (the runner gives each worker cpu_count // workers torch threads: on a shared 2-core
    # machine two threads make these tiny models 10x slower than one, so say there is one core)
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    store = init(capsys)
    code, out, err = cli(capsys, "baseline", "demo")
    assert code == 0, err
    assert "baseline of demo (trained): 3 of 3 seeds usable" in out
    runs = sorted(p.name for p in (store.run_dir / "baseline").iterdir())
    assert runs == ["seed-0", "seed-1", "seed-2"]
    mtime = (store.run_dir / "baseline" / "seed-0" / "metrics.json").stat().st_mtime_ns
    assert cli(capsys, "baseline", "demo")[0] == 0
    assert (store.run_dir / "baseline" / "seed-0" / "metrics.json").stat().st_mtime_ns == mtime
    code, out, err = cli(capsys, "diagnose", "demo", "--probe", "lr")
    assert code == 0, err
    assert store.get("phase3.probes") == ["lr_range"]
    assert (store.run_dir / "phase3" / "plots" / "lr_range.png").is_file()
    report = (store.run_dir / "phase3" / "diagnostic_report.md").read_text()
    assert "learning-rate range test" in report and "plots/lr_range.png" in report


class Recorder:
    """A `workflow.progress.Progress` that writes down every call it gets."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def step(self, phase: str, text: str) -> None:
        self.calls.append(("step", phase, text))

    def training(self, label: str, seeds: Sequence[int], done: Sequence[int], epochs: int) -> None:
        self.calls.append(("training", label, list(seeds), list(done), epochs))

    def epoch(self, seed: int, epoch: int, row: Mapping[str, float]) -> None:
        self.calls.append(("epoch", seed, epoch))

    def seed_done(self, seed: int, status: str, epochs: int) -> None:
        self.calls.append(("seed_done", seed, status, epochs))

    def end_training(self) -> None:
        self.calls.append(("end_training",))

    def trial(self, number: int, state: str, value: float | None) -> None:
        self.calls.append(("trial", number, state, value))

    def note(self, text: str) -> None:
        self.calls.append(("note", text))


def test_baseline_training_reports_through_the_progress_protocol(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # run_baseline tells its Progress: one training of every seed, each seed's epochs, each
    # seed done with its status and epochs, then the end; a rerun has every seed done earlier
    from phases.diagnostic.phase import run_baseline

    monkeypatch.setattr("os.cpu_count", lambda: 1)
    (home / "proj" / "baseline.yaml").write_text(BASELINE.replace("epochs: 8", "epochs: 2"))
    store = init(capsys)
    progress = Recorder()
    run_baseline(store, workers=1, progress=progress, who="test")
    calls = progress.calls
    assert calls[0] == ("training", "baseline", [0, 1, 2], [], 2)
    assert [c for c in calls if c[0] == "epoch"] == [
        ("epoch", seed, epoch) for seed in (0, 1, 2) for epoch in (1, 2)
    ]
    assert [c for c in calls if c[0] == "seed_done"] == [
        ("seed_done", seed, "completed", 2) for seed in (0, 1, 2)
    ]
    assert calls[-1] == ("end_training",)
    again = Recorder()
    run_baseline(store, workers=1, progress=again, who="test")
    assert again.calls == [("training", "baseline", [0, 1, 2], [0, 1, 2], 2), ("end_training",)]
