"""The built-in trainer's export: a state dict with all that rebuilds it, and TorchScript.

`phase5/model/model.pt` is a plain dict, loadable with
`torch.load(path, weights_only=True)`: the network's state dict (`model`), the
resolved training config, the class names, the input shape and the
normalization of the training split, the seed and how it was selected.
`load_final_model(path)` rebuilds it as a module that takes inputs as the data
loader reads them (before normalization) and returns logits.

`phase5/model/model_torchscript.pt` is that same module traced (scripted when
tracing fails), normalization included, with the same metadata as an extra file
`phasegate.json`: `torch.jit.load(path)` needs neither phasegate nor the
model's code. Phase 5 checks that it loads and predicts in a fresh process
(see the test lock).
"""

from __future__ import annotations

import atexit
import json
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflow import __version__
from workflow.errors import ConfigError, PluginError, StateError, WorkFailed
from workflow.io import atomic_open

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "FORMAT",
    "MODEL_FILE",
    "TORCHSCRIPT_FILE",
    "export_model",
    "load_checkpoint",
    "load_final_model",
    "normalized_model",
    "predict_fresh",
    "start_fresh",
    "versions",
]

FORMAT = "phasegate-model/1"
MODEL_FILE = "model.pt"
TORCHSCRIPT_FILE = "model_torchscript.pt"
EXTRA_FILE = "phasegate.json"
_NEEDED = ("model", "config", "class_names", "input_shape", "normalization")


