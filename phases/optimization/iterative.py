"""Iterative optimization: after each attempt, diagnose its runs again and plan the next one.

A round is one attempt. Its runs are read by Phase 3's own analysis
(phases.diagnostic.phase: `evidence_for` and `diagnose`, the findings and the plan)
exactly as the baseline was, and the diagnosis is written to
`phase4/attempt-<k>/diagnosis/findings.json`; Phase 3's own files under `phase3/`
are never touched. The next round applies the next recommendations of the
diagnosis of the best arm so far (the newest runs when the round improved; the
earlier best when it did not), skipping what was already tried and what the base
config already has. A round of the iterative strategy applies the HIGH
recommendations (the top one when there are none); a continuation of the targeted
strategy applies the HIGH and MEDIUM ones (see targeted.select).

The diagnosis is deterministic given the runs and is cached: a rerun reads the
file instead of diagnosing again.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phases.optimization.targeted import Mode, select
from workflow.arms import Arm
from workflow.io import atomic_write_json, read_json
from workflow.own_config import RunConfig
from workflow.project import ProjectConfig

__all__ = ["DIAGNOSIS_DIR", "RoundDiagnosis", "next_recommendations", "rediagnose"]

DIAGNOSIS_DIR = "diagnosis"
FINDINGS_FILE = "findings.json"


@dataclass(frozen=True)
class RoundDiagnosis:
    """Phase 3's reading of one attempt's runs."""

    arm: str
    findings: list[dict[str, Any]]
    recommendations: list[dict[str, Any]]
    strategy: str
    strategy_reason: str
    potential: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "arm": self.arm,
            "findings": self.findings,
            "recommendations": self.recommendations,
            "strategy": self.strategy,
            "strategy_reason": self.strategy_reason,
            "potential": self.potential,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoundDiagnosis:
        return cls(
            arm=str(data["arm"]),
            findings=list(data["findings"]),
            recommendations=list(data["recommendations"]),
            strategy=str(data["strategy"]),
            strategy_reason=str(data["strategy_reason"]),
            potential=float(data["potential"]),
        )

    def summary(self) -> list[str]:
        """One line per root-cause finding: its title and its sentence."""
        return [
            f"{f['title']} ({f['severity']}): {f['text']}"
            for f in self.findings
            if f.get("root_cause", True)
        ]


def diagnosis_path(attempt_dir: Path) -> Path:
    return attempt_dir / DIAGNOSIS_DIR / FINDINGS_FILE


def rediagnose(arm: Arm, project: ProjectConfig, attempt_dir: Path) -> RoundDiagnosis:
    """Diagnose `arm`'s runs as Phase 3 diagnoses a baseline; cached in attempt_dir/diagnosis/."""
    path = diagnosis_path(attempt_dir)
    if path.is_file():
        return RoundDiagnosis.from_dict(read_json(path))
    from phases.diagnostic.evidence import SeedRun
    from phases.diagnostic.phase import diagnose, evidence_for

    runs = [SeedRun.from_result(result) for _, result in sorted(arm.results.items())]
    # ids unique within the project: attempt-2's diagnosis recommends A2-R1, A2-R2, ...
    attempt = attempt_dir.name.removeprefix("attempt-")
    found = diagnose(evidence_for(runs, arm.config, project, None), id_prefix=f"A{attempt}-R")
    planned = found.plan
    diagnosis = RoundDiagnosis(
        arm=arm.label,
        findings=[f.to_dict() for f in found.findings],
        recommendations=[r.to_dict() for r in planned.recommendations],
        strategy=planned.strategy,
        strategy_reason=planned.strategy_reason,
        potential=float(planned.potential),
    )
    atomic_write_json(path, diagnosis.to_dict())
    return diagnosis


def next_recommendations(
    recommendations: Sequence[Mapping[str, Any]],
    *,
    base: RunConfig,
    tried: Collection[str],
    mode: Mode,
) -> list[dict[str, Any]]:
    """The recommendations of the next round: untried, not already in `base`, by `mode`."""
    return select(recommendations, mode=mode, tried=tried, base=base)
