"""Phase 4 sweep: grid, random or Bayesian search with pruning, resumable and distributed.

```python
from phases.optimization.sweep import SweepSettings, load_space, run_sweep

result = run_sweep(base_config, load_space("configs/space.yaml"), "runs/p/phase4/attempt-1/sweep",
                   settings=SweepSettings(method="bayesian", pruner="median", trials=30),
                   fresh_seeds=project.fresh_seeds, baseline_values=baseline_per_seed)
result.chosen.config, result.chosen.comparison.verdict
```

The search space (`space`), the Optuna study and its settings (`study`), the
trial loop every worker runs (`worker`), the frozen records (`records`), the
files and the report section (`artifacts`), and the whole run (`run`).
"""

from phases.optimization.sweep.artifacts import render_section, section_context
from phases.optimization.sweep.records import Candidate, SweepResult, TrialRecord
from phases.optimization.sweep.run import rerun_top, run_sweep
from phases.optimization.sweep.space import (
    CategoricalParameter,
    FloatParameter,
    IntParameter,
    Parameter,
    SearchSpace,
    load_space,
    parse_space,
    space_from_phase3,
)
from phases.optimization.sweep.study import SweepSettings, SweepSpec
from phases.optimization.sweep.worker import work

__all__ = [
    "CategoricalParameter",
    "Candidate",
    "FloatParameter",
    "IntParameter",
    "Parameter",
    "SearchSpace",
    "SweepResult",
    "SweepSettings",
    "SweepSpec",
    "TrialRecord",
    "load_space",
    "parse_space",
    "render_section",
    "rerun_top",
    "run_sweep",
    "section_context",
    "space_from_phase3",
    "work",
]
