"""The registry of rules, checked when it is built, and `find_all`, which runs them.

`check_rules` refuses a registry in which two rules share an id, a rule has no
id or title, names an answer `ANSWERS` does not have (or offers answers without
naming them), is explained by a rule that is not registered (or by itself), or
where "explained by" goes round in a circle (each finding would be the other's
symptom). Every problem is named in one `ExtensionError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from phases.diagnostic.answers import ANSWERS, FALLBACK_ANSWERS
from phases.diagnostic.evidence import Evidence
from phases.diagnostic.rules._base import SEVERITY_RANK, Finding, Rule
from phases.diagnostic.rules._capacity import FrozenLayers, HeavyRegularization, TooLittleCapacity
from phases.diagnostic.rules._class_imbalance import ClassImbalance
from phases.diagnostic.rules._config_gaps import ConfigGaps
from phases.diagnostic.rules._convergence import NotConverged, SaturatedEarly
from phases.diagnostic.rules._early_stopping import EarlyStoppingEager, EarlyStoppingNeverFires
from phases.diagnostic.rules._fit import Overfitting, Underfitting
from phases.diagnostic.rules._input_scale import InputScale
from phases.diagnostic.rules._learning_rate import LrTooHigh, LrTooLow
from phases.diagnostic.rules._optimizer import AdamBetas, AdamL2Decay, SgdNoMomentum
from phases.diagnostic.rules._resources import ResourceWaste
from phases.diagnostic.rules._seed_noise import SeedNoise
from phases.diagnostic.rules._steps import FewSteps
from workflow.errors import ExtensionError

__all__ = ["RULES", "check_rules", "find_all", "not_applicable", "rule_for"]


def _problems(rules: Sequence[Rule]) -> list[str]:
    problems: list[str] = []
    ids: dict[str, Rule] = {}
    for rule in rules:
        name = type(rule).__name__
        rid = getattr(rule, "id", "")
        if not rid or not getattr(rule, "title", ""):
            problems.append(f"{name}: a rule needs an id and a title")
            continue
        if rid in ids:
            problems.append(f"{name}: id {rid!r} is already {type(ids[rid]).__name__}'s")
        ids[rid] = rule
        unknown = [a for a in rule.answers if a not in ANSWERS]
        if unknown:
            problems.append(f"{rid}: answers {unknown} are not in ANSWERS")
        if type(rule).answer is not Rule.answer and not rule.answers:
            problems.append(f"{rid}: answer() offers recommendations but `answers` names none")
    for rule in rules:
        rid = getattr(rule, "id", "")
        for cause in rule.explained_by:
            if cause == rid:
                problems.append(f"{rid}: explained_by names the rule itself")
            elif cause not in ids:
                problems.append(f"{rid}: explained_by names {cause!r}, which no rule has")
    problems += _cycles({rid: [c for c in r.explained_by if c in ids and c != rid]
                         for rid, r in ids.items()})
    unknown = [a for a in FALLBACK_ANSWERS if a not in ANSWERS]
    if unknown:
        problems.append(f"fallbacks: answers {unknown} are not in ANSWERS")
    return problems


def _cycles(edges: dict[str, list[str]]) -> list[str]:
    """One line per circle of "explained by" (a -> b -> a)."""
    found: list[str] = []
    done: set[str] = set()

    def walk(node: str, path: list[str]) -> None:
        if node in path:
            circle = path[path.index(node):] + [node]
            found.append("explained_by goes round in a circle: " + " -> ".join(circle))
            return
        if node in done:
            return
        for nxt in edges.get(node, []):
            walk(nxt, [*path, node])
        done.add(node)

    for node in edges:
        walk(node, [])
    return found


def check_rules(rules: Sequence[Rule]) -> tuple[Rule, ...]:
    """`rules` as the registry, or an `ExtensionError` naming every rule that does not fit."""
    problems = _problems(rules)
    if problems:
        raise ExtensionError("the Phase 3 rules do not fit together: " + "; ".join(problems))
    return tuple(rules)


# every rule, in the order findings are reported when severities tie
RULES: tuple[Rule, ...] = check_rules((
    LrTooHigh(),
    InputScale(),
    SgdNoMomentum(),
    AdamBetas(),
    FrozenLayers(),
    HeavyRegularization(),
    FewSteps(),
    TooLittleCapacity(),
    Overfitting(),
    Underfitting(),
    LrTooLow(),
    NotConverged(),
    SaturatedEarly(),
    EarlyStoppingEager(),
    EarlyStoppingNeverFires(),
    ClassImbalance(),
    SeedNoise(),
    ResourceWaste(),
    AdamL2Decay(),
    ConfigGaps(),
))
_BY_ID = {rule.id: rule for rule in RULES}


def rule_for(finding_id: str) -> Rule:
    """The registered rule of a finding's id."""
    try:
        return _BY_ID[finding_id]
    except KeyError:
        raise ExtensionError(
            f"no Phase 3 rule has the id {finding_id!r} (rules: {', '.join(_BY_ID)})"
        ) from None


def not_applicable(ev: Evidence, rules: Sequence[Rule] = RULES) -> dict[str, str]:
    """Each finding that cannot be judged on `ev`, with why (a regression has no accuracy)."""
    return {rule.id: why for rule in rules if (why := rule.not_applicable(ev)) is not None}


def find_all(ev: Evidence, rules: Sequence[Rule] = RULES) -> list[Finding]:
    """Every finding, symptoms marked, sorted by severity (then by the order of `rules`).

    A finding is a symptom of the first of its `explained_by` found at medium or high
    severity. A rule that is not applicable to `ev` (`Rule.not_applicable`) is not checked.
    """
    found = [finding for rule in rules
             if rule.not_applicable(ev) is None and (finding := rule.check(ev)) is not None]
    # a low-severity finding is a note, not a cause: it explains no other finding
    ids = {f.id for f in found if f.severity != "low"}
    by_id = {rule.id: rule for rule in rules}
    marked = []
    for finding in found:
        cause = next((c for c in by_id[finding.id].explained_by if c in ids), None)
        if cause is not None:
            finding = replace(finding, root_cause=False, explained_by=cause)
        marked.append(finding)
    order = {f.id: i for i, f in enumerate(marked)}
    return sorted(marked, key=lambda f: (SEVERITY_RANK[f.severity], order[f.id]))
