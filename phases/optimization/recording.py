"""Deciding an attempt and recording it: the attempt record, the decision, the gate's facts.

Everything is written through workflow.facts' models (`AttemptRecord`,
`Phase4Facts`), so a field a reader or a checklist names is a field a test can
check. The decision is recorded with `pending_transition` before the loop takes
it: a kill in between is finished by the rerun.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from phases.optimization.context import BASELINE, Context
from phases.optimization.decision import (
    AttemptBudget,
    AttemptEvidence,
    Decision,
    DecisionCode,
    decide,
    gain_points,
    target_check,
)
from phases.optimization.iterative import RoundDiagnosis
from phases.optimization.strategies import AttemptResult
from workflow.arms import Arm, mean_std
from workflow.facts import AttemptRecord, check_section
from workflow.facts._phase4 import DiagnosisSummary, KeptComparison
from workflow.trainer.commented import config_diff

__all__ = ["Recorded", "decide_attempt", "decide_nothing_left", "record"]


@dataclass(frozen=True)
class Recorded:
    """A recorded decision and the arms the artifacts show."""

    decision: Decision
    best_arm: Arm
    best_record: AttemptRecord | None  # None: the baseline is kept
    latest: Arm
    attempts: list[AttemptRecord]


def record(context: Context, **fields: Any) -> None:
    """Record `fields` under phase4., through Phase4Facts: a misfit is a FactsError naming
    the field, and nothing is written."""
    dumped = check_section("phase4", fields, source="Phase 4").model_dump(mode="json")
    context.store.record("phase4", {k: dumped[k] for k in fields}, who=context.who)


def decide_attempt(
    context: Context,
    result: AttemptResult,
    reference: Arm,
    ref_record: AttemptRecord | None,
    diagnosis: RoundDiagnosis | None,
    seconds: float,
) -> Recorded:
    """Decide attempt `result.plan.attempt` (decision.decide) and record it with its facts."""
    from workflow.stats import summarize

    plan, arm, comparison, metric = result.plan, result.arm, result.comparison, context.metric
    project = context.project
    k = plan.attempt
    earlier = context.attempts()
    values = list(arm.values(metric.name).values())
    candidate = summarize(values) if values else None
    if comparison is not None:
        points = gain_points(comparison.mean_diff, comparison.baseline.mean, metric=metric)
        evidence = AttemptEvidence(k, comparison.significant, points, comparison.reason,
                                   comparison.below_min_effect)
    else:
        evidence = AttemptEvidence(k, False, None, result.note or "no comparison could be made")
    met, target_text = target_check(candidate.mean if candidate else None, project.target.goal,
                                    metric=metric, significant=evidence.improves)
    minutes = sum(a.minutes for a in earlier) + seconds / 60.0
    decision = decide(
        evidence,
        earlier=[AttemptEvidence(**a.evidence.model_dump()) for a in earlier],
        target_met=met,
        target_text=target_text,
        budget=AttemptBudget(
            attempts_used=k,
            iteration_limit=project.iteration_limit,
            minutes_used=minutes,
            time_budget_minutes=project.time_budget_minutes,
        ),
        ceiling=ceiling_points(context, reference),
        unit=metric.unit,
    )
    attempt = AttemptRecord.model_validate({
        "attempt": k,
        "strategy": plan.strategy,
        "base": plan.base,
        "source": plan.source,
        "recommendations": [
            {key: r.get(key) for key in
             ("id", "title", "priority", "finding", "expected_gain", "changes", "rationale")}
            for r in plan.recommendations
        ],
        "changes": config_diff(reference.config, arm.config),
        "config": arm.config.model_dump(mode="json"),
        "arm": {"label": arm.label, "root": os.path.relpath(arm.root, context.store.run_dir),
                "seeds": arm.seeds},
        "candidate": candidate.to_dict() if candidate else None,
        "compared_with": reference.label,
        "comparison": comparison.to_dict() if comparison is not None else None,
        "note": result.note,
        "evidence": evidence.to_dict(),
        "target_met": met,
        "target_text": target_text,
        "decision": decision.code.value,
        "reason": decision.reason,
        "minutes": seconds / 60.0,
        "diagnosis": _diagnosis_summary(diagnosis),
        "sweep": result.sweep,
        "sweep_key": plan.extra.get("sweep_key"),
    })
    attempts = [*earlier, attempt]
    facts = context.facts()
    kept = decision.code is DecisionCode.A or evidence.improves
    best_attempt = k if kept else (facts.best.attempt if facts.best is not None else 0)
    best_arm = arm if kept else reference
    best_record = attempt if kept else ref_record
    gate = gate_facts(context, best_arm, best_record, arm, attempt)
    if decision.code is DecisionCode.C:
        gate["training_completed"] = False  # back in Phase 3: no optimized config trained
    context.progress.note(f"attempt {k}: decision {decision.code.value}: {decision.reason}")
    record(
        context,
        strategy=context.strategy_name,
        attempts=attempts,
        open_attempt=None,
        decision=decision.code.value,
        reason=decision.reason,
        decision_attempt=k,
        transition=decision.transition,
        flagged=decision.flagged,
        minutes_used=minutes,
        best={"attempt": best_attempt, "arm": best_arm.label,
              metric.name: mean_std(best_arm, metric.name)},
        **gate,
        pending_transition=decision.transition,
    )
    return Recorded(decision, best_arm, best_record, arm, attempts)


def ceiling_points(context: Context, reference: Arm) -> float:
    """min_effect in the gains' unit: the ceiling rule's "gained too little"."""
    mean = mean_std(reference, context.metric.name).get("mean")
    return context.metric.points(context.project.min_effect, mean)


def decide_nothing_left(context: Context) -> Recorded:
    """After B, no untried recommendation remains: Phase 4 ends with the best so far."""
    attempts = context.attempts()
    last = attempts[-1]
    reason = (
        f"Budget spent: no untried recommendation is left after attempt {last.attempt} "
        "(its diagnosis proposes only changes already tried or already set); the best so "
        "far is kept and flagged."
    )
    decision = Decision(DecisionCode.BUDGET, reason)
    best_arm, best_record = context.best()
    latest = context.arm_of(last)
    gate = gate_facts(context, best_arm, best_record, latest, last)
    context.progress.note(f"decision budget: {reason}")
    record(context, decision=decision.code.value, reason=reason, decision_attempt=last.attempt,
           transition=decision.transition, flagged=True, **gate,
           pending_transition=decision.transition)
    return Recorded(decision, best_arm, best_record, latest, attempts)


def gate_facts(
    context: Context,
    best_arm: Arm,
    best_record: AttemptRecord | None,
    latest: Arm,
    latest_record: AttemptRecord,
) -> dict[str, Any]:
    """What optimization_complete checks: the kept arm against the baseline.

    When nothing was kept, the comparison is the latest attempt's against the baseline:
    the evidence that nothing beat it.
    """
    # an attempt compared with the baseline itself keeps its own comparison (a sweep's
    # is Holm-adjusted over its candidates); a later one is compared with it afresh
    direct = best_record if best_record is not None else latest_record
    if direct.compared_with == BASELINE and (direct.comparison or best_record is None):
        data = direct.comparison.model_dump(mode="json") if direct.comparison else None
        return _facts_from(context, best_arm, data, direct.arm.label)
    shown = best_arm if best_record is not None else latest
    compared = context.compare(context.baseline, shown)
    data = compared.comparison.to_dict() if compared.comparison is not None else None
    return _facts_from(context, best_arm, data, shown.label)


def _facts_from(
    context: Context, best_arm: Arm, comparison: dict[str, Any] | None, compared_arm: str
) -> dict[str, Any]:
    usable = best_arm.usable()
    significant = bool(comparison and comparison.get("significant"))
    mean = mean_std(best_arm, context.metric.name).get("mean")
    met, _ = target_check(mean, context.project.target.goal, metric=context.metric,
                          significant=significant and best_arm.label != BASELINE)
    kept = (KeptComparison.model_validate({**comparison, "arm": compared_arm,
                                           "against": BASELINE})
            if comparison else None)
    return {
        "comparison": kept,
        "target_met": met,
        "seeds": len(usable),
        "training_completed": len(usable) == len(best_arm.results) and bool(usable),
    }


def _diagnosis_summary(diagnosis: RoundDiagnosis | None) -> DiagnosisSummary | None:
    """What the facts keep of a round's diagnosis (the whole is in attempt-<k>/diagnosis/)."""
    if diagnosis is None:
        return None
    return DiagnosisSummary.model_validate({
        "findings": [
            {k: f.get(k) for k in ("id", "title", "severity", "text", "root_cause")}
            for f in diagnosis.findings
        ],
        "recommendations": [
            {k: r.get(k) for k in ("id", "title", "priority", "changes", "expected_gain")}
            for r in diagnosis.recommendations
        ],
        "strategy": diagnosis.strategy,
        "potential": diagnosis.potential,
    })
