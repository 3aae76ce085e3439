"""The optimizer is built and stepped without importing torch's compiler when nothing is compiled,
steps exactly as torch's own, and hands over to the real compiler when one is imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from tests.conftest import tiny_config
from workflow.trainer.config import TrainConfig
from workflow.trainer.optim import make_optimizer

REPO = Path(__file__).resolve().parents[2]


def _fresh(code: str) -> dict[str, object]:
    """Run `code` in a fresh interpreter (nothing imported yet); the JSON it prints last."""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# rule: a built-in fit that compiles nothing (one seed, and seeds trained together) never
# imports torch._dynamo, though torch's optimizers ask for it on their first call
def test_a_fit_without_compile_leaves_the_compiler_unimported(tmp_path: Path) -> None:
    seen = _fresh(f"""
import json, sys
from pathlib import Path
from tests.conftest import tiny_config
from workflow.trainer import fit
from workflow.trainer.config import TrainConfig
from workflow.trainer.together import fit_together
out = Path({str(tmp_path)!r})
seen = {{}}
for name in ("adam", "sgd", "adamw", "rmsprop"):
    result = fit(tiny_config(optimizer__name=name), 0, out / name)
    seen[name] = [result.status.value, "torch._dynamo" in sys.modules]
together = fit_together(TrainConfig.model_validate(tiny_config()), [1, 2], out / "together")
seen["together"] = [sorted(together or {{}}), "torch._dynamo" in sys.modules]
print(json.dumps(seen))
""")
    assert seen == {"adam": ["completed", False], "sgd": ["completed", False],
                    "adamw": ["completed", False], "rmsprop": ["completed", False],
                    "together": [[1, 2], False]}


# rule: once anything imports the real compiler, the answers the stand-in gave are dropped from
# torch's caches and torch asks the real compiler: a model compiled later sees torch's behaviour
def test_the_real_compiler_takes_over_when_imported() -> None:
    seen = _fresh("""
import json, sys
import torch
from tests.conftest import tiny_config
from workflow.trainer.config import TrainConfig
from workflow.trainer.optim import make_optimizer
model = torch.nn.Linear(3, 2)
optimizer = make_optimizer(TrainConfig.model_validate(tiny_config()), model.parameters(), lr=0.1)
model(torch.ones(1, 3)).sum().backward()
optimizer.step()
optimizer.zero_grad()
plain = torch.optim.Optimizer.zero_grad.__wrapped__
before = [getattr(plain, "__dynamo_disable", None) is plain, "torch._dynamo" in sys.modules]
import torch._dynamo
after_import = getattr(plain, "__dynamo_disable", None)
optimizer.zero_grad()
after_call = getattr(plain, "__dynamo_disable", None)
print(json.dumps({"before": before, "after_import": after_import is None,
                  "after_call": after_call is not None and after_call is not plain,
                  "real": type(sys.modules["torch._dynamo"]).__name__}))
""")
    assert seen == {"before": [True, False], "after_import": True, "after_call": True,
                    "real": "module"}


# rule: the shielded optimizer's steps and state equal torch's own optimizer's, number for number
def test_the_optimizer_steps_as_torch_does() -> None:
    for name, plain in (("sgd", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
                        ("adam", lambda p: torch.optim.Adam(p, lr=0.1))):
        config = TrainConfig.model_validate(
            tiny_config(optimizer__name=name, optimizer__lr=0.1, optimizer__momentum=0.9))
        torch.manual_seed(0)
        ours_model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                                         torch.nn.Linear(8, 3))
        theirs_model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                                           torch.nn.Linear(8, 3))
        theirs_model.load_state_dict(ours_model.state_dict())
        ours = make_optimizer(config, ours_model.parameters(), lr=0.1)
        theirs = plain(theirs_model.parameters())
        x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
        for _ in range(5):
            for model, optimizer in ((ours_model, ours), (theirs_model, theirs)):
                optimizer.zero_grad(set_to_none=True)
                torch.nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
        for mine, other in zip(ours_model.parameters(), theirs_model.parameters(), strict=True):
            assert torch.equal(mine, other), name
        mine_state, other_state = ours.state_dict(), theirs.state_dict()
        assert mine_state["param_groups"] == other_state["param_groups"], name
        for index, buffers in mine_state["state"].items():
            for key, value in buffers.items():
                assert torch.equal(value, other_state["state"][index][key]), (name, key)
