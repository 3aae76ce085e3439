"""From findings to a plan: 3-5 prioritized config patches, their expected gains, a strategy.

Each finding that is not a symptom of another proposes candidate changes
(its rule's answers: `phases.diagnostic.rules`, built from `answers`). Every
candidate is a dotted-path patch validated by `TrainConfig.with_changes`, so a
recommendation can always be applied. A trainer with its own config
(`workflow.own_config`) gets each patch on the key that `means` its setting, inside
the key's declared range (`on_own_keys`); the others are withheld, with the reason.
Candidates are ranked by priority (the finding's severity; a
secondary answer one step lower) and by expected gain; the first that touch
settings no better candidate touched are kept, five at most, and generic
changes fill the list to three when the findings propose fewer.

The combined potential treats the gains (points of the target metric) as
shares of the headroom that compound: headroom x (1 - prod(1 - high_i / headroom)).

The strategy rule, in order: the project's own preference wins; a potential
under 3 points skips Phase 4; a baseline whose every seed diverged is fixed
and re-diagnosed (iterative), as is one whose single root cause hides others;
several root causes, or a high-priority change whose value is a guess (a
learning rate nobody measured), call for a sweep over the recommended knobs;
one root cause with a few changes is targeted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from phases.diagnostic.answers import (
    RESTRAINING,
    Context,
    Recommendation,
    fallbacks,
    priority_of,
)
from phases.diagnostic.evidence import Evidence
from phases.diagnostic.knobs import honoured
from phases.diagnostic.predict import Record, predict
from phases.diagnostic.rules import RULES, Finding, rule_for
from workflow.errors import ConfigError
from workflow.own_config import OwnConfig, RunConfig
from workflow.protocol import Tunable

__all__ = [
    "MAX_RECOMMENDATIONS",
    "MIN_RECOMMENDATIONS",
    "SKIP_BELOW_POINTS",
    "Plan",
    "Recommendation",
    "headroom",
    "plan",
]

Strategy = Literal["targeted", "sweep", "iterative", "skip"]

MIN_RECOMMENDATIONS = 3
MAX_RECOMMENDATIONS = 5
SKIP_BELOW_POINTS = 3.0
# "a few changes": the settings that the HIGH and MEDIUM recommendations touch
MAX_TARGETED_CHANGES = 4
# a single root cause that can hide others: fix it, then diagnose again (`Rule.hides_others`)
MASKING_CAUSES = tuple(rule.id for rule in RULES if rule.hides_others)
PRIORITY_RANK: dict[str, int] = {"HIGH": 0, "MEDIUM": 1, "LOW": 2}
# findings that say the model does not fit its training set as it could: while one of them
# is found (and overfitting is not), nothing that restrains the model is recommended
UNDERFIT_FINDINGS = frozenset({
    "underfitting", "lr_too_low", "sgd_no_momentum", "adam_betas", "too_little_capacity",
    "heavy_regularization", "frozen_layers", "few_steps", "not_converged", "input_scale",
})


@dataclass(frozen=True)
class Plan:
    """What Phase 3 hands to Phase 4."""

    recommendations: list[Recommendation]
    strategy: Strategy
    strategy_reason: str
    auto_strategy: Strategy
    potential: float  # points: the upper end of the combined expected gain
    headroom: float  # points between the baseline and a perfect score
    baseline_score: float | None  # the target's mean over usable seeds
    root_causes: list[str]
    search_space: dict[str, dict[str, Any]]
    seeds_needed: int | None
    # candidates left out, with why (a regularizer for an underfit model, a setting the
    # model never receives): the report says so instead of recommending them
    withheld: list[str] = field(default_factory=list)

    @property
    def changes(self) -> dict[str, Any]:
        """Every recommendation's changes, in priority order (the preview config's patch)."""
        merged: dict[str, Any] = {}
        for rec in self.recommendations:
            merged.update(rec.changes)
        return merged

    def to_dict(self) -> dict[str, Any]:
        return {
            "recommendations": [r.to_dict() for r in self.recommendations],
            "strategy": self.strategy,
            "strategy_reason": self.strategy_reason,
            "auto_strategy": self.auto_strategy,
            "potential": self.potential,
            "headroom": self.headroom,
            "baseline_score": self.baseline_score,
            "root_causes": self.root_causes,
            "search_space": self.search_space,
            "seeds_needed": self.seeds_needed,
            "changes": self.changes,
            "withheld": self.withheld,
        }


def headroom(evidence: Evidence) -> tuple[float, float | None]:
    """Points between the baseline's mean target and a perfect score, and that mean.

    With no usable seed (every one diverged) the baseline scores nothing: the
    whole range is headroom.
    """
    values = evidence.target_values()
    score = sum(values) / len(values) if values else None
    if evidence.target.higher_is_better:
        ceiling = 1.0 if evidence.target.is_rate else max(1.0, score or 0.0)
        room = ceiling - (score if score is not None else 0.0)
    else:
        room = score if score is not None else 1.0
    return max(0.0, 100.0 * room), score


def _valid(config: RunConfig, rec: Recommendation) -> bool:
    try:
        config.with_changes(rec.changes, source=f"recommendation {rec.name}")
    except ConfigError:
        return False
    return True


def _rank(
    candidates: Sequence[Recommendation],
    config: RunConfig,
    *,
    after: Sequence[Recommendation] = (),
    limit: int = MAX_RECOMMENDATIONS,
) -> list[Recommendation]:
    """`after`, then the best candidates touching settings nothing before touched, up to `limit`."""
    ordered = sorted(
        candidates, key=lambda r: (PRIORITY_RANK[r.priority], -r.gain_per_cost, r.name)
    )
    chosen = list(after)
    claimed = {key for rec in chosen for key in (*rec.changes, *rec.space)}
    for rec in ordered:
        if len(chosen) >= limit:
            break
        keys = set(rec.changes) | set(rec.space)
        if keys & claimed or any(c.name == rec.name for c in chosen) or not _valid(config, rec):
            continue
        chosen.append(rec)
        claimed |= keys
    return chosen


def combined_potential(recs: Sequence[Recommendation], room: float) -> float:
    """The upper end of the gains together: shares of the headroom that compound."""
    if room <= 0:
        return 0.0
    left = 1.0
    for rec in recs:
        left *= 1 - min(max(rec.expected_gain[1], 0.0), room) / room
    return round(room * (1 - left), 2)


def _screen(
    candidates: Sequence[Recommendation], findings: Sequence[Finding], evidence: Evidence
) -> tuple[list[Recommendation], list[str]]:
    """The candidates that fit the diagnosis and the model, and why the others do not."""
    ids = {f.id for f in findings}
    underfit = bool(ids & UNDERFIT_FINDINGS) and "overfitting" not in ids
    honours = honoured(evidence.config, evidence.trainer)
    kept: list[Recommendation] = []
    withheld: list[str] = []
    for rec in candidates:
        unseen = list(dict.fromkeys(k for k in (*rec.changes, *rec.space) if not honours(k)))
        restrains = rec.name in RESTRAINING and not (
            rec.name == "grad_clip" and "lr_too_high" in ids)
        if underfit and restrains:
            why = (f"{rec.name}: restrains a model that underfits "
                   f"({', '.join(sorted(ids & UNDERFIT_FINDINGS))})")
        elif unseen and evidence.own is not None:
            why = (f"{rec.name}: {', '.join(unseen)}: no key of the trainer's own config "
                   "means it (a tunable key's `means`)")
        elif unseen:
            why = (f"{rec.name}: {', '.join(unseen)} never reaches the model "
                   f"{evidence.config.model.name} (it declares no such knob)")
        elif evidence.own is not None:
            try:  # the patch on the trainer's own keys, inside their declared ranges
                kept.append(on_own_keys(rec, evidence.own))
                continue
            except ConfigError as exc:
                why = f"{rec.name}: {exc}"
        else:
            kept.append(rec)
            continue
        if why not in withheld:
            withheld.append(why)
    return kept, withheld


def on_own_keys(rec: Recommendation, own: OwnConfig) -> Recommendation:
    """`rec` as a patch on the trainer's own keys (`lr` for `optimizer.lr`); a `ConfigError`
    when a value is outside what the key declares, or the trainer's model refuses it."""
    changes = own.translate(rec.changes, source=f"recommendation {rec.name}")
    own.with_changes(changes, source=f"recommendation {rec.name}")  # the model's own checks
    declared = {t.key: t for t in own.tunable() or ()}
    space = {}
    for setting, knob in rec.space.items():
        key = own.own_key(setting)
        if key is not None and (inside := _within(knob, declared.get(key))) is not None:
            space[key] = inside
    return replace(rec, changes=changes, space=space)


