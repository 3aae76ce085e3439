"""The whole of facts.json: one model per section, and the typed way to read it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from workflow.errors import FactsError
from workflow.facts._base import FactsModel
from workflow.facts._baseline import BaselineFacts
from workflow.facts._moves import MovesFacts
from workflow.facts._phase3 import Phase3Facts
from workflow.facts._phase4 import Phase4Facts
from workflow.facts._phase5 import Phase5Facts
from workflow.facts._project import ProjectFacts
from workflow.facts._signoffs import SignoffsFacts
from workflow.io import describe_validation_error

if TYPE_CHECKING:
    from workflow.store import Store

__all__ = ["SECTIONS", "Facts", "check_section", "parse_facts", "read_facts"]


class Facts(FactsModel):
    """facts.json: each section is what one phase (or the workflow) recorded.

    A section that was never recorded reads as its model's defaults (every field
    None): `read_facts(store).phase3.strategy` is None before Phase 3 ran.
    """

    project: ProjectFacts = Field(default_factory=ProjectFacts)
    baseline: BaselineFacts = Field(default_factory=BaselineFacts)
    phase3: Phase3Facts = Field(default_factory=Phase3Facts)
    phase4: Phase4Facts = Field(default_factory=Phase4Facts)
    phase5: Phase5Facts = Field(default_factory=Phase5Facts)
    moves: MovesFacts = Field(default_factory=MovesFacts)
    signoffs: SignoffsFacts = Field(default_factory=SignoffsFacts)


def _section_models() -> dict[str, type[BaseModel]]:
    models = {}
    for name, info in Facts.model_fields.items():
        assert isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
        models[name] = info.annotation
    return models


# the top-level keys facts.json may hold, and the model each must fit
SECTIONS: dict[str, type[BaseModel]] = _section_models()


def check_section(name: str, data: Any, *, source: str = "facts.json") -> BaseModel:
    """`data` validated as section `name`; a `FactsError` naming the field when it does not fit."""
    model = SECTIONS.get(name)
    if model is None:
        raise FactsError(
            f"{source}: unknown section {name!r} (sections: {', '.join(SECTIONS)})"
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise FactsError(describe_validation_error(exc, model, f"{source}: {name}")) from None


def parse_facts(data: Mapping[str, Any], *, source: str = "facts.json") -> Facts:
    """The typed view of a facts.json object; a `FactsError` names the first misfit."""
    sections = {name: check_section(name, value, source=source) for name, value in data.items()}
    return Facts.model_validate(sections)


def read_facts(store: Store) -> Facts:
    """The project's facts as typed models, read from disk now (another process may write)."""
    return parse_facts(store.facts, source=str(store.facts_file))
