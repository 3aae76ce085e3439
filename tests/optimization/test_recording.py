"""Phase 4's records: written through Phase4Facts and AttemptRecord, refused when they misfit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from phases.optimization.artifacts import lineage
from phases.optimization.context import Context
from phases.optimization.recording import record
from tests.conftest import tiny_config
from tests.optimization.helpers import FAKE_TRAINER, diagnosed_project, rec
from workflow.errors import FactsError
from workflow.facts import AttemptRecord, read_facts
from workflow.progress import QuietProgress


def attempt(k: int, base: str, decision: str = "B") -> AttemptRecord:
    data: dict[str, Any] = {
        "attempt": k, "strategy": "targeted", "base": base, "source": "phase3",
        "arm": {"label": f"attempt-{k}", "root": f"phase4/attempt-{k}", "seeds": [0, 1, 2]},
        "evidence": {"attempt": k, "significant": decision == "B", "gain_points": 5.0},
        "decision": decision,
        "changes": [{"path": "model.dropout", "from": "0.0", "to": "0.3"}],
    }
    return AttemptRecord.model_validate(data)


def test_a_record_that_does_not_fit_the_model_is_refused_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the rule: Phase 4 writes its facts through Phase4Facts; an attempt missing its arm or
    # a decision that is not one of the five is a FactsError naming the field, and
    # facts.json stays as it was
    monkeypatch.setenv("PHASEGATE_WORKERS", "1")
    store = diagnosed_project(tmp_path, tiny_config(training={"epochs": 4}), [
        rec("R1", "HIGH", {"model.dropout": 0.3}),
        rec("R2", "LOW", {"optimizer.weight_decay": 0.01}),
        rec("R3", "LOW", {"schedule.name": "cosine"}),
    ], trainer=FAKE_TRAINER)
    context = Context(store, strategy_name="targeted", who="test", workers=1,
                      progress=QuietProgress())
    before = store.facts
    with pytest.raises(FactsError, match="arm"):
        record(context, attempts=[{"attempt": 1, "strategy": "targeted", "base": "baseline",
                                   "source": "phase3", "decision": "B",
                                   "evidence": {"attempt": 1, "significant": True}}])
    with pytest.raises(FactsError, match="decision"):
        record(context, decision="E")
    assert store.facts == before
    record(context, decision="C", reason="no gain", attempts=[attempt(1, "baseline", "C")])
    facts = read_facts(store).phase4
    assert facts.decision == "C" and facts.attempts == [attempt(1, "baseline", "C")]
    # a config change keeps its `from` key on disk (a Python keyword in the model)
    assert store.get("phase4.attempts")[0]["changes"][0]["from"] == "0.0"


def test_the_lineage_follows_each_attempts_base_back_to_the_baseline() -> None:
    # the kept config carries the changes of the kept attempt and of every attempt it was
    # built on, oldest first; an attempt off that chain is not part of it
    attempts = [attempt(1, "baseline"), attempt(2, "attempt-1", "C"), attempt(3, "attempt-1")]
    assert [a.attempt for a in lineage(attempts[2], attempts)] == [1, 3]
    assert [a.attempt for a in lineage(attempts[0], attempts)] == [1]
    assert lineage(None, attempts) == []
