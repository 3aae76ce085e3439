"""Sweep: search the recommended knobs (phases.optimization.sweep), then go on as targeted.

The first attempt searches Phase 3's search space (`phase3.search_space`), or the
one given with `--space`, around the baseline: `run_sweep` runs the trials in
`workers` processes (each trial trains on the first fresh seed) and re-runs the top
trials on the project's fresh seeds; the best re-run mean is chosen. The chosen config
is then trained on the project's seeds, which chose nothing, and that arm is the
attempt's, compared with the reference and decided like any other: selecting on one
set of seeds and measuring on another is what keeps the winner's curse out of its
gain and out of the target check. Later attempts (after B) plan and train as targeted
does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from phases.optimization.context import USER_SPACE
from phases.optimization.strategies._targeted import TargetedStrategy
from phases.optimization.targeted import AttemptPlan, change_key, normalize_recommendation
from workflow.errors import ConfigError, WorkFailed
from workflow.facts import read_facts
from workflow.strategy import AttemptResult

if TYPE_CHECKING:
    from phases.optimization.context import Context
    from workflow.arms import Arm

__all__ = ["SweepStrategy"]

SEARCH_SPACE = "search_space"  # a sweep plan's extra: the space it searches


def _sweep() -> Any:
    """The sweep package; refused in one line when this install has none."""
    try:
        import phases.optimization.sweep as sweep
        from phases.optimization.sweep import run_sweep  # noqa: F401  (it must be there)
    except ImportError:
        raise ConfigError(
            "--strategy sweep is not available: phases.optimization.sweep exposes no run_sweep "
            "in this install; choose --strategy targeted or iterative"
        ) from None
    return sweep


def _settings(sweep: Any, context: Context) -> Any:
    """The sweep's settings: the command's, monitoring the project's metric in its direction."""
    return sweep.SweepSettings(**{"monitor": context.metric.name,
                                  # the project's direction, not the name's default
                                  "direction": context.metric.direction,
                                  # trials select, so they train on a selection seed: the
                                  # project's seeds stay unseen until the winner is measured
                                  "train_seed": context.project.fresh_seeds[0],
                                  **context.sweep_settings})


class SweepStrategy(TargetedStrategy):
    """A search over the recommended knobs first; targeted attempts after it."""

    def check(self, context: Context) -> None:
        sweep = _sweep()  # refuses, before anything changes, when none is installed
        if context.space is not None:  # a space that does not fit the config: before entering
            sweep.space_from_phase3(context.space, source=USER_SPACE,
                                    trainer=context.project.trainer).check_config(
                context.baseline_config
            )
        elif not read_facts(context.store).phase3.search_space and not any(
            record.sweep_key for record in context.attempts()
        ):  # never a silent targeted attempt in place of the search that was asked for
            raise ConfigError(
                f"--strategy sweep needs a search space, and Phase 3 of {context.store.name} "
                "recorded none: give one with --space FILE (see configs/space.yaml), or choose "
                "--strategy targeted or iterative"
            )
        # a bad method, pruner or trial budget, or a user's class that does not fit its
        # Optuna base, is refused here too: before Phase 4 is entered, not after
        sweep.check_extensions(_settings(sweep, context))

    def plan(self, context: Context, attempt: int) -> AttemptPlan | None:
        # a space not searched yet is searched around the best so far (the baseline, or
        # the arm kept before a reopen); a space already searched goes on as targeted
        best, _ = context.best()
        given = context.space is not None
        space = context.space or read_facts(context.store).phase3.search_space or {}
        key = "sweep:" + change_key(space)
        if space and key not in context.tried():
            origin = USER_SPACE if given else "phase3.search_space"
            return AttemptPlan(attempt, "sweep", best.label, origin, [],
                               best.config.model_dump(mode="json"),
                               extra={SEARCH_SPACE: space, "sweep_key": key})
        return super().plan(context, attempt)

    def run(self, context: Context, plan: AttemptPlan, reference: Arm) -> AttemptResult:
        if SEARCH_SPACE not in plan.extra:
            return super().run(context, plan, reference)
        sweep = _sweep()
        folder = context.attempt_dir(plan.attempt)
        data = plan.extra[SEARCH_SPACE]
        trainer = context.project.trainer
        space = (sweep.space_from_phase3(data, source=USER_SPACE, trainer=trainer)
                 if plan.source == USER_SPACE else sweep.space_from_phase3(data, trainer=trainer))
        context.progress.step("Phase 4", f"attempt {plan.attempt}: sweep over "
                                         f"{', '.join(data)}")
        metric = context.metric.name
        project = context.project
        result = sweep.run_sweep(
            reference.config,
            space,
            folder / "sweep",
            # the project's direction, not the name's default: a project may minimize any metric
            settings=_settings(sweep, context),
            fresh_seeds=list(project.fresh_seeds),
            baseline_values=list(reference.values(metric).values()),
            trainer=project.trainer,
            alpha=project.alpha,
            min_effect=project.min_effect,
            project_dir=context.store.project_dir,
            workers=context.workers,
            progress=context.progress,
        )
        section = sweep.section_context(result, context.phase4)
        chosen = result.chosen
        if chosen is None:
            raise WorkFailed(
                f"the sweep of attempt {plan.attempt} chose no candidate (no trial completed with "
                f"a usable re-run); see {folder / 'sweep'}"
            )
        pseudo = normalize_recommendation(
            {"id": f"T{chosen.trial}", "title": f"sweep trial {chosen.trial}",
             "priority": "HIGH", "changes": chosen.params, "finding": "the sweep",
             "rationale": "the best re-run mean of the sweep's top trials on fresh seeds; "
                          "measured on the project's seeds"},
            1,
        )
        plan = AttemptPlan(plan.attempt, "sweep", plan.base, plan.source, [pseudo],
                    chosen.config.model_dump(mode="json"), extra=plan.extra)
        plan.save(folder, reference.config)
        # chosen on the fresh seeds, measured on the project's: an unbiased gain
        arm = context.train(plan)
        compared = context.compare(reference, arm)
        return AttemptResult(plan, arm, compared.comparison, compared.note, section)
