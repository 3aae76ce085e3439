"""`phasegate run`: a tiny project walked from nothing to promoted, stopped, killed and resumed.

The project is under-tuned on purpose (an lr ten times too low), so the walk goes
through every phase: Phase 3 names the problem, Phase 4's first attempt fixes it
(decision A), Phase 5 finalizes, and the run promotes once told who signs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.finalization.helpers import SLOW_TRAINER, copy_runs, empty_values, write_project
from workflow.cli import main
from workflow.store import Store

ROOT = Path(__file__).resolve().parents[2]
NAME = "tiny"


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _numbers(runs: Path) -> dict[str, Any]:
    """What two runs of the same project must agree on."""
    store = Store.open(NAME, runs)
    return {
        "state": store.current,
        "decisions": [a["decision"] for a in store.get("phase4.attempts")],
        "decision": store.get("phase4.decision"),
        "test_accuracy": store.get("phase5.test.final_accuracy"),
        "baseline_test_accuracy": store.get("phase5.test.baseline_accuracy"),
        "kept_seed": store.get("phase5.selection.seed"),
        "test_evaluations": store.get("phase5.test_evaluations"),
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # the slow trainer is phasegate's own unless a test sets the delay (the kill test does)
    return write_project(tmp_path_factory.mktemp("project"), name=NAME, trainer=SLOW_TRAINER)


@pytest.fixture(scope="module")
def promoted(project: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One uninterrupted `phasegate run ... --sign-off` from nothing: its runs and output."""
    runs = tmp_path_factory.mktemp("promoted") / "runs"
    with pytest.MonkeyPatch.context() as patch, _Capture() as output:
        patch.setenv("PHASEGATE_WORKERS", "1")
        code = main(["run", str(project), "--runs", str(runs), "--sign-off", "tester"])
    assert code == 0, output.text
    return runs, output.text


