"""Phase 5 reuses an earlier arm's runs of the very same config, seeds and split."""

from __future__ import annotations

import json
from pathlib import Path

from phases.finalization.reuse import REUSED_FROM, config_sha256, find_source, link_runs
from tests.conftest import tiny_config
from workflow.runner import train_seeds
from workflow.store import Store
from workflow.trainer.config import TrainConfig


# rule: a project whose final config is the baseline's (Phase 4 skipped) finalizes on the
# baseline's own runs, linked, not trained again: phase5.final_source says so, the report
# says so, and each final run is the baseline's run, value for value, with its paths moved
def test_the_final_training_reuses_identical_runs(finalized: Store) -> None:
    run_dir = finalized.run_dir
    source = finalized.get("phase5.final_source")
    assert source["reused"] is True and source["source"] == "baseline"
    assert source["seeds"] == [0, 1, 2] and len(source["config_sha256"]) == 64
    report = (run_dir / "phase5/finalization_report.md").read_text()
    assert "the runs of baseline reused, not trained again" in report
    for seed in (0, 1, 2):
        final = json.loads((run_dir / f"phase5/final/seed-{seed}/metrics.json").read_text())
        base = json.loads((run_dir / f"baseline/seed-{seed}/metrics.json").read_text())
        assert final["best"] == base["best"] and final["best_epoch"] == base["best_epoch"]
        assert final[REUSED_FROM] == str(run_dir / f"baseline/seed-{seed}")
        assert final["checkpoints"]["best"].startswith(str(run_dir / "phase5/final"))
        assert Path(final["checkpoints"]["best"]).is_file()
    selection = finalized.get("phase5.selection")
    assert selection["run_dir"].startswith(str(run_dir / "phase5/final"))


# rule: an arm is reused only when every project seed finished with the same config (its
# sha256, the data split included); one seed trained with another config, or another split,
# and nothing is reused: the final training trains, and says why
def test_nothing_is_reused_unless_every_seed_matches(tmp_path: Path) -> None:
    config = TrainConfig.model_validate(tiny_config())
    other = config.with_changes({"training.epochs": 1})
    attempt = tmp_path / "phase4" / "attempt-1"
    train_seeds(config, [0, 1], attempt, workers=1)
    train_seeds(other, [2], attempt, workers=1)
    found = find_source(tmp_path, config, [0, 1, 2], "phase5/final")
    assert not found.reused and found.source == "phase5/final"
    assert "trained here" in found.why
    assert find_source(tmp_path, config, [0, 1], "phase5/final").reused
    resplit = config.with_changes({"data.split_seed": 1})
    assert config_sha256(resplit) != config_sha256(config)
    assert not find_source(tmp_path, resplit, [0, 1], "phase5/final").reused
    # the newest attempt first: attempt-2 holds the same runs, and is the one named
    train_seeds(config, [0, 1, 2], tmp_path / "phase4" / "attempt-2", workers=1)
    found = find_source(tmp_path, config, [0, 1, 2], "phase5/final")
    assert found.reused and found.source == "phase4/attempt-2"
    link_runs(tmp_path, found, tmp_path / "phase5" / "final")
    linked = train_seeds(config, [0, 1, 2], tmp_path / "phase5" / "final", workers=1)
    assert [r.best for _, r in sorted(linked.items())] == [
        r.best for _, r in sorted(train_seeds(config, [0, 1, 2],
                                              tmp_path / "phase4" / "attempt-2").items())]
    assert not list((tmp_path / "phase5" / "final").glob(".seed-*"))