def versions() -> dict[str, str]:
    """The versions a promoted model was made with (read without importing torch)."""
    from importlib import metadata

    found = {"phasegate": __version__, "python": sys.version.split()[0]}
    for package in ("torch", "numpy"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A trainer checkpoint (or model.pt): its weights and the metadata to rebuild the model."""
    import torch

    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise StateError(f"{path}: checkpoint not found") from None
    except Exception as exc:  # a corrupt or foreign file
        raise StateError(f"{path}: cannot be loaded ({exc.__class__.__name__}: {exc})") from None
    missing = [key for key in _NEEDED if not isinstance(saved, dict) or key not in saved]
    if missing:
        raise PluginError(
            f"{path}: lacks {', '.join(missing)}; Phase 5 needs the checkpoint format of "
            "phasegate's trainer (a custom trainer must save the same keys)"
        )
    return dict(saved)


def normalized_model(saved: dict[str, Any]) -> nn.Module:
    """The network of `saved`, its weights loaded, wrapped with its normalization, in eval mode."""
    from workflow.io import validate
    from workflow.trainer.config import TrainConfig
    from workflow.trainer.models import build_model

    config = validate(saved["config"], TrainConfig, source="checkpoint config")
    # the weights come from the checkpoint: a pretrained file named in the config is not needed
    model_config = config.model.model_copy(update={"pretrained": None})
    input_shape = tuple(int(d) for d in saved["input_shape"])
    network, _ = build_model(model_config, input_shape, len(saved["class_names"]))
    try:
        network.load_state_dict(saved["model"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ConfigError(f"the checkpoint's weights do not fit its config's model: {first}") \
            from None
    module = _normalized_class()(network, saved["normalization"], input_shape)
    return module.eval()


def _normalized_class() -> type[nn.Module]:
    import torch
    from torch import nn

    class Normalized(nn.Module):
        """The network with the training split's normalization in front of it."""

        def __init__(
            self, network: nn.Module, normalization: dict[str, list[float]],
            input_shape: tuple[int, ...],
        ) -> None:
            super().__init__()
            self.network = network
            shape = (1, -1, *([1] * (len(input_shape) - 1)))
            self.register_buffer(
                "mean", torch.tensor(normalization["mean"], dtype=torch.float32).view(shape))
            self.register_buffer(
                "std", torch.tensor(normalization["std"], dtype=torch.float32).view(shape))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # the same arithmetic as the data loader's, so predictions match the trainer's
            mean, std = self.mean, self.std
            assert isinstance(mean, torch.Tensor) and isinstance(std, torch.Tensor)
            return self.network((x.float() - mean) / std)

    return Normalized


def load_final_model(path: str | Path) -> nn.Module:
    """`model.pt` rebuilt: a module taking un-normalized inputs and returning logits."""
    return normalized_model(load_checkpoint(Path(path)))


def export_model(
    checkpoint: Path, out_dir: Path, *, seed: int, selection: dict[str, Any]
) -> dict[str, Any]:
    """Write model.pt and model_torchscript.pt from a trainer checkpoint; return what was written.

    Both files are written atomically; the TorchScript file is loaded back here and
    must give the eager model's logits on a sample batch.
    """
    import torch

    saved = load_checkpoint(checkpoint)
    metadata = {
        "format": FORMAT,
        "class_names": [str(c) for c in saved["class_names"]],
        "input_shape": [int(d) for d in saved["input_shape"]],
        "normalization": {k: [float(v) for v in vs] for k, vs in saved["normalization"].items()},
        "input": "inputs as the data loader reads them, before normalization (images: floats "
                 "in [0, 1], channels first); the model normalizes them itself",
        "output": "logits, one per class (argmax is the predicted class)",
        "seed": seed,
        "selection": selection,
        "best_epoch": int(saved.get("epoch", 0)),
        "versions": versions(),
    }
    state = {
        **metadata,
        "model": {k: v.detach().cpu().clone() for k, v in saved["model"].items()},
        "config": saved["config"],
        "head": list(saved.get("head", [])),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_open(out_dir / MODEL_FILE, "wb") as handle:
        torch.save(state, handle)

    model = normalized_model(load_checkpoint(out_dir / MODEL_FILE))
    generator = torch.Generator().manual_seed(seed)
    shape = [int(d) for d in saved["input_shape"]]
    example = torch.rand((4, *shape), generator=generator)
    scripted, how = _to_torchscript(model, example)
    extra = {EXTRA_FILE: json.dumps(metadata, indent=2)}
    with atomic_open(out_dir / TORCHSCRIPT_FILE, "wb") as handle, _quiet():
        torch.jit.save(scripted, handle, _extra_files=extra)
    with _quiet():
        loaded = torch.jit.load(str(out_dir / TORCHSCRIPT_FILE), map_location="cpu")
    with torch.inference_mode():
        if not torch.allclose(loaded(example), model(example), rtol=1e-4, atol=1e-5):
            raise WorkFailed(f"{out_dir / TORCHSCRIPT_FILE}: the exported model's logits "
                             "differ from the trained model's on a sample batch")
    return {
        "model": f"{out_dir.name}/{MODEL_FILE}",
        "torchscript": f"{out_dir.name}/{TORCHSCRIPT_FILE}",
        "torchscript_method": how,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        **{k: metadata[k] for k in ("class_names", "input_shape", "best_epoch")},
    }


@contextmanager
def _quiet() -> Iterator[None]:
    # torch marks TorchScript deprecated in favour of torch.export; it is still the format
    # that loads without Python code, which is what a promoted model needs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield


def _to_torchscript(model: nn.Module, example: torch.Tensor) -> tuple[Any, str]:
    import torch

    try:
        with torch.inference_mode(False), torch.no_grad(), _quiet():
            return torch.jit.trace(model, example, check_trace=True), "trace"
    except Exception as trace_error:  # data-dependent control flow: try scripting
        try:
            with _quiet():
                return torch.jit.script(model), "script"
        except Exception as script_error:
            raise WorkFailed(
                f"the final model cannot be exported to TorchScript: tracing failed "
                f"({trace_error.__class__.__name__}: {trace_error}) and so did scripting "
                f"({script_error.__class__.__name__}: {script_error})"
            ) from None


# ---- the TorchScript check's fresh process ----------------------------------------------

# a Python process that imports torch and nothing of phasegate, then waits for the file to
# check: its imports are made while the walk goes on, and the check is the same check
_FRESH_PREDICT = """
import json, sys, warnings
warnings.simplefilter("ignore", FutureWarning)
import torch
line = sys.stdin.readline()
if not line:
    sys.exit(0)  # the command ended (or changed its mind) before the check
model_file, inputs_file = json.loads(line)
module = torch.jit.load(model_file, map_location="cpu")
module.eval()
x = torch.load(inputs_file, weights_only=True)
with torch.inference_mode():
    out = [module(x[i:i + 1024]).argmax(1) for i in range(0, x.shape[0], 1024)]
json.dump(torch.cat(out).tolist(), sys.stdout)
"""
_started: list[subprocess.Popen[str]] = []
_lock = threading.Lock()


@atexit.register
def _end_unused() -> None:
    """A process started ahead and never used ends with the command."""
    for process in _started:
        process.kill()
        process.wait()


def start_fresh() -> None:
    """Start the fresh process `predict_fresh` will use, unless one is waiting already.

    Called ahead (the walk does at Phase 4), so that the interpreter and torch are loaded
    by the time Phase 5 checks its export; it exits by itself with the command.
    """
    with _lock:
        if not any(p.poll() is None for p in _started):
            _started[:] = [subprocess.Popen(
                [sys.executable, "-c", _FRESH_PREDICT], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]


def predict_fresh(model_file: Path, inputs_file: Path, *, timeout: float = 600) -> list[int]:
    """The class a TorchScript file predicts for each row of the tensor in `inputs_file`,
    loaded in a fresh Python process (one started ahead by `start_fresh`, or a new one)."""
    start_fresh()
    with _lock:
        process = _started.pop()
    try:
        out, err = process.communicate(json.dumps([str(model_file), str(inputs_file)]) + "\n",
                                       timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise WorkFailed(f"{model_file}: the TorchScript model did not predict in a fresh "
                         f"process within {timeout:.0f} s") from None
    if process.returncode != 0:
        last = (err.strip().splitlines() or ["no output"])[-1]
        raise WorkFailed(f"{model_file}: the TorchScript model failed in a fresh process: {last}")
    return [int(v) for v in json.loads(out)]
