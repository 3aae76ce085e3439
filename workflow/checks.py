"""Checks of the shipped checklists that no condition can say (`kind: python` items).

A condition on a fact that is not recorded cannot tell (pending); these checks
need "not recorded" to be the passing answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workflow.facts import ExportFact
from workflow.io import sha256_file

__all__ = ["BUILTIN_FILES", "exported_files", "exported_names", "test_split_untouched"]

# the built-in trainer's export, checked where no export recorded its files (an earlier build)
BUILTIN_FILES = ("phase5/model/model.pt", "phase5/model/model_torchscript.pt")


def test_split_untouched(facts: dict[str, Any], run_dir: Path) -> tuple[bool, str]:
    """Passes while Phase 5 has recorded no look at the test split (reopen_phase4)."""
    phase5 = facts.get("phase5") or {}
    looks = phase5.get("test_evaluations") or 0
    if looks or phase5.get("test_lock"):
        return False, (f"the test split was evaluated ({looks} time(s)); Phase 4 cannot be "
                       "reopened once the test set has been seen")
    return True, "the test split was never evaluated"


test_split_untouched.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def exported_names(export: ExportFact | None) -> list[str]:
    """The exported files by their path in the run directory: those `export` recorded, or the
    built-in trainer's two where none were (an export recorded by an earlier phasegate)."""
    return sorted(export.files) if export is not None and export.files else list(BUILTIN_FILES)


def exported_files(facts: dict[str, Any], run_dir: Path) -> tuple[bool, str]:
    """The gate's check: every file `phase5.export` names is there, non-empty, as written."""
    given = (facts.get("phase5") or {}).get("export")
    export = ExportFact.model_validate(given) if given else None
    expected: dict[str, str | None] = dict.fromkeys(exported_names(export))
    if export is None or not export.files:  # recorded by an earlier phasegate, or not at all
        said = "no export files are recorded, so the built-in trainer's two"
    else:
        expected.update({name: file.sha256 for name, file in export.files.items()})
        said = f"the export ({', '.join(export.formats)}) wrote {len(expected)}"
    problems = []
    for name, digest in expected.items():
        path = run_dir / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif path.stat().st_size == 0:
            problems.append(f"{name} is empty")
        elif digest is not None and (found := sha256_file(path)) != digest:
            problems.append(f"{name} changed since the export wrote it (sha256 {digest[:12]} "
                            f"-> {found[:12]})")
    if problems:
        return False, (f"{'; '.join(problems)}: {said} file(s), and the promoted model must be "
                       "the one exported; restore it or finalize again")
    return True, f"{said} file(s), each present as written"
