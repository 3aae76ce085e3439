"""A regression with its own trainer and data: scikit-learn's diabetes set, scored by MSE.

The whole trainer protocol in one file (see the README, "Your own trainer"):
`fit` trains and writes its run through `write_run`; `evaluate` predicts a
finished run's split (Phase 5 asks for "test" once, through the test lock);
`export` packages the model; `config_model` is the trainer's own config
(`DiabetesConfig`: baseline.yaml is one, validated by it), and `tunable` names
the keys phasegate may patch, with their ranges and the phasegate setting each
`means`, so Phase 3's "lower the lr" becomes a patch on `lr`, and a sweep
searches these ranges.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from workflow.protocol import Evaluation, Trainer, write_run

SPLIT_SEED = 0  # the split is the data's, not the run's: every seed sees the same examples
MODEL_FILE = "model.pt"
OPTIMIZERS: dict[str, Any] = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
                              "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}


def load_split(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The diabetes data's `split` (train 60%, val 20%, test 20%), standardized by train."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(data.target))
    n_train, n_val = int(0.6 * len(order)), int(0.2 * len(order))
    parts = {"train": order[:n_train], "val": order[n_train:n_train + n_val],
             "test": order[n_train + n_val:]}
    x, y = data.data.astype(np.float32), data.target.astype(np.float32)
    train = parts["train"]
    x = (x - x[train].mean(0)) / x[train].std(0)
    y = (y - y[train].mean()) / y[train].std()
    index = parts[split]
    return torch.from_numpy(x[index]), torch.from_numpy(y[index])


def build(widths: list[int], dropout: float = 0.0) -> nn.Module:
    layers: list[nn.Module] = []
    size = 10
    for width in widths:
        layers += [nn.Linear(size, width), nn.ReLU(), nn.Dropout(dropout)]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, 1))


class DiabetesConfig(BaseModel):
    """This trainer's own config: baseline.yaml is one (a typo in it is refused at init)."""

    model_config = ConfigDict(extra="forbid")

    name: str = "diabetes"
    lr: float = Field(0.01, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    widths: list[int] = Field(default_factory=lambda: [64], min_length=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    epochs: int = Field(60, ge=1)
    batch_size: int = Field(32, ge=1)


class DiabetesTrainer(Trainer):
    task = "regression"
    config_model = DiabetesConfig
    tunable = {
        "lr": {"range": (1e-4, 0.3), "means": "optimizer.lr"},
        "weight_decay": {"range": (0.0, 0.1), "means": "optimizer.weight_decay"},
        "optimizer": {"choices": ["adam", "adamw", "sgd"], "means": "optimizer.name"},
        "widths": {"choices": [[4], [16], [64], [64, 64], [128, 128], [256, 256]],
                   "means": "model.widths"},
        "dropout": {"range": (0.0, 0.5), "means": "model.dropout"},
        "epochs": {"range": (5, 300), "means": "training.epochs"},
    }

    def fit(self, config: DiabetesConfig, seed: int, out_dir: Path, *, report: Any = None,
            should_stop: Any = None) -> Any:
        started = time.perf_counter()
        torch.manual_seed(seed)
        widths = list(config.widths)
        model = build(widths, config.dropout)
        optimizer = OPTIMIZERS[config.optimizer](
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        x, y = load_split("train")
        x_val, y_val = load_split("val")
        rows, best, stop_reason = [], float("inf"), None
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        for epoch in range(1, config.epochs + 1):
            model.train()
            total = 0.0
            for batch in torch.randperm(len(x)).split(config.batch_size):
                loss = nn.functional.mse_loss(model(x[batch]).squeeze(1), y[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(batch)
            model.eval()
            with torch.no_grad():
                val_mse = float(nn.functional.mse_loss(model(x_val).squeeze(1), y_val))
            row = {"epoch": epoch, "lr": config.lr, "train_loss": total / len(x),
                   "val_loss": val_mse, "val_mse": val_mse}
            rows.append(row)
            if val_mse < best:  # keep the best epoch's model, as the run reports it
                best = val_mse
                torch.save({"state": model.state_dict(), "widths": widths},
                           out_dir / MODEL_FILE)
            if report:
                report(epoch, row)
            if should_stop and (reason := should_stop()):
                stop_reason = str(reason)
                break
        torch.save({"state": model.state_dict(), "widths": widths}, out_dir / "last.pt")
        return write_run(out_dir, config, seed, rows, monitor="val_mse", direction="minimize",
                         checkpoints={"best": out_dir / MODEL_FILE, "last": out_dir / "last.pt"},
                         started=started, stop_reason=stop_reason)

    def evaluate(self, run_dir: Path, split: str) -> Evaluation:
        model = _load(Path(run_dir) / MODEL_FILE)
        x, y = load_split(split)
        with torch.no_grad():
            predicted = model(x).squeeze(1)
        mse = float(nn.functional.mse_loss(predicted, y))
        return Evaluation(y.tolist(), predicted.tolist(), {f"{split}_mse": mse})

    def export(self, run_dir: Path, dest: Path) -> dict[str, Any]:
        dest.mkdir(parents=True, exist_ok=True)
        model = _load(Path(run_dir) / MODEL_FILE)
        with warnings.catch_warnings():  # TorchScript: still what loads without this code
            warnings.simplefilter("ignore", FutureWarning)
            traced = torch.jit.trace(model, load_split("val")[0][:4])
        traced.save(str(dest / "model_torchscript.pt"))
        torch.save(torch.load(Path(run_dir) / MODEL_FILE, weights_only=True), dest / "model.pt")
        return {"model": "model.pt", "torchscript": "model_torchscript.pt",
                "input": "10 standardized features", "output": "standardized disease progression"}


def _load(path: Path) -> nn.Module:
    saved = torch.load(path, weights_only=True)
    model = build([int(w) for w in saved["widths"]])
    model.load_state_dict(saved["state"])
    return model.eval()
