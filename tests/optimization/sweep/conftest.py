"""Sweep fixtures: a tiny base config, and a real PostgreSQL server on loopback.

The server fixture skips only where the PostgreSQL binaries are absent and CI
is not set; on CI (env CI set) a missing server fails the test run, so the
distributed path is never silently untested there.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from phases.optimization.sweep.space import SearchSpace, parse_space
from tests.conftest import tiny_config
from workflow.progress import QuietProgress
from workflow.trainer.config import TrainConfig

REPO = Path(__file__).resolve().parents[3]


def tiny_base(epochs: int = 3) -> TrainConfig:
    return TrainConfig.model_validate(tiny_config(**{"training__epochs": epochs}))


def subprocess_env() -> dict[str, str]:
    """The environment of a child process: the repository importable, one thread each."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["OMP_NUM_THREADS"] = "1"
    return env


def _find(tool: str) -> str | None:
    found = shutil.which(tool)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database on a PostgreSQL server started for this test session, stopped after it."""
    initdb, pg_ctl = _find("initdb"), _find("pg_ctl")
    if initdb is None or pg_ctl is None:
        message = (
            "PostgreSQL server binaries (initdb, pg_ctl) not found; install Debian's "
            "postgresql package (scripts/test.sh does when they are missing)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and {message}")
        pytest.skip(message)
    # initdb refuses to run as root: run the server as the `postgres` user then
    as_user: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.fail("running as root, but runuser is missing to start PostgreSQL as postgres")
        as_user = [runuser, "-u", "postgres", "--"]
    # a short folder under /tmp: the server's unix socket path must stay under ~100 bytes
    root = Path(tempfile.mkdtemp(prefix="phasegate-pg-"))
    root.chmod(0o777)
    data, log = root / "data", root / "server.log"
    port = _free_port()

    def run(*command: str) -> None:
        done = subprocess.run([*as_user, *command], capture_output=True, text=True, cwd=root)
        if done.returncode != 0:
            server_log = log.read_text() if log.is_file() else ""
            pytest.fail(
                f"{' '.join(command[:2])} failed: {done.stderr.strip()}\n{server_log[-2000:]}"
            )

    started = False
    try:
        run(initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        run(pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "start",
            "-o", f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off")
        started = True
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=port, user="postgres",
                                      dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE sweeps")
        connection.close()
        yield f"postgresql://postgres@127.0.0.1:{port}/sweeps"
    finally:
        if started:
            subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True, cwd=root)
        shutil.rmtree(root, ignore_errors=True)


def small_space() -> SearchSpace:
    """Four knobs over the tiny config, one of them conditional."""
    return parse_space(
        {
            "optimizer.name": {"type": "categorical", "choices": ["sgd", "adam"]},
            "optimizer.lr": {"type": "float", "low": 1e-3, "high": 0.3, "log": True},
            "optimizer.momentum": {"type": "float", "low": 0.5, "high": 0.95,
                                   "when": {"optimizer.name": "sgd"}},
            "model.widths": {"type": "categorical", "choices": [[16], [32]]},
        },
        source="small_space",
    )


class RecordedProgress(QuietProgress):
    """A Progress that keeps what it was told: finished trials, steps, notes, trainings."""

    def __init__(self) -> None:
        self.trials: list[tuple[int, str, float | None]] = []
        self.steps: list[str] = []
        self.notes: list[str] = []
        self.trainings: list[str] = []
        self.seeds_done: list[int] = []

    def step(self, phase: str, text: str) -> None:
        self.steps.append(text)

    def training(self, label: str, seeds: object, done: object, epochs: int) -> None:
        self.trainings.append(label)

    def seed_done(self, seed: int, status: str, epochs: int) -> None:
        self.seeds_done.append(seed)

    def trial(self, number: int, state: str, value: float | None) -> None:
        self.trials.append((number, state, value))

    def note(self, text: str) -> None:
        self.notes.append(text)