@pytest.fixture(scope="module")
def finalized(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`phasegate run --until phase5`: the same project stopped at finalized."""
    runs = tmp_path_factory.mktemp("finalized") / "runs"
    with pytest.MonkeyPatch.context() as patch, _Capture() as output:
        patch.setenv("PHASEGATE_WORKERS", "1")
        code = main(["run", str(project), "--runs", str(runs), "--until", "phase5"])
    assert code == 0, output.text
    assert "stopped at finalized (--until finalized)" in output.text
    return runs


class _Capture:
    """stdout and stderr of in-process CLI calls made by a module-scoped fixture."""

    def __enter__(self) -> _Capture:
        import io

        self.buffer = io.StringIO()
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(contextlib.redirect_stdout(self.buffer))
        self._stack.enter_context(contextlib.redirect_stderr(self.buffer))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @property
    def text(self) -> str:
        return self.buffer.getvalue()


# rule (acceptance): `run` walks a project from nothing to promoted in one call; the reports
# of all three phases exist and render with no empty value; it ends saying where they are
def test_run_walks_a_project_to_promoted(promoted: tuple[Path, str]) -> None:
    runs, output = promoted
    numbers = _numbers(runs)
    assert numbers["state"] == "promoted" and numbers["decision"] == "A"
    run_dir = runs / NAME
    for report in ("phase3/diagnostic_report.md", "phase4/optimization_results.md",
                   "phase5/finalization_report.md"):
        text = (run_dir / report).read_text()
        assert empty_values(text) == [], report
        assert str(run_dir / report) in output
    assert f"promoted model: {run_dir / 'promoted' / 'model'}" in output
    manifest = json.loads((run_dir / "promoted/manifest.json").read_text())
    assert "model/model_torchscript.pt" in manifest["files"]
    signoff = Store.open(NAME, runs).load_state().signoffs["finalization_complete"]
    assert signoff["model_card_reviewed"].by == "tester"
    for phase in ("Phase 3", "Phase 4", "Phase 5", "Promotion"):
        assert phase in output
    assert "attempt-1 seed 2" in output or "attempt 1 seed 2" in output  # epochs per training


# rule: without --sign-off, run stops at finalized with exit 1 and says exactly what to sign
def test_run_stops_for_the_model_card_sign_off(
    project: Path, finalized: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = copy_runs(finalized, tmp_path / "runs")
    code, output = _cli(capsys, "run", str(project), "--runs", str(runs))
    assert code == 1
    assert "phasegate gate sign tiny finalization_complete model_card_reviewed --by NAME" in output
    assert "--sign-off NAME" in output
    # the next step it names is the sign-off, then the promotion; not the promotion alone
    assert ("next: phasegate gate sign tiny finalization_complete model_card_reviewed --by NAME "
            "&& phasegate promote tiny") in output
    assert Store.open(NAME, runs).current == "finalized"


# rule (acceptance): editing optimization_results.md after its gate passed makes promote
# refuse, naming the stale gate and the file; `run` stops there too, with exit 1
def test_an_edited_phase4_report_blocks_promotion(
    project: Path, finalized: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = copy_runs(finalized, tmp_path / "runs")
    store = Store.open(NAME, runs)
    assert "phase4/optimization_results.md" in store.load_state().gates[
        "optimization_complete"].artifacts
    store.sign("finalization_complete", "model_card_reviewed", who="ana")
    with open(store.run_dir / "phase4/optimization_results.md", "a") as report:
        report.write("\nA better number, typed in by hand.\n")
    code, output = _cli(capsys, "promote", NAME, "--runs", str(runs))
    assert code == 1
    assert ("gate optimization_complete is stale: phase4/optimization_results.md changed"
            in output)
    assert store.current == "finalized" and not (store.run_dir / "promoted").exists()
    code, output = _cli(capsys, "run", str(project), "--runs", str(runs), "--sign-off", "ana")
    assert code == 1 and "optimization_complete is stale" in output
    assert store.current == "finalized"


# rule (acceptance): a run killed (SIGKILL) in Phase 4 and run again reaches the same
# decision and the same test accuracy as an uninterrupted run; finished seeds are not redone
def test_a_run_killed_in_phase4_resumes_to_the_same_result(
    project: Path, promoted: tuple[Path, str], tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "workflow", "run", str(project), "--runs", str(runs),
               "--sign-off", "tester"]
    env = {**os.environ, "PHASEGATE_WORKERS": "1", "PYTHONPATH": str(ROOT)}
    slow = {**env, "PHASEGATE_TEST_EPOCH_DELAY": "0.4"}
    run = subprocess.Popen(command, cwd=ROOT, env=slow, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    attempt = runs / NAME / "phase4" / "attempt-1"
    deadline = time.monotonic() + 180
    try:
        while not (_state(runs) == "optimizing" and (attempt / "seed-0/metrics.json").exists()):
            assert run.poll() is None, "the run ended before it could be killed in Phase 4"
            assert time.monotonic() < deadline, "the run never reached Phase 4"
            time.sleep(0.02)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    assert _state(runs) == "optimizing"
    assert not (attempt / "seed-2/metrics.json").exists()  # killed mid-attempt
    first_seed = (attempt / "seed-0/metrics.json").stat().st_mtime_ns

    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _numbers(runs) == _numbers(promoted[0])
    assert (attempt / "seed-0/metrics.json").stat().st_mtime_ns == first_seed


def _state(runs: Path) -> str | None:
    path = runs / NAME / "state.json"
    return json.loads(path.read_text())["state"] if path.exists() else None


# rule: bad input is exit 2: an unknown --until, or a project file that no longer matches
# the run directory made from it
def test_bad_input_is_exit_2(
    project: Path, finalized: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = _cli(capsys, "run", str(project), "--until", "phase9")
    assert code == 2 and "--until 'phase9' is not a phase" in output
    changed = write_project(tmp_path / "changed", name=NAME, trainer=SLOW_TRAINER,
                            alpha=0.01)
    code, output = _cli(capsys, "run", str(changed), "--runs", str(finalized))
    assert code == 2 and "alpha: 0.05 there, 0.01 in" in output
