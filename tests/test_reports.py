"""workflow.reports: strict rendering, project templates first, and the JSON twin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workflow.errors import WorkflowError
from workflow.reports import render, write_report


# rule: a value the template names but the context lacks is an error naming both, not a blank
def test_missing_value_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "r.md.j2").write_text("gain: {{ gain }}\n")
    with pytest.raises(WorkflowError, match=r"template 'r.md.j2': 'gain' is undefined"):
        render("r.md.j2", {}, tmp_path)
    assert render("r.md.j2", {"gain": 0.02}, tmp_path) == "gain: 0.02\n"


# rule: a project's own template is found before the shipped one of the same name
def test_project_templates_come_first(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "checklist.md.j2").write_text("mine: {{ gate }}\n")
    assert render("checklist.md.j2", {"gate": "g"}, tmp_path) == "mine: g\n"
    with pytest.raises(WorkflowError, match="template 'nope.j2' not found"):
        render("nope.j2", {})


# rule: a report is written with its JSON twin (same stem), and a failed render writes neither
def test_write_report_and_twin(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "r.md.j2").write_text("# {{ title }}\n")
    path = write_report(tmp_path / "out" / "r.md", "r.md.j2", {"title": "T"}, project_dir=tmp_path)
    assert path.read_text() == "# T\n"
    assert json.loads((tmp_path / "out" / "r.json").read_text()) == {"title": "T"}
    with pytest.raises(WorkflowError):
        write_report(tmp_path / "out" / "s.md", "r.md.j2", {}, project_dir=tmp_path)
    assert not (tmp_path / "out" / "s.md").exists() and not (tmp_path / "out" / "s.json").exists()