def _within(knob: dict[str, Any], tunable: Tunable | None) -> dict[str, Any] | None:
    """A sweep knob held inside what the key declares (None: nothing of it is inside)."""
    if tunable is None:
        return knob
    if knob.get("type") == "categorical" or tunable.choices is not None:
        given = knob.get("choices", tunable.choices or [])
        inside = [c for c in given if tunable.refusal(c) is None]
        return {"type": "categorical", "choices": inside} if len(inside) >= 2 else None
    low, high = max(knob["low"], tunable.low), min(knob["high"], tunable.high)
    return {**knob, "low": low, "high": high} if low < high else None


def declared_search(ctx: Context, claimed: set[str]) -> list[Recommendation]:
    """A trainer with its own config: a search of the keys it declares tunable that no
    recommendation claimed, over their declared ranges (phasegate's generic changes reach
    only the keys that mean them). Not an answer to a finding, so not in ANSWERS: the plan
    offers it when the answers and fallbacks leave fewer than three recommendations."""
    own = ctx.evidence.own
    declared = [t for t in (own.tunable() or ()) if t.key not in claimed] if own else []
    if not declared:
        return []
    from phases.optimization.sweep.space import space_from_tunables

    return [Recommendation(
        name="search_declared",
        title="Search the keys the trainer declares tunable: "
              + ", ".join(t.key for t in declared),
        priority="LOW",
        changes={},
        finding="none",
        rationale="the trainer names these keys and their ranges as what is worth changing",
        expected_gain=ctx.gain(ctx.headroom, 0.0, 0.1),
        risk="none beyond the search's cost",
        space=space_from_tunables(declared),
        cost=2.0,
    )]


