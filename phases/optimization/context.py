"""What a Phase 4 attempt can see and use: the project, its arms, its attempts so far.

One `Context` per `optimize` call; the loop and the strategies share it. It reads
the facts through their models (`workflow.facts.Phase4Facts`), loads arms through
workflow.arms, and trains and compares them the one way every strategy does, with
the command's workers and progress display.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from phases.optimization.iterative import RoundDiagnosis, rediagnose
from phases.optimization.targeted import AttemptPlan, change_key
from workflow.arms import (
    Arm,
    ArmComparison,
    compare_arms,
    load_arm,
    load_baseline,
    rule_for,
    train_arm,
)
from workflow.errors import WorkflowError
from workflow.facts import AttemptRecord, Phase4Facts, read_facts
from workflow.io import read_json
from workflow.metric import Metric
from workflow.own_config import RunConfig, config_from_dump, load_config
from workflow.progress import Progress
from workflow.stats import Rule
from workflow.store import Store

__all__ = ["BASELINE", "PHASE4_DIR", "USER_SPACE", "Context"]

PHASE4_DIR = "phase4"
BASELINE = "baseline"
USER_SPACE = "--space"  # a sweep plan's source when the user gave the search space


class Context:
    """The project, the arms and the attempts of one Phase 4 run (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        *,
        strategy_name: str,
        who: str,
        workers: int | None,
        progress: Progress,
        sweep_settings: Mapping[str, Any] | None = None,
        space: Mapping[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.strategy_name = strategy_name  # what phase4.strategy records
        self.who = who
        self.workers = workers
        self.progress = progress
        self.sweep_settings = dict(sweep_settings or {})
        self.space = dict(space) if space else None
        self.project = store.project
        self.metric: Metric = self.project.target.measure
        self.phase4 = store.run_dir / PHASE4_DIR
        # the trainer's own config when it takes one (workflow.own_config), else TrainConfig
        self.baseline_config: RunConfig = load_config(self.project.baseline, self.project.trainer)
        self._baseline: Arm | None = None

    # -- the facts ------------------------------------------------------------------------

    def facts(self) -> Phase4Facts:
        """phase4.* as recorded now, typed."""
        return read_facts(self.store).phase4

    def attempts(self) -> list[AttemptRecord]:
        """Every decided attempt, oldest first."""
        return list(self.facts().attempts)

    def attempt_dir(self, k: int) -> Path:
        return self.phase4 / f"attempt-{k}"

    # -- the arms ---------------------------------------------------------------------------

    @property
    def baseline(self) -> Arm:
        if self._baseline is None:
            self._baseline = load_baseline(
                self.store.run_dir / BASELINE, self.baseline_config, self.project.seeds
            )
        return self._baseline

    def arm_of(self, record: AttemptRecord) -> Arm:
        """The arm an attempt trained, loaded from its folder."""
        config = config_from_dump(record.config, self.project.trainer,
                                  source=f"attempt {record.attempt}'s config")
        return load_arm(record.arm.label, self.store.run_dir / record.arm.root, config,
                        record.arm.seeds)

    def best(self) -> tuple[Arm, AttemptRecord | None]:
        """The best arm so far and its attempt record (None: the baseline)."""
        facts = self.facts()
        best_attempt = facts.best.attempt if facts.best is not None else 0
        for record in facts.attempts:
            if record.attempt == best_attempt:
                return self.arm_of(record), record
        return self.baseline, None

    def train(self, plan: AttemptPlan) -> Arm:
        """Train the plan's config on every project seed into its attempt folder (resumes)."""
        seeds = list(self.project.seeds)
        ids = ", ".join(str(r["id"]) for r in plan.recommendations) or "no recommendation"
        self.progress.step("Phase 4", f"attempt {plan.attempt} ({plan.strategy}) on "
                                      f"{plan.base}: {ids}: train {len(seeds)} seeds")
        return train_arm(f"attempt-{plan.attempt}", plan.config_for(self.project.trainer), seeds,
                         self.attempt_dir(plan.attempt), trainer=self.project.trainer,
                         workers=self.workers, progress=self.progress)

    def compare(self, reference: Arm, candidate: Arm) -> ArmComparison:
        """The project's comparison of the target metric under its rule (arms.rule_for)."""
        return compare_arms(reference, candidate, metric=self.metric, rule=self.rule)

    @property
    def rule(self) -> Rule:
        return rule_for(self.project)

    # -- planning -------------------------------------------------------------------------

    def tried(self) -> set[str]:
        """The change sets (targeted.change_key) and search spaces earlier attempts tried."""
        tried = set()
        for record in self.attempts():
            for rec in record.recommendations:
                tried.add(change_key(rec.changes))
            if record.sweep_key:
                tried.add(record.sweep_key)
        return tried

    def rediagnose(self, arm: Arm, record: AttemptRecord) -> RoundDiagnosis:
        """Phase 3's reading of an attempt's runs (cached in its folder)."""
        return rediagnose(arm, self.project, self.attempt_dir(record.attempt))

    def diagnose(self, arm: Arm, attempt: int) -> RoundDiagnosis | None:
        """Attempt `attempt`'s new runs diagnosed, or None (nothing usable, or it failed: said
        so); written to attempt-<k>/diagnosis/."""
        if not arm.usable():
            return None
        try:
            return rediagnose(arm, self.project, self.attempt_dir(attempt))
        except WorkflowError as exc:  # the attempt stands without its diagnosis; say so
            self.progress.note(f"{arm.label}: the re-diagnosis failed: {exc}")
            return None

    def phase3_recommendations(self) -> list[dict[str, Any]]:
        """phase3.recommendations, with the title, rationale and risk of phase3/findings.json.

        The facts are the authority (ids, changes, priorities); the findings file only fills
        in the words a commented config and the report show.
        """
        raw: list[dict[str, Any]] = [
            r.model_dump(mode="json") for r in read_facts(self.store).phase3.recommendations or []
        ]
        words: dict[str, dict[str, Any]] = {}
        path = self.store.run_dir / "phase3" / "findings.json"
        try:
            plan = read_json(path).get("plan") or {}
            words = {str(r.get("id")): r for r in plan.get("recommendations", [])}
        except (WorkflowError, AttributeError):
            pass  # no words beyond the facts; the ids and changes are enough
        recommendations: list[dict[str, Any]] = []
        for rec in raw:
            extra = words.get(str(rec.get("id")), {})
            same = extra.get("changes", rec.get("changes")) == rec.get("changes")
            filled: dict[str, Any] = {
                k: extra[k] for k in ("title", "rationale", "risk") if k in extra and same
            }
            recommendations.append({**filled, **rec})
        return recommendations
