"""How fast do the read-only commands start? `status` and `gate check`, in wall time.

Creates a project from configs/quickstart.yaml in a temporary runs folder (`init`, no
training), then runs `phasegate status`, `status --json` and `gate check` as separate
processes, as a user does. Prints, per command, the median and the spread of `--runs`
timed runs after one warm-up (which fills the bytecode cache). Target: a median under
0.5 s on an idle machine. The suite checks only that these commands import no torch
(tests/test_cli_engine.py::test_torch_free): a wall-time bound there failed on loaded
machines, so the figure lives here.

    python benchmarks/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = (["status", "bench"], ["status", "bench", "--json"],
            ["gate", "check", "bench", "diagnostics_complete"])


def _time(argv: list[str], runs_dir: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "workflow", *argv, "--runs", str(runs_dir)],
                   cwd=REPO, capture_output=True, text=True, check=False)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs_dir = Path(tmp) / "runs"
        subprocess.run([sys.executable, "-m", "workflow", "init", "bench", "--config",
                        str(REPO / "configs" / "quickstart.yaml"), "--runs", str(runs_dir)],
                       cwd=REPO, capture_output=True, text=True, check=True)
        worst = 0.0
        for argv in COMMANDS:
            _time(argv, runs_dir)  # warm-up: the bytecode cache
            times = [_time(argv, runs_dir) for _ in range(args.runs)]
            median = statistics.median(times)
            worst = max(worst, median)
            print(f"phasegate {' '.join(argv):<42} median {median:.3f} s "
                  f"(min {min(times):.3f}, max {max(times):.3f}, {args.runs} runs)")
    print(f"slowest median {worst:.3f} s; target under 0.5 s: {'met' if worst < 0.5 else 'MISSED'}")
    return 0 if worst < 0.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
