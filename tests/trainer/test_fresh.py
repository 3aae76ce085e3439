"""The TorchScript check's fresh process: started ahead or on demand, it predicts as the model
does in this process, and a file that is not TorchScript fails with one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from workflow.errors import WorkFailed
from workflow.trainer.export import predict_fresh, start_fresh


@pytest.fixture(autouse=True)
def _quiet() -> None:
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)  # torch.jit.trace is deprecated


def _scripted(tmp_path: Path) -> tuple[Path, Path, list[int]]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    inputs = torch.randn(40, 5)
    path, tensor = tmp_path / "model_torchscript.pt", tmp_path / "inputs.pt"
    torch.jit.trace(model, inputs[:2]).save(str(path))
    torch.save(inputs, tensor)
    with torch.no_grad():
        return path, tensor, model(inputs).argmax(1).tolist()


# rule: a process started ahead (the walk starts one at Phase 4) serves the check, and a check
# with none started starts its own; both predict as the model in this process
def test_a_fresh_process_predicts_as_the_model(tmp_path: Path) -> None:
    path, tensor, expected = _scripted(tmp_path)
    start_fresh()
    assert predict_fresh(path, tensor) == expected
    assert predict_fresh(path, tensor) == expected  # the first was used up: a new one


# rule: a file the fresh process cannot load fails the check with one line naming the file
def test_a_file_that_is_not_torchscript_fails_with_one_line(tmp_path: Path) -> None:
    path, tensor, _ = _scripted(tmp_path)
    path.write_bytes(b"not a model")
    with pytest.raises(WorkFailed, match="failed in a fresh process") as failure:
        predict_fresh(path, tensor)
    assert str(path) in str(failure.value) and "\n" not in str(failure.value)
