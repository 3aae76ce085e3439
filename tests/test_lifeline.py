"""Worker processes die with the command that spawned them, and Ctrl-C leaves no partial folder.

Each test runs a real multi-worker `phasegate baseline` in its own process group (as a
terminal would), waits until its workers train (a `.seed-<n>.partial` folder exists),
then kills or interrupts it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import tiny_config
from tests.finalization.helpers import SLOW_TRAINER, create
from workflow.lifeline import die_with_parent

ROOT = Path(__file__).resolve().parents[1]
CLI = "import sys; from workflow.cli import main; sys.exit(main(sys.argv[1:]))"
WAIT_S = 120.0


def _group(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group `pgid`."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def _wait(condition: object, what: str, limit: float = WAIT_S) -> None:
    assert callable(condition)
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting until {what}"
        time.sleep(0.2)


def _start_baseline(tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    """`phasegate baseline` of a 3-seed project with 2 workers and slow epochs, running."""
    runs = tmp_path / "runs"
    config = tiny_config(training={"epochs": 60})
    store = create(tmp_path / "proj", runs, baseline=config, trainer=SLOW_TRAINER)
    env = {**os.environ, "PHASEGATE_TEST_EPOCH_DELAY": "0.5", "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CLI, "baseline", store.name, "--runs", str(runs),
         "--workers", "2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    folder = store.run_dir / "baseline"
    _wait(lambda: child.poll() is not None or len(list(folder.glob(".seed-*.partial"))) >= 2,
          "two seeds train")
    assert child.poll() is None, child.communicate()
    assert len(_group(child.pid)) >= 3  # the command and its two workers at least
    return child, folder


# rule: SIGKILL of a multi-worker command's main pid takes its workers (and every helper
# process it started) with it within seconds: nothing of its process group is left to
# finish a seed and publish it beside a rerun
def test_workers_die_with_a_killed_command(tmp_path: Path) -> None:
    child, folder = _start_baseline(tmp_path)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate(timeout=30)
    _wait(lambda: not _group(child.pid), "the killed command's workers are gone", 15)
    published = sorted(p.name for p in folder.glob("seed-*"))
    time.sleep(2)
    assert sorted(p.name for p in folder.glob("seed-*")) == published  # nobody writes on


# rule: Ctrl-C (SIGINT to the whole process group, as a terminal sends it) stops the workers,
# removes every .seed-<n>.partial folder, and exits with one line; the workers ignore SIGINT,
# so this is also what a SIGINT to the command alone does
def test_ctrl_c_removes_partial_folders(tmp_path: Path) -> None:
    child, folder = _start_baseline(tmp_path)
    os.killpg(child.pid, signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode != 0
    assert "Traceback" not in err and "interrupted" in err, err
    _wait(lambda: not _group(child.pid), "the interrupted command's helpers are gone", 15)
    assert list(folder.glob(".seed-*.partial")) == []


# rule: a worker whose parent is already gone when it starts exits at once
def test_a_worker_of_a_dead_parent_exits() -> None:
    code = ("import os, time; from workflow.lifeline import die_with_parent; "
            "die_with_parent(os.getppid() + 10**6); time.sleep(30)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=20, check=False)
    assert done.returncode == 1
    assert callable(die_with_parent)
