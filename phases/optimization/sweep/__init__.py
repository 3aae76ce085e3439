"""Phase 4 sweep: grid, random or Bayesian search with pruning, resumable and distributed.

```python
from phases.optimization.sweep import SweepSettings, load_space, run_sweep

result = run_sweep(base_config, load_space("configs/space.yaml"), "runs/p/phase4/attempt-1/sweep",
                   settings=SweepSettings(method="bayesian", pruner="median", trials=30),
                   fresh_seeds=project.fresh_seeds, baseline_values=baseline_per_seed,
                   workers=2, progress=progress)
result.chosen.config, result.chosen.comparison.verdict
```

The kinds of parameter (`parameters`) and the search space they make (`space`),
the Optuna study, its settings, sampler and pruner (`study`), where it is
stored (`storage`) and how a dead worker's trial is retried (`recovery`), the
trial loop every worker runs (`worker`), the frozen records (`records`), the
files and the report section (`artifacts`), the re-runs of the top trials on
fresh seeds (`rerun`), and the whole run (`run`).
"""

from phases.optimization.sweep.artifacts import render_section, section_context
from phases.optimization.sweep.records import Candidate, SweepResult, TrialRecord
from phases.optimization.sweep.rerun import rerun_top
from phases.optimization.sweep.run import run_sweep
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
from phases.optimization.sweep.study import SweepSettings, SweepSpec, check_extensions
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
    "check_extensions",
    "load_space",
    "parse_space",
    "render_section",
    "rerun_top",
    "run_sweep",
    "section_context",
    "space_from_phase3",
    "work",
]
