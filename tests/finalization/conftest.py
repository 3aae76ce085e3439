"""Fixtures for Phase 5: one finalized project per session, copied for each test that changes it."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from tests.finalization.helpers import copy_runs, skipped_project
from workflow.cli import main
from workflow.store import Store


@pytest.fixture(autouse=True)
def one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    # seeds train in this process: no spawned workers to start on a 2-core machine
    monkeypatch.setenv("PHASEGATE_WORKERS", "1")


@pytest.fixture(scope="session")
def finalized_with_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, str]:
    """A project skipped past Phase 4 and finalized by `phasegate finalize`, and its output."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PHASEGATE_WORKERS", "1")
        root = tmp_path_factory.mktemp("finalized")
        store = skipped_project(root / "proj", root / "runs")
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main(["finalize", store.name, "--runs", str(root / "runs"), "--by", "test"])
        assert code == 0, out.getvalue()
    return store, out.getvalue()


@pytest.fixture
def finalized(finalized_with_output: tuple[Store, str]) -> Store:
    """The finalized project (shared: do not change it)."""
    return finalized_with_output[0]


@pytest.fixture
def finalized_copy(finalized: Store, tmp_path: Path) -> Store:
    """A private copy of the finalized project."""
    runs = copy_runs(finalized.run_dir.parent, tmp_path / "runs")
    return Store.open(finalized.name, runs)
