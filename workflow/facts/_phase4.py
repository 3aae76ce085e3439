"""Phase 4's facts (`phase4.*` in facts.json) and its attempt record.

Phase 4 writes these through the models (`.model_dump(mode="json")`) and every
reader (phase 4's loop, its results report, Phase 5's report) reads them back
through them, so a renamed or mistyped field fails where it is written, not as
a gate item pending forever. Every field has a default: facts accumulate, and
Phase 4 records a few at a time (entering, opening an attempt, deciding).

Open data stays open: a trained config dump, a changed value, a recommendation's
changes and the sweep's report section are `Any`; everything with a fixed shape
is a model.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from workflow.facts._base import ByMetric, FactsModel, MetricSummary

__all__ = [
    "ArmRef",
    "AttemptRecommendation",
    "AttemptRecord",
    "BestArm",
    "ComparisonRecord",
    "ConfigChange",
    "DecisionValue",
    "DiagnosisFinding",
    "DiagnosisRecommendation",
    "DiagnosisSummary",
    "EvidenceRecord",
    "KeptComparison",
    "Phase4Facts",
]

DecisionValue = Literal["A", "B", "C", "D", "budget"]


class BesideRecord(FactsModel):
    """workflow.stats.TTest: the other test on the same values (Welch when paired decides)."""

    test: str | None = None
    t_statistic: float | None = None
    df: float | None = None
    p_value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_below: float | None = None


class ComparisonRecord(FactsModel):
    """A seed comparison as workflow.stats.Comparison.to_dict writes it (None: undefined)."""

    verdict: str | None = None
    significant: bool = False
    reason: str = ""
    higher_is_better: bool = True
    alpha: float | None = None
    family: int | None = None  # comparisons sharing alpha (Bonferroni)
    test_alpha: float | None = None  # alpha / family: the level this comparison was tested at
    min_effect: float | None = None
    p_below: float | None = None  # one-sided p of "the gain is at least min_effect"
    below_min_effect: bool = False
    mean_diff: float | None = None
    test: str | None = None  # the deciding test: "paired t" or "Welch" (None: before issue 11)
    p_value: float | None = None
    p_adjusted: float | None = None
    correction: str | None = None
    t_statistic: float | None = None
    df: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    confidence_level: float | None = None
    hedges_g: float | None = None
    u_statistic: float | None = None
    mw_p_value: float | None = None
    p_improvement: float | None = None
    naive_rule: bool | None = None
    beside: BesideRecord | None = None  # the other test, never deciding
    correlation: float | None = None  # same-seed Pearson r (paired arms only)
    n_resamples: int | None = None  # run directories from before the Welch interval
    seed: int | None = None
    baseline: MetricSummary | None = None
    candidate: MetricSummary | None = None


class KeptComparison(ComparisonRecord):
    """`phase4.comparison`: the kept arm (or, when none was kept, the latest) against the
    baseline; what optimization_complete checks."""

    arm: str | None = None  # the arm compared
    against: str | None = None  # always "baseline"


class AttemptRecommendation(FactsModel):
    """A recommendation an attempt applied (targeted.normalize_recommendation's fields)."""

    id: str
    title: str | None = None
    priority: str | None = None
    finding: str | None = None
    expected_gain: list[float] = Field(default_factory=lambda: [0.0, 0.0])
    changes: dict[str, Any] = Field(default_factory=dict)
    rationale: str | None = None


class ConfigChange(FactsModel):
    """One setting the attempt changes from its base (workflow.trainer.commented.config_diff)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True,
        serialize_by_alias=True,
    )

    path: str
    from_: str = Field(alias="from")
    to: str


class ArmRef(FactsModel):
    """Where an attempt's arm lives: its label, folder (relative to the run dir) and seeds."""

    label: str
    root: str
    seeds: list[int] = Field(default_factory=list)


class EvidenceRecord(FactsModel):
    """What the decision read of one attempt (decision.Evidence)."""

    attempt: int
    significant: bool
    gain_points: float | None = None
    verdict_reason: str = ""
    below_min_effect: bool = False


class DiagnosisFinding(FactsModel):
    id: str
    title: str
    severity: str
    text: str
    root_cause: bool = True


class DiagnosisRecommendation(FactsModel):
    id: str
    title: str | None = None
    priority: str | None = None
    changes: dict[str, Any] = Field(default_factory=dict)
    expected_gain: list[float] = Field(default_factory=lambda: [0.0, 0.0])


class DiagnosisSummary(FactsModel):
    """What the facts keep of an attempt's re-diagnosis (the whole is in attempt-<k>/diagnosis/)."""

    findings: list[DiagnosisFinding] = Field(default_factory=list)
    recommendations: list[DiagnosisRecommendation] = Field(default_factory=list)
    strategy: str | None = None
    potential: float | None = None


class AttemptRecord(FactsModel):
    """One decided Phase 4 attempt: its plan, arm, comparison, evidence and decision."""

    attempt: int
    strategy: str  # a built-in strategy's name or a user's module:Class
    base: str  # the label of the arm its changes apply to
    source: str  # where its recommendations came from
    recommendations: list[AttemptRecommendation] = Field(default_factory=list)
    changes: list[ConfigChange] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)  # TrainConfig or the own config, JSON
    arm: ArmRef
    candidate: MetricSummary | None = None
    compared_with: str = "baseline"
    comparison: ComparisonRecord | None = None
    note: str = ""
    evidence: EvidenceRecord
    target_met: bool = False
    target_text: str = ""
    decision: DecisionValue
    reason: str = ""
    minutes: float = 0.0
    diagnosis: DiagnosisSummary | None = None
    sweep: dict[str, Any] | None = None  # the sweep's report section (sweep.section_context)
    sweep_key: str | None = None  # what a sweep attempt "tried" (its search space)

    @property
    def label(self) -> str:
        """The arm's label: `attempt-<k>`."""
        return self.arm.label


class BestArm(ByMetric):
    """`phase4.best`: the best arm so far, and its target metric under the metric's own name
    (`phase4.best.val_accuracy.mean`: mean, std and n; see ByMetric)."""

    attempt: int = 0  # 0: the baseline
    arm: str = "baseline"


class Phase4Facts(FactsModel):
    """Everything Phase 4 records under `phase4.` (see phases/optimization/phase.py)."""

    strategy: str | None = None
    attempts: list[AttemptRecord] = Field(default_factory=list)
    open_attempt: int | None = None  # an attempt planned and started, not yet decided
    decision: DecisionValue | None = None
    reason: str | None = None
    decision_attempt: int | None = None
    transition: str | None = None
    flagged: bool = False
    minutes_used: float = 0.0
    best: BestArm | None = None
    comparison: KeptComparison | None = None
    target_met: bool | None = None
    seeds: int | None = None
    training_completed: bool | None = None
    pending_transition: str | None = None  # decided, not yet taken (a kill in between)
