"""The in-memory and streaming data paths on the same image folder: speed and peak memory.

Writes an image folder of PNGs (two classes, --images in all, --source px each),
then trains the same small model on it once per path, each in a fresh process so
that each peak is its own: the process's peak resident memory as the OS accounts
it (`getrusage(RUSAGE_SELF).ru_maxrss`, also shown above the process with torch
imported and no data; a loader worker's peak is `RUSAGE_CHILDREN`'s), and the
trainer's own samples/s (the mean of `samples_per_sec` over the epochs, data
waiting included) and wall time (loading and decoding included). The model is a
small MLP, so that its activations do not hide the data's share of the peak.
The streaming run is given a memory budget below the decoded size, so
`loader: auto` chooses it as a user's run would.

    python benchmarks/data_paths.py [--images 3000 --size 96 --epochs 2 --workers 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_folder(root: Path, images: int, source: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for k, (label, base) in enumerate((("a", 80), ("b", 170))):
        (root / label).mkdir(parents=True)
        for i in range(images // 2 + (images % 2 if k == 0 else 0)):
            pixels = np.clip(rng.normal(base, 50, (source, source, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(root / label / f"{i}.png")


def one_path(root: str, path: str, size: int, epochs: int, workers: int, budget: int) -> None:
    """Train once in this process and print one JSON line: speed and this process's peak."""
    # torch, the trainer and the decoders imported before the baseline is taken
    import PIL.Image  # noqa: F401
    import sklearn.datasets  # noqa: F401
    import torchvision.datasets  # noqa: F401

    import workflow.trainer.loop  # noqa: F401
    from workflow.trainer import fit

    data = {"dataset": "imagefolder", "root": root, "image_size": size, "batch_size": 64,
            "workers": workers, "augment": [{"name": "hflip"}]}
    data.update({"loader": "memory"} if path == "memory" else {"memory_budget_mb": budget})
    config = {"name": f"bench-{path}", "data": data,
              "model": {"name": "mlp", "widths": [64]},
              "optimizer": {"name": "adam", "lr": 1e-3},
              "training": {"epochs": epochs}, "device": "cpu"}
    before = _peak_mb(resource.RUSAGE_SELF)  # torch and the trainer imported, no data yet
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = fit(config, 0, Path(tmp) / "run")
    wall = time.perf_counter() - start
    speeds = [row["samples_per_sec"] for row in result.history]
    waits = [row["data_wait_fraction"] for row in result.history]
    print(json.dumps({
        "path": result.extra["loader"]["path"],
        "decoded_mb": result.extra["loader"]["decoded_mb"],
        "samples_per_sec": sum(speeds) / len(speeds),
        "data_wait_fraction": sum(waits) / len(waits),
        "wall_s": wall,
        "peak_rss_mb": _peak_mb(resource.RUSAGE_SELF),
        "before_mb": before,
        "worker_peak_mb": _peak_mb(resource.RUSAGE_CHILDREN),  # the largest loader worker
        "val_accuracy": result.history[-1]["val_accuracy"],
    }))


def _peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports ru_maxrss in KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--source", type=int, default=96, help="px of the PNGs written")
    parser.add_argument("--size", type=int, default=96, help="px the trainer decodes them to")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="loader workers, both paths")
    parser.add_argument("--child", nargs=2, metavar=("ROOT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    decoded_mb = args.images * 3 * args.size * args.size * 4 / 2**20
    budget = max(1, int(decoded_mb / 4))
    if args.child:
        one_path(args.child[0], args.child[1], args.size, args.epochs, args.workers, budget)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "images"
        make_folder(root, args.images, args.source)
        print(f"{args.images} PNGs of {args.source} px decoded to {args.size} px: "
              f"{decoded_mb:.0f} MiB as float32; streaming budget {budget} MiB; "
              f"{args.workers} loader workers; {args.epochs} epochs; CPU")
        for path in ("memory", "stream"):
            done = subprocess.run(
                [sys.executable, __file__, *sys.argv[1:], "--child", str(root), path],
                capture_output=True, text=True, check=True, cwd=REPO,
            )
            row = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{row['path']:>6}: {row['samples_per_sec']:8.0f} samples/s (training, "
                  f"data wait {100 * row['data_wait_fraction']:.0f}%), {row['wall_s']:6.1f} s "
                  f"wall with loading; peak RSS {row['peak_rss_mb']:.0f} MiB "
                  f"({row['peak_rss_mb'] - row['before_mb']:+.0f} MiB over the process before "
                  f"loading), largest worker {row['worker_peak_mb']:.0f} MiB; "
                  f"val accuracy {row['val_accuracy']:.3f}")


if __name__ == "__main__":
    main()
