"""workflow.facts paths: every fact a checklist or the phase graph names is a field of a model.

A renamed or misspelt fact used to leave its gate item pending forever, silently.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow.conditions import Condition
from workflow.errors import ConfigError
from workflow.facts import (
    checklist_paths,
    checklist_problems,
    condition_paths,
    graph_problems,
    path_problem,
)
from workflow.gates import Checklist, load_checklist, shipped_checklist_ids
from workflow.io import load_model
from workflow.machine import TRANSITIONS, Transition

# every path the shipped checklists name, in items' checks and `when`s, any_of/all_of nested
SHIPPED_PATHS = {
    "diagnostics_complete": [
        "baseline.completed", "baseline.seeds", "baseline.{metric}.mean",
        "baseline.{metric}.std", "phase3.findings_count", "phase3.strategy", "phase3.potential",
        "phase3.recommendations_count", "phase3.strategy",
    ],
    "finalization_complete": [
        "phase5.final_training_completed", "phase5.test_evaluations", "phase5.test.task",
        "phase5.mcnemar.p_value", "phase5.paired.p_value", "phase5.completed",
        "project.direction",
        "phase5.final.{metric}.mean", "project.goal",
    ],
    "optimization_complete": [
        "phase3.strategy", "phase4.training_completed", "phase4.comparison.verdict",
        "phase4.comparison.p_value", "phase4.comparison.ci_high", "phase4.comparison.ci_low",
        "phase4.comparison.mean_diff", "phase4.decision", "phase4.comparison",
        "phase4.target_met", "project.min_effect", "phase4.seeds",
    ],
    "reopen_phase4": ["phase4.decision"],
}


# rule: every fact path of every shipped checklist names a field of the facts models
def test_shipped_checklists_name_only_model_fields() -> None:
    checklists = {gate: load_checklist(gate) for gate in shipped_checklist_ids()}
    paths = {gate: list(dict.fromkeys(p for _, p in checklist_paths(c)))
             for gate, c in checklists.items()}
    assert paths == {gate: list(dict.fromkeys(p)) for gate, p in SHIPPED_PATHS.items()}
    assert {gate: checklist_problems(c) for gate, c in checklists.items()} == {
        gate: [] for gate in SHIPPED_PATHS
    }


# rule: every `when` of the phase graph names a field of the facts models
def test_phase_graph_names_only_model_fields() -> None:
    paths = {t.name: condition_paths(t.when) for t in TRANSITIONS if t.when is not None}
    assert set().union(*paths.values()) == {
        "baseline.completed", "phase3.strategy", "phase4.decision", "phase5.completed"
    }
    assert graph_problems(TRANSITIONS) == []


TYPO = """
title: Typo
items:
  - id: decided
    text: A decision is recorded
    check: {kind: metric, fact: phase4.decison, op: exists}
  - id: nested
    text: Nested and compared with another fact
    when: {any_of: [{fact: phase3.strategy, value: sweep}, {fact: phase3.stratgy, value: x}]}
    check:
      kind: metric
      all_of:
        - {fact: "baseline.{metric}.mean", op: ">=", other: "baseline.{metric}.meen"}
        - {fact: phase5.completed, value: true}
  - id: verdict
    text: Significant
    check: {kind: significant, fact: phase4.comparisons}
"""


# rule: a checklist naming a fact that no model has is reported, item by item, every path
def test_checker_reports_a_fact_no_model_has(tmp_path: Path) -> None:
    path = tmp_path / "checklists" / "typo.yaml"
    path.parent.mkdir()
    path.write_text(TYPO)
    problems = checklist_problems(load_model(path, Checklist))
    assert [line.split(" has no ")[0] for line in problems] == [
        "item decided: phase4.decison: phase4",
        "item nested: phase3.stratgy: phase3",
        "item nested: baseline.{metric}.meen: baseline.{metric}",
        "item verdict: phase4.comparisons: phase4",
    ]
    assert problems[0].startswith(
        "item decided: phase4.decison: phase4 has no 'decison' (it has: strategy, attempts, "
    ) and "decision" in problems[0]
    assert problems[2] == ("item nested: baseline.{metric}.meen: baseline.{metric} has no 'meen' "
                           "(it has: n, mean, std, min, max, values)")


# rule: a project's own checklist naming an unknown fact is a ConfigError when it is loaded
def test_loading_a_checklist_with_an_unknown_fact_fails(tmp_path: Path) -> None:
    path = tmp_path / "checklists" / "typo.yaml"
    path.parent.mkdir()
    path.write_text(TYPO)
    with pytest.raises(ConfigError) as info:
        load_checklist("typo", tmp_path)
    message = str(info.value)
    assert message.startswith(f"{path}: names facts that no facts model has: item decided: "
                              "phase4.decison: phase4 has no 'decison'")
    assert "\n" not in message and "phase4.comparisons" in message


# rule: a graph `when` naming an unknown fact is reported with its transition
def test_checker_reports_a_graph_when_no_model_has() -> None:
    moves = [
        Transition("go", "a", "b", when=Condition(fact="phase4.decision", value="A")),
        Transition("odd", "a", "c", when=Condition(fact="phase4.decisoin", value="A")),
    ]
    assert [p.split(" (it has")[0] for p in graph_problems(moves)] == [
        "transition odd: phase4.decisoin: phase4 has no 'decisoin'"
    ]


# rule: `{metric}` and literal metric names go where a model is keyed by metric, nowhere else
@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("baseline.{metric}.mean", None),
        ("baseline.val_loss.std", None),
        ("phase4.best.{metric}.mean", None),
        ("phase5.final.{metric}.values", None),
        ("phase5.export.formats", None),
        ("phase5.export.manifest.torchscript_method", None),  # what export returned: open
        ("phase5.export.files.x.sha256", None),  # keyed by file
        ("phase5.export.torchscript_method", "phase5.export.torchscript_method: phase5.export "
                                             "has no 'torchscript_method' (it has: method, "
                                             "formats, files, "),
        ("project.min_effect", None),
        ("phase3.{metric}", "phase3.{metric}: phase3 is not keyed by metric name (it has: "),
        ("baseline.seeds.n", "baseline.seeds.n: baseline.seeds has no 'n'"),
        ("phase9.done", "phase9.done: facts has no 'phase9' (it has: project, baseline, phase3, "
                        "phase4, phase5, moves, signoffs)"),
        ("phase5.mcnemar.p", "phase5.mcnemar.p: phase5.mcnemar has no 'p' (it has: n, "),
    ],
)
def test_path_problem(path: str, problem: str | None) -> None:
    found = path_problem(path)
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem), found
