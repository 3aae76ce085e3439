"""Checks of the shipped checklists that no condition can say (`kind: python` items).

A condition on a fact that is not recorded cannot tell (pending); these checks
need "not recorded" to be the passing answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["test_split_untouched"]


def test_split_untouched(facts: dict[str, Any], run_dir: Path) -> tuple[bool, str]:
    """Passes while Phase 5 has recorded no look at the test split (reopen_phase4)."""
    phase5 = facts.get("phase5") or {}
    looks = phase5.get("test_evaluations") or 0
    if looks or phase5.get("test_lock"):
        return False, (f"the test split was evaluated ({looks} time(s)); Phase 4 cannot be "
                       "reopened once the test set has been seen")
    return True, "the test split was never evaluated"


test_split_untouched.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
