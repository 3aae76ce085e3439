"""A diagnosis: the findings, the config table and the plan of one baseline's evidence.

Pure: no files, no store. `phase.run_diagnose` writes and records it;
`report.write_diagnosis` renders it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from phases.diagnostic.config_analysis import SettingRow, analyze_config, reconcile
from phases.diagnostic.evidence import Evidence
from phases.diagnostic.predict import Record
from phases.diagnostic.recommend import Plan, plan
from phases.diagnostic.rules import ConfigGaps, Finding, find_all, not_applicable

__all__ = ["Diagnosis", "diagnose"]


@dataclass(frozen=True)
class Diagnosis:
    evidence: Evidence
    findings: list[Finding]
    config_rows: list[SettingRow]
    plan: Plan
    # findings that could not be judged on this task, with why (a regression has no accuracy)
    not_applicable: dict[str, str] = field(default_factory=dict)


def diagnose(
    evidence: Evidence, *, preference: str = "auto", id_prefix: str = "R",
    record: Record | None = None,
) -> Diagnosis:
    """Findings, config table and plan of `evidence` (no files, no store); the
    recommendations are numbered `{id_prefix}1`, ... (recommend.plan).

    One verdict per setting: the config table takes the findings' verdicts
    (`config_analysis.reconcile`), and config_gaps is then read off that table.
    """
    findings = find_all(evidence)
    rows = reconcile(analyze_config(evidence.config, evidence), findings)
    gaps = ConfigGaps()
    kept = [f for f in findings if f.id != gaps.id]
    if any(f.id == gaps.id for f in findings):
        again = gaps.of_rows(rows)
        if again is not None:
            kept = find_all_sorted([*kept, again])
    return Diagnosis(
        evidence=evidence,
        findings=kept,
        config_rows=rows,
        plan=plan(kept, evidence, preference=preference, id_prefix=id_prefix, record=record),
        not_applicable=not_applicable(evidence),
    )


def find_all_sorted(findings: list[Finding]) -> list[Finding]:
    """`findings` in the report's order: by severity, then by the registry's order."""
    from phases.diagnostic.rules import RULES, SEVERITY_RANK

    order = {rule.id: i for i, rule in enumerate(RULES)}
    return sorted(findings, key=lambda f: (SEVERITY_RANK[f.severity], order[f.id]))
