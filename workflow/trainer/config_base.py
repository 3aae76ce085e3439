"""What every section of a training config shares: its bounds, the seed type, strictness.

Torch-free. `workflow.trainer.config` re-exports every name here.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# Bounds a config is held to. Each is far above any real run but far below where torch,
# numpy or Python overflow, so a value past one is a typo or a hostile file: refused at
# validation (exit 2), never a crash or a hang halfway through a run.
MAX_SEED = 2**32 - 1  # numpy's and Python's seeding take 0 .. 2**32 - 1 alike
MAX_EPOCHS = 10_000
MAX_BATCH_SIZE = 65_536
MAX_SAMPLES = 10**9
MAX_WORKERS = 64
MAX_IMAGE_SIZE = 1_024
MAX_WIDTH = 65_536  # units of one mlp layer
MAX_CHANNELS = 8_192  # channels of one cnn block
MAX_LAYERS = 128
MAX_LR = 1e6  # far past divergence (reported as `diverged`), far below float32 overflow
MAX_NAME = 100
MAX_PREFETCH = 64
MAX_DEVICE_INDEX = 1_023
DEFAULT_FRACTION = 0.15  # val and test shares carved where the dataset gives no such split

Seed = Annotated[int, Field(ge=0, le=MAX_SEED, description=f"0 .. {MAX_SEED}")]
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
PLUGIN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
CUDA_INDEX = re.compile(r"^cuda:(\d{1,4})$")


def check_seed(seed: int, field: str = "seed") -> int:
    """`seed` if it is one of the seeds every generator takes (0 .. MAX_SEED), else ValueError."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{field} must be a whole number from 0 to {MAX_SEED}, but got {seed!r}")
    return seed


def plain_text(value: str, what: str) -> str:
    # a control character in a name or path is a corrupted or hostile file: it would break
    # the terminal's output, file names and the paths the OS is given
    if CONTROL.search(value):
        raise ValueError(f"{what} holds a control character: {value!r}")
    return value


class Strict(BaseModel):
    # infinity or NaN means nothing in a training config (no rate, size or strength is
    # infinite), so every float must be finite
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
