"""digits_script.py wrapped for phasegate: the trainer protocol in a few lines.

`trainer: digits_wrapped:fit` in the project file; `evaluate`, `export`, TASK,
CONFIG_MODEL and TUNABLE beside `fit` make this module the whole trainer. The config
is a plain mapping (`CONFIG_MODEL = dict`): baseline.yaml holds the script's own
arguments, and phasegate patches the keys TUNABLE declares, each the setting it `means`.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import digits_script
import torch

from workflow.protocol import Evaluation, write_run

TASK = "classification"
CONFIG_MODEL = dict
TUNABLE = {"lr": {"range": (1e-4, 0.1), "means": "optimizer.lr"},
           "weight_decay": {"range": (0.0, 0.1), "means": "optimizer.weight_decay"},
           "epochs": {"range": (2, 100), "means": "training.epochs"},
           "hidden": {"range": (8, 512), "means": "model.width"},
           "batch_size": {"choices": [32, 64, 128], "means": "data.batch_size"}}


def fit(config: dict[str, Any], seed: int, out_dir: Path, *, report: Any = None,
        should_stop: Any = None) -> Any:
    rows: list[dict[str, float]] = []

    def on_epoch(epoch: int, metrics: dict[str, float]) -> bool:
        rows.append(metrics)
        if report:
            report(epoch, metrics)
        return bool(should_stop and should_stop())

    arguments = {k: v for k, v in config.items() if k != "name"}
    model = digits_script.train(**arguments, seed=seed, on_epoch=on_epoch)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    torch.save({"state": model.state_dict(), "hidden": config["hidden"]},
               Path(out_dir) / "model.pt")
    stopped = len(rows) < config["epochs"]
    return write_run(out_dir, config, seed, rows, monitor="val_accuracy",
                     checkpoints={"best": Path(out_dir) / "model.pt"},
                     stop_reason="stopped by phasegate" if stopped else None)


def _model(run_dir: Path) -> torch.nn.Module:
    saved = torch.load(Path(run_dir) / "model.pt", weights_only=True)
    model = digits_script.make_model(saved["hidden"])
    model.load_state_dict(saved["state"])
    return model.eval()


def evaluate(run_dir: Path, split: str) -> Evaluation:
    x, y = digits_script.load(split)
    with torch.no_grad():
        predicted = _model(run_dir)(x).argmax(1)
    accuracy = float((predicted == y).float().mean())
    return Evaluation(y.tolist(), predicted.tolist(), {f"{split}_accuracy": accuracy},
                      [str(k) for k in range(10)])


def export(run_dir: Path, dest: Path) -> dict[str, Any]:
    with warnings.catch_warnings():  # TorchScript: still what loads without this code
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(_model(run_dir)).save(str(dest / "model_torchscript.pt"))
    torch.save(torch.load(Path(run_dir) / "model.pt", weights_only=True), dest / "model.pt")
    return {"input": "64 pixel values in [0, 1]", "output": "10 logits"}
