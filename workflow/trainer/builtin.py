"""phasegate's own trainer as one implementation of the trainer protocol (`workflow.protocol`).

`fit` is the training loop; `evaluate(run_dir, split)` rebuilds the run's best
checkpoint and predicts the split as the data loader reads it; `export` writes
model.pt and TorchScript (`workflow.trainer.export`). The data loader and the
model builder are reached from here and from the loop, never from a phase.

`test_inputs` is the data side of the test lock's door: the test split's raw
inputs, as the data loader reads them, before the training split's
normalization. Only `phases.finalization.testlock` asks for it (a test checks).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflow.protocol import Evaluation, TrainerProtocol
from workflow.trainer import fit
from workflow.trainer.result import CHECKPOINT_DIR, METRICS_FILE

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["BUILTIN", "TestInputs", "checkpoint_of", "declared_knobs", "evaluate", "export",
           "predict",
           "split_key", "test_inputs"]

# the fields of the data config that decide which examples are the test split
SPLIT_FIELDS = {"dataset", "root", "image_size", "val_fraction", "test_fraction", "split_seed",
                "max_samples"}
PREDICT_BATCH = 1024


@dataclass(frozen=True)
class TestInputs:
    """The test split as the data loader reads it, before normalization."""

    __test__ = False

    key: str  # the data fields that decide the split, as JSON: equal keys, equal examples
    inputs: torch.Tensor
    targets: list[int]
    class_names: list[str]
    split: dict[str, Any]


def test_inputs(config_data: dict[str, Any]) -> TestInputs:
    """The test split of a run's data config (its `data:` section, as saved in a checkpoint)."""
    import torch

    from workflow.trainer.config import DataConfig
    from workflow.trainer.data import load_data

    data_config = DataConfig.model_validate(config_data)
    key = split_key(config_data)
    bundle = load_data(data_config, include_test=True)  # the door: only the test lock asks
    assert bundle.test is not None
    shape = (1, -1, *([1] * (len(bundle.input_shape) - 1)))
    mean = torch.tensor(bundle.normalization["mean"], dtype=torch.float32).view(shape)
    std = torch.tensor(bundle.normalization["std"], dtype=torch.float32).view(shape)
    return TestInputs(key, bundle.test.x * std + mean, [int(v) for v in bundle.test.y.tolist()],
                      list(bundle.class_names), dict(bundle.split_info))


def split_key(config_data: dict[str, Any]) -> str:
    """The data fields that decide a run's test split, as JSON: equal keys, equal examples."""
    from workflow.trainer.config import DataConfig

    data_config = DataConfig.model_validate(config_data)
    return json.dumps(data_config.model_dump(mode="json", include=SPLIT_FIELDS), sort_keys=True)


def predict(model: nn.Module, inputs: torch.Tensor) -> list[int]:
    """Each input's predicted class (argmax of the logits), in batches."""
    import torch

    model.eval()
    with torch.inference_mode():
        out = [model(inputs[i : i + PREDICT_BATCH]).argmax(1)
               for i in range(0, inputs.shape[0], PREDICT_BATCH)]
    return [int(v) for v in torch.cat(out).tolist()]


def checkpoint_of(run_dir: Path) -> Path:
    """A finished run's best checkpoint."""
    return Path(run_dir) / CHECKPOINT_DIR / "best.pt"


def evaluate(run_dir: Path, split: str) -> Evaluation:
    """The best checkpoint of `run_dir` on `split` ("val", or "test" inside the test lock)."""
    from workflow.trainer.config import DataConfig
    from workflow.trainer.data import load_data
    from workflow.trainer.export import load_checkpoint, normalized_model

    saved = load_checkpoint(checkpoint_of(run_dir))
    model = normalized_model(saved)
    if split == "test":
        test = test_inputs(saved["config"]["data"])
        targets, names = test.targets, test.class_names
        predicted = predict(model, test.inputs)
    else:
        import torch

        bundle = load_data(DataConfig.model_validate(saved["config"]["data"]))
        shape = (1, -1, *([1] * (len(bundle.input_shape) - 1)))
        mean = torch.tensor(bundle.normalization["mean"]).view(shape)
        std = torch.tensor(bundle.normalization["std"]).view(shape)
        # batch by batch: a streamed val split is never decoded whole
        predicted = [p for x, _ in bundle.val.in_order(PREDICT_BATCH)
                     for p in predict(model, x * std + mean)]
        targets, names = [int(v) for v in bundle.val.y.tolist()], list(bundle.class_names)
    correct = sum(p == t for p, t in zip(predicted, targets, strict=True))
    return Evaluation(targets, predicted, {f"{split}_accuracy": correct / max(1, len(targets))},
                      names)


def declared_knobs(model: object) -> tuple[str, ...]:
    """The generic model settings a plug-in model of the built-in trainer declares it
    receives (`phasegate_knobs`; see `workflow.trainer.models.declared_knobs`): what Phase 3
    asks, without reaching the model builder itself."""
    from workflow.trainer.models import declared_knobs as declared

    return declared(model)


def export(run_dir: Path, dest: Path) -> dict[str, Any]:
    """model.pt and model_torchscript.pt of the run's best checkpoint, into `dest`."""
    from workflow.io import read_json
    from workflow.trainer.export import export_model

    seed = int(read_json(Path(run_dir) / METRICS_FILE).get("seed", 0))
    return export_model(checkpoint_of(run_dir), Path(dest), seed=seed, selection={})


BUILTIN = TrainerProtocol("builtin", fit, evaluate, export, "classification", ())
