"""K seeds of one config: trained together as one vectorized model against one after another.

For K = 5 and K = 10 seeds of the quickstart's MLP (configs/quickstart_baseline.yaml)
and of the small CNN (conv-BN-ReLU blocks of 16 and 32 channels on the same digits),
in one warm process: the wall time of `fit` on each seed in turn, and of
`workflow.trainer.together.fit_together` on all of them, and their ratio
(target on CPU: at most 0.5 for K = 5 MLP). Both are timed after a warm-up run, the
median of --repeats. Each member's history is checked against its sequential run.

    python benchmarks/seeds_together.py [--repeats 3] [--device cpu|cuda] [--threads 1]

Wall times on a shared machine vary with its load: read the range, not one figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from workflow.trainer import fit
from workflow.trainer.config import TrainConfig, load_train_config
from workflow.trainer.together import fit_together

REPO = Path(__file__).resolve().parents[1]


def configs(device: str) -> dict[str, TrainConfig]:
    mlp = load_train_config(REPO / "configs" / "quickstart_baseline.yaml")
    cnn = mlp.with_changes({"model.name": "cnn", "model.channels": [16, 32],
                            "training.epochs": 5})
    return {name: c.with_changes({"device": device}) for name, c in
            (("MLP", mlp), ("CNN", cnn))}


def timed(config: TrainConfig, seeds: list[int], together: bool) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        if together:
            results = fit_together(config, seeds, Path(tmp))
            assert results is not None, "this config cannot train together"
        else:
            results = {s: fit(config, s, Path(tmp) / f"seed-{s}") for s in seeds}
        if config.device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - start, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--ks", default="5,10")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"device {args.device}, {args.threads} thread(s), load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; median (range) of "
          f"{args.repeats} repeat(s)")
    for name, config in configs(args.device).items():
        timed(config, [0], False)  # warm-up: imports, dataset cache, allocator
        timed(config, [0, 1], True)
        for k in (int(x) for x in args.ks.split(",")):
            seeds = list(range(k))
            alone, together, worst = [], [], 0.0
            for _ in range(args.repeats):
                seconds, sequential = timed(config, seeds, False)
                alone.append(seconds)
                seconds, vectorized = timed(config, seeds, True)
                together.append(seconds)
                for seed in seeds:
                    for a, b in zip(sequential[seed].history, vectorized[seed].history,
                                    strict=True):
                        worst = max(worst, abs(a["val_loss"] - b["val_loss"]))
            ratios = [t / a for t, a in zip(together, alone, strict=True)]
            print(f"  {name} K={k:<3} sequential {statistics.median(alone):7.2f} s "
                  f"({min(alone):.2f}-{max(alone):.2f})  together "
                  f"{statistics.median(together):7.2f} s ({min(together):.2f}-{max(together):.2f})"
                  f"  ratio {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
                  f"  max |val_loss diff| {worst:.2e}", flush=True)


if __name__ == "__main__":
    main()