def _measured_useless(
    recs: Sequence[Recommendation],
) -> tuple[list[Recommendation], list[str]]:
    """The recommendations a measurement did not refute, and why the others are left out:
    a change whose measured interval (a trial run, the project's record) is centred at or
    below zero does not help, whatever its finding's severity."""
    kept, out = [], []
    for rec in recs:
        if rec.basis != "prior" and sum(rec.expected_gain) <= 0:
            out.append(f"{rec.name}: measured not to help ({rec.expected_gain[0]:+g} to "
                       f"{rec.expected_gain[1]:+g} points, {rec.basis})")
        else:
            kept.append(rec)
    return kept, out


def plan(
    findings: Sequence[Finding], evidence: Evidence, *, preference: str = "auto",
    id_prefix: str = "R", record: Record | None = None,
) -> Plan:
    """The recommendations, the strategy and the potential for these findings.

    The recommendations are numbered `{id_prefix}1`, `{id_prefix}2`, ...: Phase 3's are R1,
    R2, ...; a re-diagnosis of a Phase 4 attempt passes its own prefix (`A2-R`), so that ids
    stay unique within a project and one results table never shows two R1 rows.
    """
    room, score = headroom(evidence)
    ctx = Context(evidence.config, evidence, room, frozenset(f.id for f in findings))
    config: RunConfig = evidence.own or evidence.config  # what the patches apply to
    candidates: list[Recommendation] = []
    for finding in findings:
        if finding.explained_by is None:  # a symptom's answers are its cause's
            candidates += rule_for(finding.id).offer(finding, ctx, priority_of(finding.severity))
    candidates, withheld = _screen(candidates, findings, evidence)
    candidates, refuted = _measured_useless(predict(candidates, evidence, record))
    withheld += refuted
    chosen = _rank(candidates, config)
    if len(chosen) < MIN_RECOMMENDATIONS:
        # generic changes fill the list, after every answer to a finding
        extra, left_out = _screen(fallbacks(ctx), findings, evidence)
        withheld += [w for w in left_out if w not in withheld]
        chosen = _rank(predict(extra, evidence, record), config, after=chosen,
                       limit=MIN_RECOMMENDATIONS)
    if len(chosen) < MIN_RECOMMENDATIONS:  # an own config: its other declared keys, searched
        claimed = {key for rec in chosen for key in (*rec.changes, *rec.space)}
        chosen += declared_search(ctx, claimed)
    chosen = [replace(rec, id=f"{id_prefix}{i}") for i, rec in enumerate(chosen, start=1)]
    try:
        config.with_changes({k: v for r in chosen for k, v in r.changes.items()})
    except ConfigError as exc:  # each was valid alone: a clash between two is a bug here
        raise ConfigError(
            f"the recommendations do not combine into a valid config: {exc}"
        ) from None

    potential = combined_potential(chosen, room)
    causes = [f.id for f in findings if f.root_cause and f.severity != "low"]
    auto, reason = _auto_strategy(findings, chosen, potential, evidence, causes)
    if preference != "auto":
        strategy: Strategy = preference  # type: ignore[assignment]
        reason = (
            f"The project asks for {preference} (strategy: {preference} in the project file); "
            f"the rule alone would choose {auto}: {reason}"
        )
    else:
        strategy = auto
    space: dict[str, dict[str, Any]] = {}
    if strategy == "sweep":
        for rec in chosen:
            space.update(rec.space)
        declared = evidence.own.tunable() if evidence.own is not None else None
        if declared:  # a trainer's own config is searched over the ranges it declares
            from phases.optimization.sweep.space import space_from_tunables

            space = space_from_tunables(declared)
    noise = next((f for f in findings if f.id == "seed_noise"), None)
    return Plan(
        recommendations=chosen,
        strategy=strategy,
        strategy_reason=reason,
        auto_strategy=auto,
        potential=potential,
        headroom=round(room, 2),
        baseline_score=score,
        root_causes=causes,
        search_space=space,
        seeds_needed=int(noise.evidence["seeds_needed"]) if noise else None,
        withheld=withheld,
    )


