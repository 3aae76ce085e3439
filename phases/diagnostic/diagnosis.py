"""A diagnosis: the findings, the config table and the plan of one baseline's evidence.

Pure: no files, no store. `phase.run_diagnose` writes and records it;
`report.write_diagnosis` renders it.
"""

from __future__ import annotations

from dataclasses import dataclass

from phases.diagnostic.config_analysis import SettingRow, analyze_config
from phases.diagnostic.evidence import Evidence
from phases.diagnostic.recommend import Plan, plan
from phases.diagnostic.rules import Finding, find_all

__all__ = ["Diagnosis", "diagnose"]


@dataclass(frozen=True)
class Diagnosis:
    evidence: Evidence
    findings: list[Finding]
    config_rows: list[SettingRow]
    plan: Plan


def diagnose(evidence: Evidence, *, preference: str = "auto", id_prefix: str = "R") -> Diagnosis:
    """Findings, config table and plan of `evidence` (no files, no store); the
    recommendations are numbered `{id_prefix}1`, ... (recommend.plan)."""
    findings = find_all(evidence)
    return Diagnosis(
        evidence=evidence,
        findings=findings,
        config_rows=analyze_config(evidence.config, evidence),
        plan=plan(findings, evidence, preference=preference, id_prefix=id_prefix),
    )
