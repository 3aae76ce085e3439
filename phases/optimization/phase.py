"""Phase 4 with the store: enter it, run attempts, decide, record, move the project on.

`optimize(store, strategy)` is what `phasegate optimize` calls. It holds the
project's lock throughout and:

1. enters Phase 4 through the `optimize` transition when the project is
   `diagnosed` (the diagnostics_complete gate decides; a refusal changes nothing),
   or resumes when it is already `optimizing`;
2. plans the attempt (targeted.select / the sweep / iterative's re-diagnosis) and
   saves the plan in `phase4/attempt-<k>/` before anything trains;
3. trains every project seed into `attempt-<k>/seed-<n>/` (a seed finished by an
   earlier, killed run is not trained again), compares the target metric with the
   best arm so far, diagnoses the new runs (`attempt-<k>/diagnosis/`), and decides
   (decision.decide);
4. records the attempt and a fresh `phase4.decision` with its reason, writes
   `phase4/optimization_config.yaml`, the checkpoints of the best arm so far (not
   after C) and `optimization_results.md`, then takes the decision's transition.

After B (a significant gain short of the target) every strategy goes on by
itself: the next attempt applies the next recommendations of the new runs'
diagnosis (decided so: the user asked for Phase 4, and B is not an answer; the
iteration limit bounds it). After C the targeted and sweep strategies stop, back
in `diagnosed` (the caller exits 1); the iterative strategy re-enters Phase 4 and
tries the next recommendations, stopping only at A, D or the limit. When no
untried recommendation is left, Phase 4 is refused from `diagnosed` (nothing
changes), or, after B, ends with decision budget (flagged: the recommendations
are spent).

Facts recorded (under `phase4.`): strategy, attempts (one record per attempt:
its plan, changes, comparison, evidence, decision and diagnosis), open_attempt,
decision, reason, decision_attempt, transition, flagged, best (its attempt, arm and
target mean/std), comparison (the kept arm against the baseline, or the last
attempt's when nothing was kept), training_completed (false after C: there is no
optimized config), seeds, target_met, minutes_used (this process's wall time per
attempt; a killed segment is not counted) and pending_transition: what the
optimization_complete gate and `phasegate advance` read.

A kill at any moment is safe: the plan, the seeds' runs and the diagnosis are on
disk, and a decision is recorded (with `pending_transition`) before its
transition is taken, so a rerun finishes the move instead of trying again.
"""

from __future__ import annotations

import importlib
import inspect
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from phases.optimization.decision import (
    Budget,
    Decision,
    DecisionCode,
    Evidence,
    decide,
    gain_points,
    target_check,
)
from phases.optimization.iterative import Diagnosis, next_recommendations, rediagnose
from phases.optimization.targeted import (
    Mode,
    Plan,
    apply,
    change_key,
    config_diff,
    config_yaml,
    normalize_recommendation,
    select,
)
from workflow.arms import Arm, compare_arms, load_arm, load_baseline, mean_std, train_arm
from workflow.errors import ConfigError, Refused, WorkflowError
from workflow.io import atomic_write_text, read_json
from workflow.machine import take
from workflow.store import Store
from workflow.trainer.config import TrainConfig, load_train_config

__all__ = [
    "PHASE4_DIR",
    "STRATEGIES",
    "Outcome",
    "Progress",
    "QuietProgress",
    "optimize",
    "resolve_strategy",
]

STRATEGIES = ("targeted", "iterative", "sweep")
PHASE4_DIR = "phase4"
CONFIG_NAME = "optimization_config.yaml"
BASELINE = "baseline"
USER_SPACE = "--space"  # a sweep plan's source when the user gave the search space


class Progress(Protocol):
    """What optimize tells a progress display (the CLI draws rich bars from it)."""

    def attempt(self, plan: Plan, seeds: Sequence[int], done: Sequence[int], epochs: int) -> None:
        """An attempt starts training: `done` seeds are already trained (a resumed run)."""

    def epoch(self, seed: int, epoch: int, row: Mapping[str, float]) -> None: ...

    def end_attempt(self) -> None: ...

    def note(self, text: str) -> None:
        """A line for the person watching (a decision, a transition taken)."""


