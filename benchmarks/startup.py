"""How fast do the read-only commands start? `status` and `gate check`, in wall time.

Creates a project from configs/quickstart.yaml in a temporary runs folder (`init`, no
training), then runs `phasegate status`, `status --json` and `gate check` as separate
processes, as a user does. Prints, per command, the median and the spread of `--runs`
timed runs after one warm-up (which fills the bytecode cache). Target: a median under
0.5 s on an idle machine. The suite checks only that these commands import no torch
(tests/test_cli_engine.py::test_torch_free): a wall-time bound there failed on loaded
machines, so the figure lives here.

It also times what a process that trains pays until its first run ends, as the
command's first seed and every worker do: in a fresh interpreter, torch's import,
then the quickstart baseline's first `fit` (seed 0), alternately as shipped and
with `torch._dynamo` imported first (what torch's optimizers made every such
process pay before phasegate's stand-in, workflow/trainer/optim.py).

    python benchmarks/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
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


_FIRST_FIT = """
import json, sys, tempfile, time
from pathlib import Path
began = time.perf_counter()
import torch
imported = time.perf_counter() - began
torch.set_num_threads(1)
from workflow.trainer import fit
with tempfile.TemporaryDirectory() as tmp:
    began = time.perf_counter()
    if sys.argv[1] == "with-dynamo":
        import torch._dynamo
    fit(sys.argv[2], 0, Path(tmp) / "run")
    fitted = time.perf_counter() - began
print(json.dumps([imported, fitted, "torch._dynamo" in sys.modules]))
"""


def _first_fit(variant: str) -> tuple[float, float, bool]:
    done = subprocess.run([sys.executable, "-c", _FIRST_FIT, variant,
                           str(REPO / "configs" / "quickstart_baseline.yaml")],
                          cwd=REPO, capture_output=True, text=True, check=True)
    imported, fitted, dynamo = json.loads(done.stdout.strip().splitlines()[-1])
    return imported, fitted, dynamo


def first_fits(runs: int) -> None:
    """The first fit in a fresh interpreter, as shipped and with torch._dynamo imported first
    (its import counted in the fit)."""
    seen: dict[str, list[tuple[float, float, bool]]] = {"as shipped": [], "with-dynamo": []}
    for _ in range(runs):  # alternating, so both see the same machine
        for variant in seen:
            seen[variant].append(_first_fit(variant))
    for variant, times in seen.items():
        fits = [t[1] for t in times]
        print(f"first fit, {variant:<11} median {statistics.median(fits):.3f} s (min "
              f"{min(fits):.3f}, max {max(fits):.3f}); torch import median "
              f"{statistics.median(t[0] for t in times):.3f} s; torch._dynamo imported: "
              f"{sorted({t[2] for t in times})}")


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
    first_fits(args.runs)
    return 0 if worst < 0.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