def _auto_strategy(
    findings: Sequence[Finding],
    recs: Sequence[Recommendation],
    potential: float,
    evidence: Evidence,
    causes: Sequence[str],
) -> tuple[Strategy, str]:
    if potential < SKIP_BELOW_POINTS:
        return "skip", (
            f"The combined expected gain tops out at {potential:.1f} points, under the "
            f"{SKIP_BELOW_POINTS:g}-point bar: Phase 4 is not worth its cost, go to Phase 5"
        )
    if evidence.runs and not evidence.usable:
        return "iterative", (
            "Every seed diverged, so nothing but the learning rate could be measured: apply "
            "its fix, then diagnose again what it hid"
        )
    if len(causes) >= 2:
        return "sweep", (
            f"{len(causes)} root causes ({', '.join(causes)}): their fixes interact, so search "
            "over the recommended knobs rather than apply them blind"
        )
    hidden = [f.id for f in findings if f.explained_by in MASKING_CAUSES]
    if len(causes) == 1 and causes[0] in MASKING_CAUSES and hidden:
        return "iterative", (
            f"One root cause ({causes[0]}) hides others ({', '.join(hidden)}): fix it, then "
            "diagnose again"
        )
    guesses = [r.id for r in recs if r.uncertain and r.priority == "HIGH"]
    if guesses:
        return "sweep", (
            f"The high-priority change {', '.join(guesses)} sets a value nobody measured (run "
            "--probe lr to measure it): search its range"
        )
    keys = {k for r in recs if r.priority in ("HIGH", "MEDIUM") for k in r.changes}
    if len(keys) <= MAX_TARGETED_CHANGES:
        what = f"One clear root cause ({causes[0]})" if causes else "No root cause, only gaps"
        return "targeted", (
            f"{what} and {len(keys)} high- and medium-priority settings to change: apply them "
            "and test the result across seeds"
        )
    return "sweep", (
        f"{len(keys)} settings to change are too many to apply at once: search over them"
    )
