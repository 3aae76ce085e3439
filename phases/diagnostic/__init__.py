"""Phase 3, the diagnostic: read a baseline's curves and config, name what is wrong, plan Phase 4.

- `evidence`: each seed's history and the project's target (`Evidence`, `SeedRun`)
- `rules/`: one `Rule` per finding (its check, its answers, what explains it), the
  registry checked at import, and `find_all`
- `answers/`: the config patches rules offer (`Recommendation`) and the fallbacks
- `config_analysis`: the table of settings (`analyze_config`)
- `recommend`: the rules' answers ranked into a `Plan`, and the strategy rule
- `diagnosis`: the three together for one baseline (`diagnose`), pure
- `preview`: the Phase 4 config preview, commented
- `report`: the report, its JSON twin, findings.json and the plots
- `probes`: optional active probes (lr range test, batch size); the only torch here
- `phase`: `run_baseline` and `run_diagnose`, with the store
"""

from __future__ import annotations

from phases.diagnostic.answers import Recommendation
from phases.diagnostic.config_analysis import SettingRow, analyze_config
from phases.diagnostic.diagnosis import Diagnosis, diagnose
from phases.diagnostic.evidence import Evidence, SeedRun, load_seed_runs
from phases.diagnostic.phase import run_baseline, run_diagnose
from phases.diagnostic.preview import preview_yaml
from phases.diagnostic.recommend import Plan, plan
from phases.diagnostic.report import report_context, write_diagnosis
from phases.diagnostic.rules import RULES, Finding, Rule, find_all

__all__ = [
    "RULES",
    "Diagnosis",
    "Evidence",
    "Finding",
    "Plan",
    "Recommendation",
    "Rule",
    "SeedRun",
    "SettingRow",
    "analyze_config",
    "diagnose",
    "find_all",
    "load_seed_runs",
    "plan",
    "preview_yaml",
    "report_context",
    "run_baseline",
    "run_diagnose",
    "write_diagnosis",
]
