"""Phase 3's facts (`phase3.*`): what the diagnosis found and what it hands to Phase 4."""

from __future__ import annotations

from typing import Any, Literal

from workflow.facts._base import FactsModel

__all__ = ["Phase3Facts", "RecommendationFact", "SeedAdviceFact"]


class SeedAdviceFact(FactsModel):
    """Phase 3's seed advice under Phase 4's rule (rules._seed_noise.SeedAdvice), always
    recorded: the gain the seeds can detect and the seeds min_effect needs (raw units)."""

    seeds: int
    sd: float | None = None
    working: bool = True  # False: the baseline barely learns, its spread says nothing
    detectable_effect: float | None = None
    seeds_needed: int | None = None  # None: over MAX_SEEDS, or not estimable
    power: float
    test_alpha: float
    text: str


class RecommendationFact(FactsModel):
    """One recommendation as Phase 4 reads it: the config patch and what it should gain."""

    id: str
    name: str
    priority: Literal["HIGH", "MEDIUM", "LOW"]
    changes: dict[str, Any]
    expected_gain: tuple[float, float]  # points of the target metric, low and high
    finding: str


class Phase3Facts(FactsModel):
    """The diagnosis: findings, recommendations, the chosen strategy and its potential.

    `strategy` is None after the baseline was re-run (`stale` says why): the old
    diagnosis no longer counts, and diagnostics_complete fails until Phase 3 runs again.
    """

    findings_count: int | None = None
    findings: list[str] | None = None
    root_causes: list[str] | None = None
    recommendations_count: int | None = None
    recommendations: list[RecommendationFact] | None = None
    strategy: str | None = None
    auto_strategy: str | None = None
    strategy_reason: str | None = None
    potential: float | None = None  # points: the upper end of the combined expected gain
    search_space: dict[str, dict[str, Any]] | None = None
    seeds_needed: int | None = None
    seed_advice: SeedAdviceFact | None = None
    probes: list[str] | None = None
    stale: str | None = None
    completed_at: str | None = None
