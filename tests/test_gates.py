"""workflow.gates: checklist files, the check kinds, their reasons, staleness, and the report."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from workflow.errors import ConfigError, PluginError, UsageError
from workflow.gates import (
    GateResult,
    check_gate,
    checklist_ids,
    find_item,
    load_checklist,
    shipped_checklist_ids,
    write_gate_results,
)
from workflow.project import load_project
from workflow.store import GateRecord, Store

SHIPPED = ["diagnostics_complete", "finalization_complete", "optimization_complete",
           "reopen_phase4"]


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "checklists").mkdir(parents=True)
    (folder / "baseline.yaml").write_text("name: b\n")
    (folder / "p.yaml").write_text("name: demo\nbaseline: baseline.yaml\n")
    return folder


@pytest.fixture
def store(tmp_path: Path, project_dir: Path) -> Store:
    config = load_project(project_dir / "p.yaml")
    return Store.create(config, tmp_path / "runs", start="baseline", project_dir=project_dir,
                        who="t")


def _items(result: GateResult) -> dict[str, tuple[str, str]]:
    return {i.id: (i.status, i.reason) for i in result.items}


def _checklist(project_dir: Path, name: str, text: str) -> Path:
    path = project_dir / "checklists" / f"{name}.yaml"
    path.write_text(text)
    return path


# rule: the three shipped checklists are valid and carry the disciplined workflow's items
def test_shipped_checklists() -> None:
    assert shipped_checklist_ids() == SHIPPED
    ids = {gate: [i.id for i in load_checklist(gate).items] for gate in SHIPPED}
    assert {"baseline_seeds", "recommendations", "diagnostic_report"} <= set(
        ids["diagnostics_complete"]
    )
    assert {
        "optimization_config", "training_completed", "results_report", "comparison_recorded",
        "improvement_significant", "improvement_large_enough", "reproduces_across_seeds",
        "best_checkpoint", "last_checkpoint", "decision_recorded",
    } == set(ids["optimization_complete"])
    final = load_checklist("finalization_complete")
    assert find_item(final, "finalization_complete", "model_card_reviewed").check.kind == "manual"


# rule: a malformed checklist is one line naming the file, the field and what is allowed
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("title: T\nitems:\n  - {id: a, text: A, check: {kind: metric, fact: x, opp: '=='}}\n",
         r"items\.0\.check\.metric\.opp: unknown field \(allowed: fact, op, value, other"),
        ("title: T\nitems:\n  - {id: a, text: A, check: {kind: magic}}\n",
         r"items\.0\.check: .*'artifact', 'metric', 'significant', 'manual', 'python'"),
        ("title: T\nitems:\n  - {id: a, text: A, check: {kind: artifact, path: ../x}}\n",
         r"items\.0\.check\.artifact\.path: .*inside the run directory"),
        ("title: T\nitems:\n  - {id: a, text: A, check: {kind: manual}}\n"
         "  - {id: a, text: B, check: {kind: manual}}\n", r"items: .*unique.*\['a'\]"),
        ("title: T\ndescripton: x\nitems:\n  - {id: a, text: A, check: {kind: manual}}\n",
         r"descripton: unknown field \(allowed: title, description, extends, items\)$"),
    ],
)
def test_malformed_checklist(project_dir: Path, text: str, expected: str) -> None:
    path = _checklist(project_dir, "mine", text)
    with pytest.raises(ConfigError) as info:
        load_checklist("mine", project_dir)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert re.search(expected, message), message


# rule: an unknown gate or item lists the ids that exist
def test_unknown_gate_and_item(project_dir: Path) -> None:
    _checklist(project_dir, "extra_gate", "title: X\nitems:\n  - {id: a, text: A, "
               "check: {kind: manual}}\n")
    with pytest.raises(UsageError, match=r"unknown gate 'nope'; gates that exist: "
                       r"diagnostics_complete, extra_gate, finalization_complete"):
        load_checklist("nope", project_dir)
    with pytest.raises(UsageError, match=r"unknown gate '\.\./x'"):
        load_checklist("../x", project_dir)
    checklist = load_checklist("finalization_complete")
    with pytest.raises(UsageError, match=r"no item 'nope'; its items: final_training_completed"):
        find_item(checklist, "finalization_complete", "nope")


# rule: a project checklist with `extends: true` appends items; without it, it replaces
def test_project_checklists_extend_or_replace(project_dir: Path) -> None:
    extra = ("  - {id: large_test, text: The test set is large enough, "
             "check: {kind: metric, fact: phase5.test.n, op: '>=', value: 1000}}\n")
    _checklist(project_dir, "finalization_complete", f"title: Mine\nextends: true\nitems:\n{extra}")
    merged = load_checklist("finalization_complete", project_dir)
    assert [i.id for i in merged.items][-3:] == ["model_card_reviewed", "goal_waiver", "large_test"]
    assert merged.title == "Finalization complete"
    _checklist(project_dir, "finalization_complete", f"title: Mine\nitems:\n{extra}")
    replaced = load_checklist("finalization_complete", project_dir)
    assert [i.id for i in replaced.items] == ["large_test"]
    _checklist(project_dir, "brand_new", f"title: New\nextends: true\nitems:\n{extra}")
    with pytest.raises(ConfigError, match="no shipped checklist 'brand_new' to extend"):
        load_checklist("brand_new", project_dir)
    clash = "  - {id: model_saved, text: X, check: {kind: manual}}\n"
    _checklist(project_dir, "finalization_complete", f"title: M\nextends: true\nitems:\n{clash}")
    with pytest.raises(ConfigError, match=r"ids \['model_saved'\] already exist"):
        load_checklist("finalization_complete", project_dir)
    assert "brand_new" in checklist_ids(project_dir)


# rule: an artifact is pending while missing, fails when empty, passes with its sha256
def test_artifact_check(store: Store) -> None:
    _checklist(store.project_dir or Path(), "art", "title: A\nitems:\n"
               "  - {id: report, text: R, check: {kind: artifact, path: out/r.md}}\n")
    assert _items(check_gate(store, "art"))["report"] == ("pending", "out/r.md does not exist yet")
    (store.run_dir / "out").mkdir()
    (store.run_dir / "out" / "r.md").write_text("")
    assert _items(check_gate(store, "art"))["report"] == ("fail", "out/r.md is empty")
    (store.run_dir / "out" / "r.md").write_text("hello\n")
    result = check_gate(store, "art")
    assert result.passed and result.items[0].reason.startswith("out/r.md exists (6 bytes, sha256 ")
    assert len(result.artifacts["out/r.md"]) == 64


# rule: once a gate passed, a changed or removed artifact makes it stale (fails, naming the file)
def test_changed_artifact_makes_the_gate_stale(store: Store) -> None:
    _checklist(store.project_dir or Path(), "art", "title: A\nitems:\n"
               "  - {id: report, text: R, check: {kind: artifact, path: r.md}}\n")
    (store.run_dir / "r.md").write_text("v1\n")
    passed = check_gate(store, "art")
    state = store.load_state()
    record = GateRecord(passed_at="then", transition="x", by="t", artifacts=passed.artifacts)
    store.save_state(state.model_copy(update={"gates": {"art": record}}))
    assert check_gate(store, "art").passed
    (store.run_dir / "r.md").write_text("v2\n")
    stale = check_gate(store, "art")
    assert stale.status == "stale" and not stale.passed
    assert "r.md changed after the gate passed at then" in stale.items[0].reason
    (store.run_dir / "r.md").unlink()
    assert "r.md was removed after the gate passed" in check_gate(store, "art").items[0].reason


# rule: `significant` reads a recorded comparison's verdict and shows its p and interval
def test_significant_check(store: Store) -> None:
    _checklist(store.project_dir or Path(), "sig", "title: S\nitems:\n"
               "  - {id: better, text: B, check: {kind: significant, fact: phase4.comparison}}\n")
    assert _items(check_gate(store, "sig"))["better"][0] == "pending"
    comparison = {"verdict": "not_significant", "p_value": 0.21, "ci_low": -0.01, "ci_high": 0.02}
    store.record("phase4", {"comparison": comparison})
    status, reason = _items(check_gate(store, "sig"))["better"]
    assert status == "fail"
    assert reason == ("phase4.comparison.verdict = 'not_significant' (p = 0.21, 95% CI "
                      "[-0.01, 0.02]) == 'significant'")
    store.record("phase4", {"comparison": {**comparison, "verdict": "significant"}})
    assert _items(check_gate(store, "sig"))["better"][0] == "pass"


# rule: a manual item is pending until a person signs it, then names who and when
def test_manual_check(store: Store) -> None:
    items = _items(check_gate(store, "finalization_complete"))
    assert items["model_card_reviewed"] == (
        "pending", "waiting for phase5/finalization_report.md to exist, then for a person to "
        "read it and sign: phasegate gate sign demo finalization_complete model_card_reviewed "
        "--by NAME"
    )
    _card(store)
    assert _items(check_gate(store, "finalization_complete"))["model_card_reviewed"] == (
        "pending", "waiting for a sign-off: phasegate gate sign demo finalization_complete "
        "model_card_reviewed --by NAME"
    )
    store.sign("finalization_complete", "model_card_reviewed", who="Ada", note="read it")
    status, reason = _items(check_gate(store, "finalization_complete"))["model_card_reviewed"]
    assert status == "pass" and reason.startswith("signed by Ada at ") and "read it" in reason


PLUGIN = '''
def ok(facts, run_dir):
    n = facts["phase3"]["findings_count"]
    return n > 1, f"n is {n}"
def boom(facts, run_dir):
    raise RuntimeError("disk on fire")
def vague(facts, run_dir):
    return "yes"
def wrong(facts):
    return True, ""
'''


# rule: a `python` check runs module:function(facts, run_dir); its failures fail the item
def test_python_check(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_checks.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    lines = "".join(
        f"  - {{id: {name}, text: T, check: {{kind: python, function: 'my_checks:{name}'}}}}\n"
        for name in ("ok", "boom", "vague")
    )
    _checklist(store.project_dir or Path(), "py", f"title: P\nitems:\n{lines}")
    store.record("phase3", {"findings_count": 2})
    items = _items(check_gate(store, "py"))
    assert items == {
        "ok": ("pass", "my_checks:ok: n is 2"),
        "boom": ("fail", "my_checks:boom raised RuntimeError: disk on fire"),
        "vague": ("fail", "my_checks:vague returned 'yes', expected (bool, reason)"),
    }


# rule: a `python` check that cannot load, or does not take (facts, run_dir), is a PluginError
# when its checklist is loaded (one line naming the file and the item), not a failing item later
@pytest.mark.parametrize(
    ("function", "error"),
    [
        ("my_checks:wrong", r"check wrong 'my_checks:wrong' takes \(facts\) but must take "
                            r"\(facts, run_dir\)$"),
        ("no_such_mod:f", r"check wrong 'no_such_mod:f': cannot import 'no_such_mod'"),
        ("my_checks:absent", r"check wrong 'my_checks:absent': 'my_checks' has no attribute "
                             r"'absent'$"),
    ],
)
def test_python_check_is_loaded_with_its_checklist(
    project_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, function: str, error: str
) -> None:
    (tmp_path / "my_checks.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    items = [("fine", "my_checks:ok"), ("wrong", function)]
    lines = "".join(f"  - {{id: {i}, text: T, check: {{kind: python, function: '{f}'}}}}\n"
                    for i, f in items)
    path = _checklist(project_dir, "py", f"title: P\nitems:\n{lines}")
    with pytest.raises(PluginError) as info:
        load_checklist("py", project_dir)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert re.search(error, message), message


DIAGNOSED = {
    "baseline": {"completed": True, "seeds": 5, "val_accuracy": {"mean": 0.92, "std": 0.01}},
    "phase3": {"findings_count": 2, "strategy": "targeted", "potential": 4.0,
               "recommendations_count": 4},
}
COMPARISON: dict[str, Any] = {
    "verdict": "significant", "p_value": 0.004, "ci_low": 0.012, "ci_high": 0.04,
    "mean_diff": 0.025,
}
PHASE4: dict[str, Any] = {
    "training_completed": True, "seeds": 5, "decision": "A", "target_met": False,
    "comparison": COMPARISON,
}


def _files(store: Store, *paths: str) -> None:
    for rel in paths:
        (store.run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (store.run_dir / rel).write_text(f"{rel}\n")


# rule: a complete diagnosis passes diagnostics_complete; 6 recommendations do not
def test_diagnostics_complete(store: Store) -> None:
    for prefix, facts in DIAGNOSED.items():
        store.record(prefix, facts)
    _files(store, "phase3/diagnostic_report.md", "phase3/findings.json",
           "phase3/optimization_config.preview.yaml")
    result = check_gate(store, "diagnostics_complete")
    assert result.passed, result.failing
    assert _items(result)["skip_justified"][0] == "skipped"
    store.record("phase3", {"recommendations_count": 6})
    assert _items(check_gate(store, "diagnostics_complete"))["recommendations"] == (
        "fail", "phase3.recommendations_count = 6 <= 5"
    )


# rule: a skip needs a potential under 3 points, and then needs no config preview
def test_skip_is_justified_by_low_potential(store: Store) -> None:
    for prefix, facts in DIAGNOSED.items():
        store.record(prefix, facts)
    store.record("phase3", {"strategy": "skip", "potential": 4.0})
    _files(store, "phase3/diagnostic_report.md", "phase3/findings.json")
    items = _items(check_gate(store, "diagnostics_complete"))
    assert items["skip_justified"] == ("fail", "phase3.potential = 4 < 3")
    assert items["config_preview"][0] == "skipped" and items["recommendations"][0] == "skipped"
    store.record("phase3", {"potential": 1.5})
    assert check_gate(store, "diagnostics_complete").passed


# rule: after a skip, no Phase 4 item applies; after D the improvement items do not apply
def test_optimization_complete_after_skip_and_ceiling(store: Store) -> None:
    store.record("phase3", {"strategy": "skip"})
    skipped = check_gate(store, "optimization_complete")
    assert skipped.passed and {i.status for i in skipped.items} == {"skipped"}
    store.record("phase3", {"strategy": "targeted"})
    store.record("phase4", {**PHASE4, "decision": "D", "comparison": {
        **COMPARISON, "verdict": "not_significant", "mean_diff": 0.001}})
    _files(store, "phase4/optimization_config.yaml", "phase4/optimization_results.md",
           "phase4/checkpoints/optimized/best_model_optimized.pt",
           "phase4/checkpoints/optimized/last_model_optimized.pt")
    ceiling = check_gate(store, "optimization_complete")
    assert ceiling.passed, ceiling.failing
    assert _items(ceiling)["improvement_significant"][0] == "skipped"


# rule: decision A needs significance and (the target met or at least the minimum effect)
def test_optimization_complete_improvement(store: Store) -> None:
    store.record("phase3", {"strategy": "targeted"})
    store.record("phase4", {**PHASE4, "comparison": {**COMPARISON, "mean_diff": 0.004}})
    _files(store, "phase4/optimization_config.yaml", "phase4/optimization_results.md",
           "phase4/checkpoints/optimized/best_model_optimized.pt",
           "phase4/checkpoints/optimized/last_model_optimized.pt")
    items = _items(check_gate(store, "optimization_complete"))
    assert items["improvement_large_enough"] == (
        "fail", "phase4.target_met = false == true or phase4.comparison.mean_diff = 0.004 >= "
        "project.min_effect = 0.01"
    )
    store.record("phase4", {"target_met": True})
    assert check_gate(store, "optimization_complete").passed


def _card(store: Store) -> Path:
    """The model card, as Phase 5 writes it (phase5/finalization_report.md)."""
    card = store.run_dir / "phase5" / "finalization_report.md"
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text("# Model card\n")
    return card


# rule: results render to checklists/<gate>.md (a checklist to read) and its .json twin
def test_write_gate_results(store: Store) -> None:
    _card(store)
    store.sign("finalization_complete", "model_card_reviewed", who="Ada")
    result = check_gate(store, "finalization_complete")
    path = write_gate_results(store, result)
    assert path == store.run_dir / "checklists" / "finalization_complete.md"
    text = path.read_text()
    assert text.startswith("# Finalization complete\n")
    assert "**pending**, 2 of 9 items pass" in text
    assert ("- [x] A person read the model card (the sign-off covers its sha256; an edit voids "
            "it) (`model_card_reviewed`, pass): signed by Ada") in text
    assert "- [ ] The test set was evaluated exactly once (`test_evaluated_once`, pending): " \
           "phase5.test_evaluations is not recorded" in text
    twin = json.loads(path.with_suffix(".json").read_text())
    assert twin["status"] == "pending" and twin["passed"] == 2 and len(twin["items"]) == 9


# rule (issue 17): a read-only command does not run a project's code: `status` checks a
# python check by name only (pending, naming the command that runs it); `gate check` runs it
def test_status_does_not_import_a_projects_python_check(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from workflow.cli import main

    marker = tmp_path / "imported"
    (tmp_path / "marker_checks.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "def ok(facts, run_dir):\n    return True, 'fine'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    _checklist(store.project_dir or Path(), "py",
               "title: P\nitems:\n"
               "  - {id: mine, text: T, check: {kind: python, function: 'marker_checks:ok'}}\n")
    runs = str(store.run_dir.parent)
    assert main(["status", store.name, "--json", "--runs", runs]) == 0
    status = json.loads(capsys.readouterr().out)
    assert not marker.exists()
    item = next(i for i in status["gates"]["py"]["items"] if i["id"] == "mine")
    assert item["status"] == "pending"
    assert f"phasegate gate check {store.name} py` runs it" in item["reason"]
    assert main(["gate", "check", store.name, "py", "--runs", runs]) == 0
    assert marker.exists()
