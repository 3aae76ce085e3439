"""`write_run`: a user's trainer hands over its history rows; phasegate's run folder comes out.

A trainer of your own never writes phasegate's layout by hand. At the end of
`fit` it calls

```python
from workflow.protocol import write_run
return write_run(out_dir, config, seed, rows, monitor="val_mse", direction="minimize")
```

with `rows` one dict per epoch (`{"train_loss": .., "val_loss": .., "val_mse": ..}`;
`epoch` is added when missing) and gets back the `RunResult` the protocol's
`fit` returns. It writes `config.yaml` (the config it was given, so a rerun
finds the run finished and does not train it again), `history.csv` (every
column the rows have, phasegate's own first), and `metrics.json` last and
atomically: a run killed before it is not a finished run. Checkpoints and
anything else the trainer saves in `out_dir` stay where it put them; name the
best epoch's and the last epoch's model files in `checkpoints` (`{"best": path,
"last": path}`): they are copied to `checkpoints/best.pt` and `checkpoints/last.pt`,
where Phase 4 keeps them from, and Phase 5's test look binds to their hashes.
"""

from __future__ import annotations

import csv
import io
import math
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from workflow.errors import PluginError
from workflow.io import atomic_write_json, atomic_write_text
from workflow.metric import Direction, Metric
from workflow.trainer.result import (
    CHECKPOINT_DIR,
    CONFIG_FILE,
    HISTORY_COLUMNS,
    HISTORY_FILE,
    METRICS_FILE,
    RunResult,
    RunStatus,
)
from workflow.trainer.run_folder import finite

__all__ = ["write_run"]


def write_run(
    out_dir: str | Path,
    config: Any,
    seed: int,
    history: Sequence[Mapping[str, float]],
    *,
    monitor: str,
    direction: Direction | None = None,
    checkpoints: Mapping[str, str | Path] | None = None,
    stop_reason: str | None = None,
    wall_time_s: float | None = None,
    samples_per_sec: float = 0.0,
    started: float | None = None,
) -> RunResult:
    """Write the run folder of one finished run (see the module docstring); its `RunResult`.

    `stop_reason` marks a run stopped by `should_stop` (status `pruned`); a run whose
    monitor is not finite at its last epoch is `diverged`. `started` is a
    `time.perf_counter()` taken when training began (else give `wall_time_s`).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metric = Metric.named(monitor, direction)
    rows = [_row(i, row) for i, row in enumerate(history)]
    if not rows:
        raise PluginError(f"write_run({out_dir}): the history has no rows (one per epoch)")
    if all(monitor not in row for row in rows):
        raise PluginError(f"write_run({out_dir}): no history row has the monitor {monitor!r} "
                          f"(columns: {', '.join(rows[0])})")
    best = metric.best_row(rows)
    last = rows[-1].get(monitor)
    if stop_reason is not None:
        status = RunStatus.PRUNED
    elif last is None or not math.isfinite(last):
        status = RunStatus.DIVERGED
    else:
        status = RunStatus.COMPLETED
    if wall_time_s is None:
        wall_time_s = time.perf_counter() - started if started is not None else 0.0
    kept = _place_checkpoints(out_dir, checkpoints or {})
    dumped = config.model_dump(mode="json") if hasattr(config, "model_dump") else dict(config)
    atomic_write_text(out_dir / CONFIG_FILE, yaml.safe_dump(dumped, sort_keys=False))
    _write_history(out_dir / HISTORY_FILE, rows)
    result = RunResult(
        status=status,
        seed=int(seed),
        history=rows,
        best_epoch=int(best["epoch"]) if best is not None else None,
        best=dict(best) if best is not None else {},
        final=dict(rows[-1]),
        monitor=monitor,
        wall_time_s=float(wall_time_s),
        samples_per_sec=float(samples_per_sec),
        checkpoints=kept,
        stop_reason=stop_reason,
    )
    atomic_write_json(out_dir / METRICS_FILE, finite(result.to_metrics()))  # last: finished
    return result


def _place_checkpoints(out_dir: Path, given: Mapping[str, str | Path]) -> dict[str, str]:
    """Each named model file, copied to `checkpoints/<name>.pt` unless it is there already."""
    kept = {}
    for name, source in given.items():
        source = Path(source)
        if not source.is_file():
            raise PluginError(f"write_run({out_dir}): checkpoint {name!r}: {source} is not a file")
        target = out_dir / CHECKPOINT_DIR / f"{name}.pt"
        if source.resolve() != target.resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        kept[name] = str(target)
    return kept


def _row(index: int, row: Mapping[str, float]) -> dict[str, float]:
    parsed: dict[str, float] = {"epoch": index + 1}
    for key, value in row.items():
        try:
            parsed[str(key)] = int(value) if key in ("epoch", "stage") else float(value)
        except (TypeError, ValueError):
            raise PluginError(f"history row {index + 1}: {key}={value!r} is not a number") \
                from None
    return parsed


def _write_history(path: Path, rows: list[dict[str, float]]) -> None:
    seen = dict.fromkeys(key for row in rows for key in row)
    columns = [c for c in HISTORY_COLUMNS if c in seen] + [c for c in seen
                                                          if c not in HISTORY_COLUMNS]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})
    atomic_write_text(path, buffer.getvalue())
