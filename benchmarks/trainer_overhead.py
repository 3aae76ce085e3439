"""phasegate's trainer against the loop a user would write by hand, in one process.

Both train the same model (configs/baseline.yaml's MLP, unless --config says
otherwise) on the same in-memory tensors, evaluate on the validation split
every epoch, and are timed per epoch. Runs alternate, and the median epoch time
of each is compared. Prints the ratio trainer / hand loop (target: <= 1.05).

    python benchmarks/trainer_overhead.py [--config configs/baseline.yaml] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from workflow.trainer import fit
from workflow.trainer.config import TrainConfig, load_train_config
from workflow.trainer.data import load_data
from workflow.trainer.models import build_model

REPO = Path(__file__).resolve().parents[1]


def hand_loop(config: TrainConfig, seed: int) -> list[float]:
    """The plain PyTorch loop: shuffle, index, forward, loss, backward, step; then validate."""
    data = load_data(config.data)
    torch.manual_seed(seed)
    model, _ = build_model(config.model, data.input_shape, data.num_classes)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.optimizer.lr, momentum=config.optimizer.momentum
    )
    x, y, vx, vy = data.train.x, data.train.y, data.val.x, data.val.y
    times = []
    for _ in range(config.training.epochs):
        start = time.perf_counter()
        model.train()
        for index in torch.randperm(len(y)).split(config.data.batch_size):
            loss = F.cross_entropy(model(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.inference_mode():
            logits = model(vx)
            F.cross_entropy(logits, vy).item()
            (logits.argmax(1) == vy).float().mean().item()
        times.append(time.perf_counter() - start)
    return times


def trainer(config: TrainConfig, seed: int) -> tuple[list[float], float]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = fit(config, seed, Path(tmp) / "run")
        total = time.perf_counter() - start
    return [row["epoch_time"] for row in result.history], total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "baseline.yaml")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    config = load_train_config(args.config).with_changes(
        {"device": "cpu", "training.epochs": args.epochs, "training.early_stopping": None}
    )
    if config.optimizer.name != "sgd" or config.schedule.name != "none" or config.data.augment:
        raise SystemExit("the hand loop is plain SGD without schedule or augmentation")
    torch.set_num_threads(1)  # one thread each: the comparison, not the machine's load, decides
    hand_times, trainer_times, trainer_totals, hand_totals = [], [], [], []
    trainer(config, 0)  # warm-up: imports, allocator, dataset cache
    for repeat in range(args.repeats):
        start = time.perf_counter()
        hand_times += hand_loop(config, repeat)[1:]
        hand_totals.append(time.perf_counter() - start)
        epochs, total = trainer(config, repeat)
        trainer_times += epochs[1:]
        trainer_totals.append(total)
    hand, ours = statistics.median(hand_times), statistics.median(trainer_times)
    print(f"model: {config.model.name}, {config.training.epochs} epochs x {args.repeats} repeats")
    print(f"median epoch  hand loop {hand * 1e3:7.2f} ms   phasegate {ours * 1e3:7.2f} ms")
    print(f"epoch time ratio (phasegate / hand loop): {ours / hand:.3f}  (target <= 1.05)")
    # the fastest epoch of each is the least disturbed by anything else on the machine
    fastest = min(trainer_times) / min(hand_times)
    print(f"fastest-epoch ratio (robust to a busy machine): {fastest:.3f}")
    whole = statistics.median(trainer_totals) / statistics.median(hand_totals)
    print(f"whole-run ratio incl. setup and writing the run folder: {whole:.3f}")


if __name__ == "__main__":
    main()
