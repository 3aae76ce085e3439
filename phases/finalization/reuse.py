"""Phase 5 does no work Phase 4 already did: the chosen arm's runs, reused when identical.

Phase 5 trains the chosen config on the project's seeds. Phase 4 (or the
baseline, when Phase 4 was skipped) has usually trained that very config on
those very seeds already, and the built-in trainer is deterministic: the
retraining gave bit-identical runs, a third of the quickstart walk's time. So
before training, Phase 5 looks for an arm whose every seed finished with the
same config, split included (the data section: dataset, fractions, split seed),
verified by the sha256 of each run's recorded `config.yaml` against the chosen
config's, trained by the same trainer (the project's). When one is found its run
folders are linked into `phase5/final/seed-<n>/` (hard links; `metrics.json`
rewritten to name its new paths and the run it came from), and
`phase5.final_source` says so; the report states it. Otherwise the config is
trained as before and `final_source` says why nothing was reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflow.io import atomic_write_json, read_json
from workflow.own_config import RunConfig
from workflow.safe_yaml import read_yaml
from workflow.trainer.result import CONFIG_FILE, METRICS_FILE
from workflow.trainer.run_folder import publish, staging_dir

__all__ = ["REUSED_FROM", "Source", "config_sha256", "find_source", "link_runs"]

REUSED_FROM = "reused_from"  # the key metrics.json of a reused run names its origin by


def config_sha256(config: dict[str, Any] | RunConfig) -> str:
    """The sha256 of a config as a run records it, its seed left out (a seed is per run)."""
    data = config if isinstance(config, dict) else config.model_dump(mode="json")
    data = dict(data)
    data.pop("seed", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Source:
    """Where the final training's runs come from, and why: the `phase5.final_source` fact."""

    reused: bool
    source: str  # the arm's folder, relative to the run directory
    config_sha256: str
    seeds: list[int]
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {"reused": self.reused, "source": self.source,
                "config_sha256": self.config_sha256, "seeds": list(self.seeds), "why": self.why}


def find_source(run_dir: Path, config: RunConfig, seeds: Sequence[int], final_dir: str) -> Source:
    """The first arm (Phase 4's attempts, newest first, then the baseline) whose every seed
    finished with `config`, by hash; else a `Source` that trains into `final_dir`."""
    expected = config_sha256(config)
    for root in _arms(run_dir):
        if all(_same_run(root / f"seed-{seed}", expected) for seed in seeds):
            where = root.relative_to(run_dir).as_posix()
            return Source(True, where, expected, list(seeds),
                          f"{where} trained this very config (sha256 {expected[:12]}, split "
                          f"included) on seeds {', '.join(map(str, seeds))}: its runs are "
                          "reused, not trained again")
    return Source(False, final_dir, expected, list(seeds),
                  "no earlier arm trained this config on every project seed: trained here")


def link_runs(run_dir: Path, source: Source, dest: Path) -> None:
    """Link each seed's run of `source` into `dest/seed-<n>/` (finished seeds are kept)."""
    for seed in source.seeds:
        origin = run_dir / source.source / f"seed-{seed}"
        target = dest / f"seed-{seed}"
        if (target / METRICS_FILE).is_file():
            continue
        staging = staging_dir(target)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(origin, staging, copy_function=_link)
        metrics = read_json(origin / METRICS_FILE)
        os.unlink(staging / METRICS_FILE)  # a link: rewriting it would change the original
        atomic_write_json(staging / METRICS_FILE, _moved(metrics, origin, target))
        publish(staging, target)


def _arms(run_dir: Path) -> list[Path]:
    attempts = sorted((p for p in (run_dir / "phase4").glob("attempt-*") if p.is_dir()),
                      key=lambda p: _number(p.name), reverse=True)
    return [*attempts, run_dir / "baseline"]


def _number(name: str) -> int:
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def _same_run(folder: Path, expected: str) -> bool:
    if not (folder / METRICS_FILE).is_file() or not (folder / CONFIG_FILE).is_file():
        return False
    if read_json(folder / METRICS_FILE).get("status") not in ("completed", "early_stopped"):
        return False
    return config_sha256(read_yaml(folder / CONFIG_FILE)) == expected


def _moved(metrics: dict[str, Any], origin: Path, target: Path) -> dict[str, Any]:
    """metrics.json of a run that now lives in `target`: its paths name `target`."""

    def move(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(str(origin) + os.sep):
            return str(target) + value[len(str(origin)):]
        if isinstance(value, dict):
            return {k: move(v) for k, v in value.items()}
        return value

    moved = {k: move(v) for k, v in metrics.items()}
    moved[REUSED_FROM] = str(origin)
    return moved


def _link(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or no hard links here: a copy
        shutil.copy2(src, dst)
