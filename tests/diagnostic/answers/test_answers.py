"""phases.diagnostic.answers: every answer a rule or the fallbacks make is a valid patch whose
search space Phase 4 can parse, and ANSWERS names exactly the answers made."""

from __future__ import annotations

from phases.diagnostic.answers import ANSWERS, FALLBACK_ANSWERS, Context, fallbacks
from phases.diagnostic.rules import RULES, Finding
from phases.optimization.sweep.space import space_from_phase3
from tests.diagnostic.histories import clean_config, evidence, seeds
from workflow.trainer.config import TrainConfig

BARE = {  # the trainer's defaults: no schedule, no regularization, no augmentation, no clip
    "schedule.name": "none", "schedule.warmup_epochs": 0, "optimizer.name": "adam",
    "optimizer.weight_decay": 0.0, "model.dropout": 0.0, "data.augment": [],
    "training.grad_clip": None, "training.early_stopping": None,
}


def test_every_search_space_is_one_phase_4_can_parse() -> None:
    # each candidate's knobs are float/int ranges (low < high, a log range above zero) or
    # categorical choices, the shape Phase 4's sweep reads from phase3.search_space
    numbers = {"gap_points": 20, "shortfall_points": 10, "seeds": 3, "diverged_seeds": 1,
               "late_gain": 3, "best_epoch": 4,
               # a starving streaming loader: its settings now and the ones it is advised
               "workers": 0, "prefetch": 2, "pin_memory": "auto", "recommended_workers": 2,
               "recommended_prefetch": 4, "recommended_pin_memory": "on", "data_wait_pct": 45.0,
               "settings": ["schedule.name", "data.augment", "regularization",
                            "training.grad_clip", "model.pretrained"]}
    spaces, names = [], set()
    # the last one is already augmented with dropout 0.3: overfitting's answer is a smaller model
    for config in (TrainConfig(), clean_config(), clean_config(**BARE),
                   clean_config(**{"model.dropout": 0.3})):
        ctx = Context(config, evidence(seeds(), config=config), 20.0, frozenset())
        for rule in RULES:
            finding = Finding(rule.id, rule.title, "high", numbers, "t")
            for rec in [*rule.offer(finding, ctx, "HIGH"), *fallbacks(ctx)]:
                config.with_changes(rec.changes)
                spaces.append(rec.space)
                names.add(rec.name)
    assert len(spaces) > 30
    assert names == set(ANSWERS)  # every answer is made somewhere, none outside ANSWERS
    for space in spaces:
        for knob, spec in space.items():
            config = TrainConfig()
            if spec["type"] == "categorical":
                assert len(spec["choices"]) >= 2
                for choice in spec["choices"]:
                    config.with_changes({knob: choice})
            else:
                assert spec["type"] in ("float", "int") and spec["low"] < spec["high"], knob
                assert not spec.get("log") or spec["low"] > 0
    for space in spaces:
        if space:
            space_from_phase3(space)


def test_the_fallbacks_make_only_the_answers_they_name() -> None:
    # FALLBACK_ANSWERS is what the registry cross-checks: it must be what fallbacks() makes
    made = set()
    for config in (TrainConfig(), clean_config(), clean_config(**BARE)):
        ctx = Context(config, evidence(seeds(), config=config), 20.0, frozenset())
        made |= {rec.name for rec in fallbacks(ctx)}
    assert made == set(FALLBACK_ANSWERS)