class QuietProgress:
    """Reports nothing (the library default)."""

    def attempt(self, plan: Plan, seeds: Sequence[int], done: Sequence[int], epochs: int) -> None:
        pass

    def epoch(self, seed: int, epoch: int, row: Mapping[str, float]) -> None:
        pass

    def end_attempt(self) -> None:
        pass

    def note(self, text: str) -> None:
        pass


@dataclass(frozen=True)
class Outcome:
    """Where Phase 4 left the project."""

    project: str
    state: str
    strategy: str | None
    decision: str | None
    reason: str | None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    report: Path | None = None

    @property
    def refused(self) -> bool:
        """Phase 4 did not end (back in Phase 3 after decision C): the CLI exits 1."""
        return self.state not in ("optimized", "finalized", "promoted")

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "state": self.state,
            "strategy": self.strategy,
            "decision": self.decision,
            "reason": self.reason,
            "attempts": [
                {k: a.get(k) for k in ("attempt", "strategy", "decision", "reason")}
                for a in self.attempts
            ],
            "report": str(self.report) if self.report else None,
        }


def resolve_strategy(store: Store, requested: str) -> str:
    """`auto`: the strategy of a Phase 4 under way, else Phase 3's, else the project's."""
    if requested not in ("auto", *STRATEGIES):
        raise ConfigError(
            f"unknown strategy {requested!r} (allowed: auto, {', '.join(STRATEGIES)})"
        )
    running = store.get("phase4.strategy", None) if store.current == "optimizing" else None
    if requested == "auto":
        if running in STRATEGIES:
            return str(running)
        chosen = store.get("phase3.strategy", None)
        if chosen in STRATEGIES:
            return str(chosen)
        preference = store.project.strategy
        return preference if preference in STRATEGIES else "targeted"
    if running in STRATEGIES and running != requested:
        raise ConfigError(
            f"Phase 4 of {store.name} is running the {running} strategy; rerun with "
            f"--strategy {running} (or auto) to resume it"
        )
    return requested


def optimize(
    store: Store,
    strategy: str = "auto",
    *,
    who: str = "phasegate",
    workers: int | None = None,
    progress: Progress | None = None,
    sweep_settings: Mapping[str, Any] | None = None,
    space: Mapping[str, Any] | None = None,
) -> Outcome:
    """Run Phase 4 until a decision ends it (see the module docstring); resumable.

    `sweep_settings`: fields of the sweep's SweepSettings (trials, method, ...) for
    --strategy sweep; its monitor defaults to the project's target metric. `space`:
    the search space (as data) of the first sweep attempt, instead of the one Phase 3
    recorded (`phase3.search_space`). Either is refused for another strategy.
    """
    with store.lock():
        run = _Run(store, who, workers, progress or QuietProgress(), sweep_settings, space)
        return run.go(strategy)


# ---- one invocation ---------------------------------------------------------------------------


