"""Shared fixtures: tiny, fast training configs on the embedded default dataset."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest


def tiny_config(**overrides: Any) -> dict[str, Any]:
    """A config that trains on a few hundred digits for two epochs in well under a second."""
    config: dict[str, Any] = {
        "name": "tiny",
        "data": {"dataset": "digits", "max_samples": 300, "batch_size": 32},
        "model": {"name": "mlp", "widths": [32]},
        "optimizer": {"name": "adam", "lr": 0.01},
        "training": {"epochs": 2},
        "device": "cpu",
    }
    for dotted, value in overrides.items():
        node = config
        *parents, leaf = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return config


@pytest.fixture
def tiny() -> dict[str, Any]:
    return tiny_config()


def hold_lock(run_dir: Path) -> subprocess.Popen[str]:
    """A child process that takes the project's lock, says so, and sleeps holding it."""
    code = textwrap.dedent(f"""
        import time
        from workflow.store import Store
        with Store({str(run_dir)!r}).lock():
            print("locked", flush=True)
            time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "locked"
    return child
