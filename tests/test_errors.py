"""workflow.errors: phasegate raises a specific error class, so the exit code follows its type."""

from __future__ import annotations

import re
from pathlib import Path

from workflow import errors
from workflow.errors import EXIT_BAD_INPUT, EXIT_BUSY, EXIT_REFUSED, WorkflowError

ROOT = Path(__file__).resolve().parent.parent
RAISE_ROOT = re.compile(r"\braise\s+WorkflowError\(")


# rule: nothing under workflow/ or phases/ raises the root WorkflowError itself: its exit code
# (2, bad input) is wrong for refusals and failed work, so each raise names its class
def test_no_raise_of_the_root_error() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("workflow", "phases")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if RAISE_ROOT.search(line)
    ]
    assert found == []


# rule: every error class derives from the root and carries the exit code its kind means
def test_exit_codes() -> None:
    classes = {
        name: cls for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, WorkflowError) and cls is not WorkflowError
    }
    codes = {name: cls.exit_code for name, cls in sorted(classes.items())}
    refused = {"GateFailed", "Refused", "RunFailed", "TestSetLocked", "WorkFailed", "WrongState"}
    busy = {"LockHeld"}  # another command holds the project: its own code, not bad input
    assert codes == {
        name: EXIT_REFUSED if name in refused else EXIT_BUSY if name in busy else EXIT_BAD_INPUT
        for name in sorted(classes)
    }