class _Run:
    def __init__(
        self,
        store: Store,
        who: str,
        workers: int | None,
        progress: Progress,
        sweep_settings: Mapping[str, Any] | None = None,
        space: Mapping[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.sweep_settings = dict(sweep_settings or {})
        self.space = dict(space) if space else None
        self.who = who
        self.workers = workers
        self.progress = progress
        self.project = store.project
        target = self.project.target
        self.metric = target.metric
        self.higher = target.direction == "maximize"
        self.is_rate = not self.metric.endswith("loss")
        self.phase4 = store.run_dir / PHASE4_DIR
        self.baseline_config = load_train_config(self.project.baseline)
        self._baseline: Arm | None = None

    # -- state ------------------------------------------------------------------------------

    def go(self, requested: str) -> Outcome:
        state = self.store.current
        if state in ("optimized", "finalized", "promoted"):
            self.progress.note(f"{self.store.name} is {state}: Phase 4 is done")
            return self.outcome()
        if state == "baseline":
            raise Refused(
                f"{self.store.name} is at baseline: Phase 4 comes after Phase 3 "
                f"(phasegate baseline {self.store.name}, then phasegate diagnose {self.store.name})"
            )
        if state not in ("diagnosed", "optimizing"):
            raise WorkflowError(f"{self.store.name} is {state}: Phase 4 cannot run from there")
        if state == "diagnosed" and self.store.get("phase3.strategy", None) == "skip":
            raise Refused(
                f"Phase 3 chose to skip Phase 4 for {self.store.name} (the potential gain is "
                f"small): take the skip with phasegate advance {self.store.name}"
            )
        strategy = resolve_strategy(self.store, requested)
        if strategy != "sweep" and (self.space or self.sweep_settings):
            raise ConfigError(
                f"a search space and sweep settings apply to the sweep strategy, but "
                f"{self.store.name} runs {strategy}"
            )
        if strategy == "sweep":
            sweep = _sweep_module()  # refuses, before anything changes, when none is installed
            if self.space is not None:  # a space that does not fit the config: before entering
                sweep.space_from_phase3(self.space, source=USER_SPACE).check_config(
                    self.baseline_config
                )
        if state == "optimizing":
            pending = self.store.get("phase4.pending_transition", None)
            if pending:
                self._take(str(pending), str(self.store.get("phase4.reason", "")))
                if self.store.current != "optimizing" and not (
                    strategy == "iterative" and self.store.current == "diagnosed"
                ):
                    return self.outcome()
        while True:
            state = self.store.current
            if state == "optimized":
                return self.outcome()
            if state == "diagnosed":
                plan: Plan | None = self._plan_or_refuse(strategy)
                self._enter(strategy)
            else:
                plan = self._open_plan() or self._next_plan(strategy)
            if plan is None:
                self._nothing_left()
                return self.outcome()
            decision = self._attempt(plan, strategy)
            if decision.code is DecisionCode.B:
                continue
            if decision.code is DecisionCode.C and strategy == "iterative":
                continue
            return self.outcome()

    def outcome(self) -> Outcome:
        report = self.phase4 / "optimization_results.md"
        return Outcome(
            project=self.store.name,
            state=self.store.current,
            strategy=self.store.get("phase4.strategy", None),
            decision=self.store.get("phase4.decision", None),
            reason=self.store.get("phase4.reason", None),
            attempts=list(self.store.get("phase4.attempts", [])),
            report=report if report.is_file() else None,
        )

    def _enter(self, strategy: str) -> None:
        attempt = len(self._attempts()) + 1
        self._take("optimize", f"Phase 4 attempt {attempt} ({strategy})")
        self.store.record(
            "phase4",
            {"strategy": strategy, "decision": None, "reason": None, "pending_transition": None},
            who=self.who,
        )

    def _take(self, transition: str, why: str) -> None:
        # the pending mark is set with the decision; a rerun after a kill takes it from there
        taken = take(self.store, transition, self.who, why)
        if transition != "optimize":
            self.store.record("phase4", {"pending_transition": None}, who=self.who)
        self.progress.note(
            f"{self.store.name}: {taken.transition.source} -> {taken.transition.target} "
            f"({transition})"
        )

    # -- arms ----------------------------------------------------------------------------------

    def _attempts(self) -> list[dict[str, Any]]:
        return list(self.store.get("phase4.attempts", []))

    def attempt_dir(self, k: int) -> Path:
        return self.phase4 / f"attempt-{k}"

    @property
    def baseline(self) -> Arm:
        if self._baseline is None:
            self._baseline = load_baseline(
                self.store.run_dir / BASELINE, self.baseline_config, self.project.seeds
            )
        return self._baseline

    def arm_of(self, record: Mapping[str, Any]) -> Arm:
        info = record["arm"]
        config = TrainConfig.model_validate(record["config"])
        return load_arm(info["label"], self.store.run_dir / info["root"], config, info["seeds"])

    def best(self) -> tuple[Arm, dict[str, Any] | None]:
        """The best arm so far and its attempt record (None: the baseline)."""
        best_attempt = int(self.store.get("phase4.best.attempt", 0) or 0)
        for record in self._attempts():
            if record["attempt"] == best_attempt:
                return self.arm_of(record), record
        return self.baseline, None

    # -- planning ---------------------------------------------------------------------------------

    def _tried(self) -> set[str]:
        tried = set()
        for record in self._attempts():
            for rec in record.get("recommendations", []):
                tried.add(change_key(rec["changes"]))
            if record.get("sweep_key"):
                tried.add(str(record["sweep_key"]))
        return tried

    def _next_plan(self, strategy: str) -> Plan | None:
        k = len(self._attempts()) + 1
        best, record = self.best()
        tried = self._tried()
        mode: Mode = "iterative" if strategy == "iterative" else "targeted"
        if record is None:
            if strategy == "sweep":
                given = self.space is not None
                space = self.space or self.store.get("phase3.search_space", None) or {}
                key = "sweep:" + change_key(space)
                if space and key not in tried:
                    origin = USER_SPACE if given else "phase3.search_space"
                    return Plan(k, "sweep", best.label, origin, [],
                                best.config.model_dump(mode="json"),
                                extra={"search_space": space, "sweep_key": key})
            # the first attempt from the baseline applies Phase 3's plan as it stands, even a
            # recommendation that changes nothing: its evidence says so
            source = "phase3"
            chosen = select(self._phase3_recommendations(), mode=mode, tried=tried)
        else:
            diagnosis = rediagnose(best, self.project, self.attempt_dir(record["attempt"]))
            source = f"the diagnosis of {best.label}"
            chosen = next_recommendations(
                diagnosis.recommendations, base=best.config, tried=tried, mode=mode
            )
        if not chosen:
            return None
        config = apply(best.config, chosen)
        return Plan(k, strategy if strategy != "sweep" else "targeted", best.label, source,
                    chosen, config.model_dump(mode="json"))

    def _phase3_recommendations(self) -> list[dict[str, Any]]:
        """phase3.recommendations, with the title, rationale and risk of phase3/findings.json.

        The facts are the authority (ids, changes, priorities); the findings file only fills
        in the words a commented config and the report show.
        """
        raw = self.store.get("phase3.recommendations", [])
        if not isinstance(raw, list):
            raise WorkflowError("phase3.recommendations is not a list: re-run phasegate diagnose")
        words: dict[str, dict[str, Any]] = {}
        path = self.store.run_dir / "phase3" / "findings.json"
        try:
            plan = read_json(path).get("plan") or {}
            words = {str(r.get("id")): r for r in plan.get("recommendations", [])}
        except (WorkflowError, AttributeError):
            pass  # no words beyond the facts; the ids and changes are enough
        recommendations = []
        for rec in raw:
            extra = words.get(str(rec.get("id")), {})
            same = extra.get("changes", rec.get("changes")) == rec.get("changes")
            filled = {k: extra[k] for k in ("title", "rationale", "risk") if k in extra and same}
            recommendations.append({**filled, **dict(rec)})
        return recommendations

    def _plan_or_refuse(self, strategy: str) -> Plan:
        plan = self._next_plan(strategy)
        if plan is None:
            tried = [f"attempt {a['attempt']}" for a in self._attempts()]
            raise Refused(
                f"nothing left to try for {self.store.name}: every recommendation was tried "
                f"({', '.join(tried) or 'none'}) or there is none; re-run phasegate diagnose "
                f"{self.store.name}, or choose another --strategy"
            )
        return plan

    def _open_plan(self) -> Plan | None:
        """The plan of an attempt that started but was not decided (a killed run)."""
        k = len(self._attempts()) + 1
        return Plan.load(self.attempt_dir(k))

    # -- one attempt ------------------------------------------------------------------------------

    def _attempt(self, plan: Plan, strategy: str) -> Decision:
        started = time.monotonic()
        folder = self.attempt_dir(plan.attempt)
        reference, ref_record = self.best()
        if Plan.load(folder) is None:
            plan.save(folder, reference.config)
        self.store.record(
            "phase4",
            {"open_attempt": plan.attempt, "decision": None, "reason": None,
             "strategy": strategy},
            who=self.who,
        )
        sweep_context: dict[str, Any] | None = None
        if plan.strategy == "sweep":
            arm, comparison, note, plan, sweep_context = self._sweep(plan, reference, folder)
        else:
            arm = self._train(plan, folder)
            compared = compare_arms(
                reference, arm, metric=self.project.target.measure,
                alpha=self.project.alpha, min_effect=self.project.min_effect,
            )
            comparison, note = compared.comparison, compared.note
        diagnosis = self._diagnose(arm, folder)
        return self._decide(plan, strategy, arm, reference, ref_record, comparison, note,
                            diagnosis, sweep_context, time.monotonic() - started)

    def _train(self, plan: Plan, folder: Path) -> Arm:
        from workflow.runner import finished_run, seed_dir

        config = plan.train_config
        seeds = list(self.project.seeds)
        done = [s for s in seeds if finished_run(seed_dir(folder, s), config) is not None]
        self.progress.attempt(plan, seeds, done, config.training.epochs)
        try:
            return train_arm(
                f"attempt-{plan.attempt}", config, seeds, folder, trainer=self.project.trainer,
                workers=self.workers, on_epoch=self.progress.epoch,
            )
        finally:
            self.progress.end_attempt()

    def _diagnose(self, arm: Arm, folder: Path) -> Diagnosis | None:
        if not arm.usable():
            return None
        try:
            return rediagnose(arm, self.project, folder)
        except WorkflowError as exc:  # the attempt stands without its diagnosis; say so
            self.progress.note(f"{arm.label}: the re-diagnosis failed: {exc}")
            return None

    def _decide(
        self,
        plan: Plan,
        strategy: str,
        arm: Arm,
        reference: Arm,
        ref_record: dict[str, Any] | None,
        comparison: Any | None,
        note: str,
        diagnosis: Diagnosis | None,
        sweep_context: dict[str, Any] | None,
        seconds: float,
    ) -> Decision:
        from workflow.stats import summarize

        k = plan.attempt
        earlier = self._attempts()
        values = list(arm.values(self.metric).values())
        candidate = summarize(values) if values else None
        if comparison is not None:
            ref_mean = comparison.baseline.mean
            points = gain_points(comparison.mean_diff, ref_mean, is_rate=self.is_rate)
            evidence = Evidence(k, comparison.significant, points, comparison.reason)
        else:
            evidence = Evidence(k, False, None, note or "no comparison could be made")
        met, target_text = target_check(
            candidate.mean if candidate else None, self.project.target.goal, metric=self.metric,
            higher_is_better=self.higher, significant=evidence.significant,
        )
        minutes = sum(float(a.get("minutes", 0.0)) for a in earlier) + seconds / 60.0
        decision = decide(
            evidence,
            earlier=[Evidence(**a["evidence"]) for a in earlier],
            target_met=met,
            target_text=target_text,
            budget=Budget(
                attempts_used=k,
                iteration_limit=self.project.iteration_limit,
                minutes_used=minutes,
                time_budget_minutes=self.project.time_budget_minutes,
            ),
        )
        record = {
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
            "arm": {
                "label": arm.label,
                "root": os.path.relpath(arm.root, self.store.run_dir),
                "seeds": arm.seeds,
            },
            "candidate": candidate.to_dict() if candidate else None,
            "compared_with": reference.label,
            "comparison": comparison.to_dict() if comparison is not None else None,
            "note": note,
            "evidence": evidence.to_dict(),
            "target_met": met,
            "target_text": target_text,
            "decision": decision.code.value,
            "reason": decision.reason,
            "minutes": seconds / 60.0,
            "diagnosis": _diagnosis_summary(diagnosis),
            "sweep": sweep_context,
            "sweep_key": plan.extra.get("sweep_key"),
        }
        attempts = [*earlier, record]
        best_attempt = k if evidence.significant else int(
            self.store.get("phase4.best.attempt", 0) or 0
        )
        best_arm = arm if evidence.significant else reference
        best_record = record if evidence.significant else ref_record
        facts = self._gate_facts(best_arm, best_record, arm, record)
        if decision.code is DecisionCode.C:
            facts["training_completed"] = False  # back in Phase 3: no optimized config trained
        self.progress.note(f"attempt {k}: decision {decision.code.value}: {decision.reason}")
        self.store.record(
            "phase4",
            {
                "strategy": strategy,
                "attempts": attempts,
                "open_attempt": None,
                "decision": decision.code.value,
                "reason": decision.reason,
                "decision_attempt": k,
                "transition": decision.transition,
                "flagged": decision.flagged,
                "minutes_used": minutes,
                "best": {
                    "attempt": best_attempt,
                    "arm": best_arm.label,
                    self.metric: mean_std(best_arm, self.metric),
                },
                **facts,
                "pending_transition": decision.transition,
            },
            who=self.who,
        )
        self._write_artifacts(best_arm, best_record, arm, decision, attempts)
        self._take(decision.transition, decision.reason)
        return decision

    def _nothing_left(self) -> None:
        """After B, no untried recommendation remains: Phase 4 ends with the best so far."""
        attempts = self._attempts()
        last = attempts[-1]
        reason = (
            f"Budget spent: no untried recommendation is left after attempt {last['attempt']} "
            "(its diagnosis proposes only changes already tried or already set); the best so "
            "far is kept and flagged."
        )
        decision = Decision(DecisionCode.BUDGET, reason)
        best_arm, best_record = self.best()
        latest = self.arm_of(last)
        facts = self._gate_facts(best_arm, best_record, latest, last)
        self.progress.note(f"decision budget: {reason}")
        self.store.record(
            "phase4",
            {"decision": decision.code.value, "reason": reason,
             "decision_attempt": last["attempt"], "transition": decision.transition,
             "flagged": True, **facts, "pending_transition": decision.transition},
            who=self.who,
        )
        self._write_artifacts(best_arm, best_record, latest, decision, attempts)
        self._take(decision.transition, reason)

    def _gate_facts(
        self,
        best_arm: Arm,
        best_record: Mapping[str, Any] | None,
        latest: Arm,
        latest_record: Mapping[str, Any],
    ) -> dict[str, Any]:
        """What optimization_complete checks: the kept arm against the baseline.

        When nothing was kept, the comparison is the latest attempt's against the baseline:
        the evidence that nothing beat it.
        """
        # an attempt compared with the baseline itself keeps its own comparison (a sweep's
        # is Holm-adjusted over its candidates); a later one is compared with it afresh
        direct = best_record if best_record is not None else latest_record
        if direct.get("compared_with") == BASELINE and (
            direct.get("comparison") or best_record is None
        ):
            return self._facts_from(best_arm, direct.get("comparison"), direct["arm"]["label"])
        shown = best_arm if best_record is not None else latest
        compared = compare_arms(
            self.baseline, shown, metric=self.project.target.measure,
            alpha=self.project.alpha, min_effect=self.project.min_effect,
        )
        data = compared.comparison.to_dict() if compared.comparison is not None else None
        return self._facts_from(best_arm, data, shown.label)

    def _facts_from(
        self, best_arm: Arm, comparison: dict[str, Any] | None, compared_arm: str
    ) -> dict[str, Any]:
        usable = best_arm.usable()
        significant = bool(comparison and comparison.get("significant"))
        mean = mean_std(best_arm, self.metric).get("mean")
        met, _ = target_check(
            mean, self.project.target.goal, metric=self.metric, higher_is_better=self.higher,
            significant=significant and best_arm.label != BASELINE,
        )
        return {
            "comparison": (
                {**comparison, "arm": compared_arm, "against": BASELINE} if comparison else None
            ),
            "target_met": met,
            "seeds": len(usable),
            "training_completed": len(usable) == len(best_arm.results) and bool(usable),
        }

    # -- artifacts ---------------------------------------------------------------------------

    def _write_artifacts(
        self,
        best_arm: Arm,
        best_record: Mapping[str, Any] | None,
        latest: Arm,
        decision: Decision,
        attempts: Sequence[Mapping[str, Any]],
    ) -> None:
        from phases.optimization.results import copy_checkpoints, write_results

        lineage = self._lineage(best_record, attempts)
        recs = [r for a in lineage for r in a["recommendations"]]
        if best_record is None:
            header = (
                f"Phase 4 of {self.store.name}, decision {decision.code.value}: no attempt beat "
                "the baseline, so this is the baseline config, unchanged."
            )
            if decision.code is DecisionCode.C:
                header += " The attempt's changes were dropped: the baseline config is restored."
        else:
            steps = ", ".join(f"attempt {a['attempt']}" for a in lineage)
            header = (
                f"Phase 4 of {self.store.name}, decision {decision.code.value}: the baseline "
                f"config with the changes of {steps}."
            )
        text = config_yaml(self.baseline_config, best_arm.config, recs, header=header)
        atomic_write_text(self.phase4 / CONFIG_NAME, text)
        if decision.code is not DecisionCode.C:  # after C there is no optimized model to keep
            for line in copy_checkpoints(
                best_arm, self.phase4, metric=self.project.target.measure
            ):
                self.progress.note(line)
        shown = best_arm if best_record is not None else latest
        write_results(
            self.phase4,
            project=self.project,
            baseline=self.baseline,
            optimized=shown,
            kept=best_record is not None,
            decision=decision,
            attempts=list(attempts),
            lineage=lineage,
            changes=config_diff(self.baseline_config, best_arm.config),
            comparison=self.store.get("phase4.comparison", None),
            strategy=str(self.store.get("phase4.strategy", "")),
            project_dir=self.store.project_dir,
        )

    def _lineage(
        self, record: Mapping[str, Any] | None, attempts: Sequence[Mapping[str, Any]]
    ) -> list[Mapping[str, Any]]:
        """The attempts whose changes the kept config carries, oldest first."""
        by_label = {f"attempt-{a['attempt']}": a for a in attempts}
        chain: list[Mapping[str, Any]] = []
        while record is not None:
            chain.append(record)
            record = by_label.get(str(record["base"]))
        return chain[::-1]

    # -- the sweep hook ------------------------------------------------------------------------

    def _sweep(
        self, plan: Plan, reference: Arm, folder: Path
    ) -> tuple[Arm, Any | None, str, Plan, dict[str, Any] | None]:
        """One sweep attempt through phases.optimization.sweep.run_sweep (see _sweep_runner)."""
        sweep = _sweep_module()
        knobs = ", ".join(plan.extra["search_space"])
        self.progress.note(f"attempt {plan.attempt}: sweep over {knobs}")
        options: dict[str, Any] = {
            "settings": sweep.SweepSettings(**{"monitor": self.metric, **self.sweep_settings}),
            "fresh_seeds": list(self.project.fresh_seeds),
            "baseline_values": list(reference.values(self.metric).values()),
            "trainer": self.project.trainer,
            "alpha": self.project.alpha,
            "min_effect": self.project.min_effect,
            "project_dir": self.store.project_dir,
        }
        accepted = inspect.signature(sweep.run_sweep).parameters
        result = sweep.run_sweep(
            reference.config,
            _plan_space(sweep, plan),
            folder / "sweep",
            **{k: v for k, v in options.items() if k in accepted},
        )
        context = sweep.section_context(result, self.phase4)
        chosen = result.chosen
        if chosen is None:
            raise WorkflowError(
                f"the sweep of attempt {plan.attempt} chose no candidate (no trial completed with "
                f"a usable re-run); see {folder / 'sweep'}"
            )
        pseudo = normalize_recommendation(
            {"id": f"T{chosen.trial}", "title": f"sweep trial {chosen.trial}",
             "priority": "HIGH", "changes": chosen.params, "finding": "the sweep",
             "rationale": "the best re-run mean of the sweep's top trials on fresh seeds"},
            1,
        )
        plan = Plan(plan.attempt, "sweep", plan.base, plan.source, [pseudo],
                    chosen.config.model_dump(mode="json"), extra=plan.extra)
        plan.save(folder, reference.config)
        arm = load_arm(f"attempt-{plan.attempt}", Path(chosen.rerun_dir), chosen.config,
                       list(chosen.seeds))
        return arm, chosen.comparison, chosen.note, plan, context


def _diagnosis_summary(diagnosis: Diagnosis | None) -> dict[str, Any] | None:
    """What the facts keep of a round's diagnosis (the whole is in attempt-<k>/diagnosis/)."""
    if diagnosis is None:
        return None
    return {
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
    }


def _plan_space(sweep: Any, plan: Plan) -> Any:
    """The SearchSpace of a sweep plan; errors name where it came from."""
    data = plan.extra["search_space"]
    if plan.source == USER_SPACE:
        return sweep.space_from_phase3(data, source=USER_SPACE)
    return sweep.space_from_phase3(data)


def _sweep_module() -> Any:
    """The hook for --strategy sweep: the phases.optimization.sweep package, or a refusal.

    Used when it exposes `run_sweep` (with `space_from_phase3`, `SweepSettings` and
    `section_context`): `run_sweep(base_config, space, sweep_dir, *, settings, fresh_seeds,
    baseline_values, trainer, alpha, min_effect, project_dir) -> SweepResult`, whose `chosen`
    candidate (re-run on the fresh seeds, compared with the reference arm) becomes the
    attempt's arm. Phase 4 itself decides, records and reports, as for any attempt; the
    sweep's section of the report is `sweep_section.md.j2`.
    """
    try:
        module = importlib.import_module("phases.optimization.sweep")
    except ImportError:
        module = None
    if not callable(getattr(module, "run_sweep", None)):
        raise ConfigError(
            "--strategy sweep is not available: phases.optimization.sweep exposes no run_sweep "
            "in this install; choose --strategy targeted or iterative"
        )
    return module

