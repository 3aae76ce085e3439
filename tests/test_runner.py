"""workflow.runner: how many worker processes a command uses."""

from __future__ import annotations

import pytest

from workflow.errors import UsageError
from workflow.runner import default_workers


# rule: PHASEGATE_WORKERS is taken as given when it is a whole number of at least 1; zero,
# a negative number or a word is bad input in one line, never silently one worker
def test_phasegate_workers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHASEGATE_WORKERS", "3")
    assert default_workers() == 3
    for bad in ("0", "-1", "two"):
        monkeypatch.setenv("PHASEGATE_WORKERS", bad)
        with pytest.raises(UsageError, match=f"PHASEGATE_WORKERS must be .* but got '{bad}'"):
            default_workers()
    monkeypatch.delenv("PHASEGATE_WORKERS")
    assert 1 <= default_workers() <= 4
