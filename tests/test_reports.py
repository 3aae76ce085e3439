"""workflow.reports: strict rendering, project templates first, and the JSON twin."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from workflow.errors import ConfigError, WorkflowError
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


# -- the trust model: a project's template is data, rendered in a sandbox (issue 17) ------------

INJECTION = "{{ cycler.__init__.__globals__.os.system('touch %s') }}\n"


# rule: a template that reaches for Python internals is refused in one line; nothing runs
def test_template_injection_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "r.md.j2").write_text(INJECTION % marker)
    with pytest.raises(ConfigError, match=r"r.md.j2: refused: .*unsafe.*sandbox") as info:
        render("r.md.j2", {}, tmp_path)
    assert "\n" not in str(info.value)
    assert not marker.exists()


# rule: the sandbox refuses values too large to hold, and a template's own errors name its line
@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{{ 'x' * 10**10 }}", "too large"),
        ("{{ 2 ** 100000 }}", "too large"),
        ("a\n{{ 1 / 0 }}", r"r.md.j2: line 2: ZeroDivisionError"),
        ("{{ {}.update(a=1) }}", "refused"),
        ("{% include 'r.md.j2' %}", "recurses without end"),
        ("{{ range(10**9) | list }}", "refused|OverflowError|range"),
    ],
)
def test_a_templates_own_faults_are_one_line(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "r.md.j2").write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        render("r.md.j2", {}, tmp_path)
    assert "\n" not in str(info.value)


# rule: a template is read as a regular file: a FIFO or a link to a device is passed over (it is
# not a template), never waited on or read without end
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_template_that_is_not_a_file_is_refused(tmp_path: Path, kind: str) -> None:
    (tmp_path / "templates").mkdir()
    path = tmp_path / "templates" / "r.md.j2"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    with pytest.raises(ConfigError, match=r"'r.md.j2' not found|not a regular file"):
        render("r.md.j2", {}, tmp_path)


# rule: `phasegate gate check`, a read-only command, runs nothing a project's template asks for
def test_gate_check_refuses_an_injected_checklist_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from workflow.cli import main
    from workflow.store import RUNS_ENV

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(RUNS_ENV, raising=False)
    proj = tmp_path / "proj"
    (proj / "templates").mkdir(parents=True)
    (proj / "baseline.yaml").write_text("name: b\n")
    (proj / "project.yaml").write_text("name: x\nbaseline: baseline.yaml\n")
    marker = tmp_path / "pwned"
    (proj / "templates" / "checklist.md.j2").write_text(INJECTION % marker)
    assert main(["init", "demo", "--config", "proj/project.yaml"]) == 0
    capsys.readouterr()
    code = main(["gate", "check", "diagnostics_complete", "--project", "demo"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "refused" in err and "Traceback" not in err
    assert not marker.exists()
