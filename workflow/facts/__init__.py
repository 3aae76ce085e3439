"""Typed facts: every section of facts.json is a frozen pydantic model.

facts.json is what the phases record, section by section (`project`,
`baseline`, `phase3`, `phase4`, `phase5`, `moves`,
`signoffs`); gates and the phase graph
read it by dotted path. Here each section is a model, so

- `Store.record` validates every write against its section's model (a
  `FactsError` naming the field), and an unknown section is refused;
- `read_facts(store)` gives the typed `Facts`, for code that reads facts;
- `checklist_problems` / `graph_problems` list every dotted path a checklist
  or the phase graph names that no model has (checked when a checklist is
  loaded, and over every shipped checklist by a test).

Nothing in this package imports `workflow.store`, which imports it.
"""

from workflow.facts._base import ByMetric, FactsModel, MetricSummary
from workflow.facts._baseline import BaselineFacts
from workflow.facts._moves import MovesFacts
from workflow.facts._paths import (
    METRIC,
    checklist_paths,
    checklist_problems,
    condition_paths,
    graph_problems,
    path_problem,
)
from workflow.facts._phase3 import Phase3Facts, RecommendationFact
from workflow.facts._phase4 import AttemptRecord, Phase4Facts
from workflow.facts._phase5 import (
    ExportedFileFact,
    ExportFact,
    FinalSourceFact,
    FinalTrainingFact,
    McNemarFact,
    PairedFact,
    Phase5Facts,
    SelectionFact,
    TestFact,
    TestLockFact,
    TestLookFact,
)
from workflow.facts._project import ProjectFacts
from workflow.facts._root import SECTIONS, Facts, check_section, parse_facts, read_facts
from workflow.facts._signoffs import SignedFact, SignoffsFacts

__all__ = [
    "METRIC",
    "SECTIONS",
    "AttemptRecord",
    "BaselineFacts",
    "ByMetric",
    "ExportFact",
    "ExportedFileFact",
    "Facts",
    "FactsModel",
    "FinalSourceFact",
    "FinalTrainingFact",
    "McNemarFact",
    "PairedFact",
    "MetricSummary",
    "MovesFacts",
    "Phase3Facts",
    "Phase4Facts",
    "Phase5Facts",
    "ProjectFacts",
    "RecommendationFact",
    "SelectionFact",
    "SignedFact",
    "SignoffsFacts",
    "TestFact",
    "TestLockFact",
    "TestLookFact",
    "check_section",
    "checklist_paths",
    "checklist_problems",
    "condition_paths",
    "graph_problems",
    "parse_facts",
    "path_problem",
    "read_facts",
]
