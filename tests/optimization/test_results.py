"""phases.optimization.results: the report's numbers, in one unit per metric."""

from __future__ import annotations

import re
from pathlib import Path

from phases.optimization.decision import Decision, DecisionCode
from phases.optimization.results import TEMPLATE, build_context
from tests.conftest import tiny_config
from workflow.arms import Arm, compare_arms, run_from_history
from workflow.facts._phase4 import KeptComparison
from workflow.project import ProjectConfig, Target
from workflow.reports import render
from workflow.stats import Rule
from workflow.trainer.config import TrainConfig

CONFIG = TrainConfig.model_validate(tiny_config())


def _loss_arm(label: str, losses: list[float]) -> Arm:
    results = {seed: run_from_history(seed, [{"epoch": 1, "train_loss": v, "val_loss": v,
                                              "val_accuracy": 0.5}], monitor="val_loss")
               for seed, v in enumerate(losses)}
    return Arm(label, Path(label), CONFIG, results)


# rule: a loss target's gains, intervals and min_effect are all percent of the reference's
# mean: no raw-loss interval beside a percent gain (issue 11's "measured 7.0 [0.02, 0.05]")
def test_a_loss_target_shows_one_unit() -> None:
    project = ProjectConfig(name="loss", baseline=Path("b.yaml"),
                            target=Target(metric="val_loss", goal=0.3), min_effect=0.01)
    measure = project.target.measure
    base = _loss_arm("baseline", [0.50, 0.52, 0.49, 0.51, 0.50])
    cand = _loss_arm("attempt-1", [0.46, 0.47, 0.45, 0.47, 0.46])
    compared = compare_arms(base, cand, metric=measure, rule=Rule(min_effect=0.01, family=3))
    assert compared.comparison is not None
    record = KeptComparison.model_validate({**compared.comparison.to_dict(), "arm": "attempt-1",
                                            "against": "baseline"})
    decision = Decision(DecisionCode.B, "iterate")
    context = build_context(
        project=project, baseline=base, optimized=cand, kept=True, decision=decision,
        attempts=[], lineage=[], changes=[], comparison=record, strategy="targeted",
        plots={"metric": None, "loss": None},
    )
    text = render(TEMPLATE, context)
    mean = 0.504
    diff = 100 * compared.comparison.mean_diff / mean
    low = 100 * compared.comparison.ci_low / mean
    assert f"| mean difference | {diff:+.2f} % |" in text
    assert f"| 95% interval of the difference (paired t) | [{low:+.2f}," in text
    welch_low = 100 * compared.comparison.beside.ci_low / mean  # type: ignore[union-attr]
    assert "beside it, never deciding: Welch p, 95% interval | " in text
    assert f", [{welch_low:+.2f}," in text
    assert f"minimum effect 0.01 ({100 * 0.01 / mean:.2f} %)" in text
    assert "Gains and intervals are in % of the reference's mean" in text
    # the gain these seeds can detect, in the same unit (Rule.detectable_effect, pooled sd)
    assert re.search(r"smallest gain these seeds detect \(80% power.*\| \+\d+\.\d\d % \|", text)
    # no bare raw-loss difference such as [+0.0331, +0.0469] anywhere
    assert not re.search(r"\[\+0\.0\d{3}", text)
    # the goal is missed, and the report says so first
    first = "**Goal not met: val_loss goal 0.3000; the kept config (attempt-1) reaches 0.4620."
    assert first in text
