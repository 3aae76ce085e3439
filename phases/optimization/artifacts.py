"""What Phase 4 leaves on disk after each decision: the kept config, checkpoints, the report.

- `phase4/optimization_config.yaml`: the baseline config with the changes of the
  kept attempts (the lineage), each changed line commented; after C, the baseline
  config unchanged.
- `phase4/checkpoints/optimized/`: the kept arm's best seed's checkpoints (not
  after C: there is no optimized model).
- `phase4/optimization_results.md` and its JSON twin (results.write_optimization_results).
"""

from __future__ import annotations

from collections.abc import Sequence

from phases.optimization.context import Context
from phases.optimization.decision import DecisionCode
from phases.optimization.recording import Recorded
from phases.optimization.results import copy_checkpoints, write_optimization_results
from phases.optimization.targeted import config_yaml
from workflow.facts import AttemptRecord
from workflow.io import atomic_write_text
from workflow.trainer.commented import config_diff

__all__ = ["CONFIG_NAME", "lineage", "write_artifacts"]

CONFIG_NAME = "optimization_config.yaml"


def write_artifacts(context: Context, recorded: Recorded) -> None:
    """Write the kept config, copy the checkpoints and write the results report."""
    decision, best_arm, best_record = recorded.decision, recorded.best_arm, recorded.best_record
    name = context.store.name
    chain = lineage(best_record, recorded.attempts)
    recs = [r.model_dump(mode="json") for a in chain for r in a.recommendations]
    if best_record is None:
        header = (
            f"Phase 4 of {name}, decision {decision.code.value}: no attempt beat "
            "the baseline, so this is the baseline config, unchanged."
        )
        if decision.code is DecisionCode.C:
            header += " The attempt's changes were dropped: the baseline config is restored."
    else:
        steps = ", ".join(f"attempt {a.attempt}" for a in chain)
        header = (
            f"Phase 4 of {name}, decision {decision.code.value}: the baseline "
            f"config with the changes of {steps}."
        )
    text = config_yaml(context.baseline_config, best_arm.config, recs, header=header)
    atomic_write_text(context.phase4 / CONFIG_NAME, text)
    if decision.code is not DecisionCode.C:  # after C there is no optimized model to keep
        for line in copy_checkpoints(best_arm, context.phase4, metric=context.metric):
            context.progress.note(line)
    facts = context.facts()
    write_optimization_results(
        context.phase4,
        project=context.project,
        baseline=context.baseline,
        optimized=best_arm if best_record is not None else recorded.latest,
        kept=best_record is not None,
        decision=decision,
        attempts=list(recorded.attempts),
        lineage=chain,
        changes=config_diff(context.baseline_config, best_arm.config),
        comparison=facts.comparison,
        strategy=facts.strategy or "",
        project_dir=context.store.project_dir,
    )


def lineage(
    record: AttemptRecord | None, attempts: Sequence[AttemptRecord]
) -> list[AttemptRecord]:
    """The attempts whose changes the kept config carries, oldest first."""
    by_label = {f"attempt-{a.attempt}": a for a in attempts}
    chain: list[AttemptRecord] = []
    while record is not None:
        chain.append(record)
        record = by_label.get(record.base)
    return chain[::-1]
