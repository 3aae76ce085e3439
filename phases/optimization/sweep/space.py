"""The search space: which training settings a sweep varies, and over what values.

A space file is YAML, a mapping from dotted `TrainConfig` paths to parameters:

```yaml
optimizer.lr: {type: float, low: 1.0e-4, high: 0.3, log: true}
model.widths: {type: categorical, choices: [[64, 32], [128, 64]]}
optimizer.name: {type: categorical, choices: [sgd, adam]}
optimizer.momentum: {type: float, low: 0.5, high: 0.99, when: {optimizer.name: sgd}}
```

A parameter with `when: {other: value}` (or `{other: [value, ...]}`) exists only
in trials where the categorical parameter `other` took one of those values;
elsewhere the base config's setting stays. `grid:` (explicit values) or
`grid_points:` (evenly spaced, default 3) say what a grid search tries of a
numeric range. Phase 3 records a space in the same shape (`phase3.search_space`).

A trainer with its own config (`workflow.own_config`) is searched on its own keys:
`parse_space(..., trainer=...)` checks a name against the keys it declares tunable,
not against `TrainConfig`, and `space_from_tunables` builds the space from their
declared ranges when the project gives none (a log scale for a positive range of
two decades or more, integers for integer bounds, a categorical for choices).

Every problem is a `ConfigError` of one line naming the file and the field:
`configs/space.yaml: optimizer.lr.low: a log range must stay above zero, but got low=0.0`.
The kinds of parameter live in `parameters`; this module holds the space as a
whole: which settings it may vary, the conditions between its parameters, and
the trials and grids it gives.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from phases.optimization.sweep.parameters import (
    PARAMETER_TYPES,
    CategoricalParameter,
    FloatParameter,
    IntParameter,
    Parameter,
    choice_key,
    parse_parameter,
)
from workflow.errors import ConfigError
from workflow.io import is_model, one_line, read_yaml, union_members

if TYPE_CHECKING:
    import optuna

    from workflow.own_config import RunConfig
    from workflow.protocol import Tunable

__all__ = [
    "PARAMETER_TYPES",
    "MAX_GRID_POINTS",
    "SPLIT_SETTINGS",
    "FloatParameter",
    "IntParameter",
    "CategoricalParameter",
    "Parameter",
    "SearchSpace",
    "parse_space",
    "load_space",
    "space_from_phase3",
    "space_from_tunables",
]

MAX_GRID_POINTS = 10_000


@dataclass(frozen=True)
class SearchSpace:
    """The parameters of a sweep, parents before the parameters conditional on them."""

    parameters: dict[str, Parameter]
    source: str

    @property
    def names(self) -> list[str]:
        return list(self.parameters)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The space as plain data (what a study stores for its workers)."""
        return {
            name: p.model_dump(mode="json", exclude_none=True)
            for name, p in self.parameters.items()
        }

    def is_active(self, name: str, values: Mapping[str, Any]) -> bool:
        """Whether `name` exists given the decoded `values` of its parents."""
        for parent, allowed in self.parameters[name].conditions().items():
            if parent not in values:
                return False
            if choice_key(values[parent]) not in {choice_key(a) for a in allowed}:
                return False
        return True

    def suggest(self, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
        """Ask `trial` for every active parameter; the config changes, decoded."""
        values: dict[str, Any] = {}
        for name, parameter in self.parameters.items():
            if self.is_active(name, values):
                values[name] = parameter.suggest(trial, name)
        return values

    def decode(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Optuna's recorded params as config changes (JSON-encoded choices decoded)."""
        return {
            name: self.parameters[name].decode(params[name])
            for name in self.parameters
            if name in params
        }

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of grid values (as Optuna params), each conditional one only where
        its condition holds, so a grid never runs one configuration twice."""
        points: list[dict[str, Any]] = [{}]
        for name, parameter in self.parameters.items():
            grown: list[dict[str, Any]] = []
            for point in points:
                if self.is_active(name, self.decode(point)):
                    grown += [{**point, name: value} for value in parameter.grid_values()]
                else:
                    grown.append(point)
            if len(grown) > MAX_GRID_POINTS:
                raise ConfigError(
                    f"{self.source}: the grid has more than {MAX_GRID_POINTS} points; "
                    "give fewer `grid` values or `grid_points`"
                )
            points = grown
        return points

    def check_config(self, config: RunConfig) -> None:
        """Every value the space can take is a valid setting of `config` (ConfigError if not)."""
        for name, parameter in self.parameters.items():
            if isinstance(parameter, CategoricalParameter):
                samples = list(parameter.choices)
            else:
                samples = [parameter.low, parameter.high]
            for value in samples:
                config.with_changes({name: value}, source=self.source)

    def describe(self) -> list[dict[str, str]]:
        """One row per parameter, for reports."""
        rows = []
        for name, parameter in self.parameters.items():
            when = " and ".join(
                f"{parent} in {', '.join(choice_key(v) for v in allowed)}"
                for parent, allowed in parameter.conditions().items()
            )
            rows.append({"name": name, "range": parameter.describe(), "when": when})
        return rows


# the settings that decide the train / val / test split: fixed for the whole workflow
SPLIT_SETTINGS = frozenset({
    "data.dataset", "data.root", "data.val_fraction", "data.test_fraction", "data.split_seed",
    "data.max_samples",
})


def parse_space(data: Any, *, source: str, trainer: str = "builtin") -> SearchSpace:
    """Validate plain data (parsed YAML, or a stored space) as a `SearchSpace` of the
    settings `trainer` takes (its own config's keys, when it has one)."""
    try:
        return _parse_space(data, source, trainer)
    except ConfigError as exc:  # a setting's name from the file may hold a newline
        raise ConfigError(one_line(str(exc))) from None


def _parse_space(data: Any, source: str, trainer: str = "builtin") -> SearchSpace:
    if data is None or data == {}:
        raise ConfigError(f"{source}: (top level): the search space is empty")
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{source}: (top level): a search space is a mapping of config settings to "
            f"parameters, but got {type(data).__name__}"
        )
    parameters: dict[str, Parameter] = {}
    for name, raw in data.items():
        name = str(name)
        _check_setting(name, source, trainer)
        if name == "data" or name in SPLIT_SETTINGS:
            raise ConfigError(
                f"{source}: {name}: decides which examples are trained, validated and tested, "
                "so a sweep may not vary it (its trials would be judged on other validation "
                "data than the baseline, and could train on the locked test split)"
            )
        parameters[name] = parse_parameter(name, raw, source)
    return SearchSpace(_ordered(parameters, source), source)


def load_space(path: str | Path, *, trainer: str = "builtin") -> SearchSpace:
    """Load and validate a search space YAML file."""
    return parse_space(read_yaml(path), source=str(path), trainer=trainer)


def space_from_phase3(
    search_space: Mapping[str, Any], *, source: str = "facts.json: phase3.search_space",
    trainer: str = "builtin",
) -> SearchSpace:
    """The space Phase 3 recorded from its recommendations."""
    return parse_space(dict(search_space), source=source, trainer=trainer)


# a positive range spanning this many decades or more is searched on a log scale
LOG_DECADES = 2.0


def space_from_tunables(tunables: Sequence[Tunable]) -> dict[str, dict[str, Any]]:
    """The search space of a trainer's declared tunable keys, as data (`parse_space`)."""
    space: dict[str, dict[str, Any]] = {}
    for t in tunables:
        if t.choices is not None:
            space[t.key] = {"type": "categorical", "choices": list(t.choices)}
            continue
        assert t.low is not None and t.high is not None
        log = t.low > 0 and math.log10(t.high / t.low) >= LOG_DECADES
        if t.integer:
            space[t.key] = {"type": "int", "low": int(t.low), "high": int(t.high), "log": log}
        else:
            space[t.key] = {"type": "float", "low": t.low, "high": t.high, "log": log}
    return space


def _check_setting(name: str, source: str, trainer: str = "builtin") -> None:
    """`name` is a dotted path to a setting of `TrainConfig` (checked on its schema), or a
    key the trainer's own config declares tunable (when it has an own config)."""
    from workflow.own_config import own_model
    from workflow.trainer.config import TrainConfig

    if own_model(trainer) is not None:
        from workflow.protocol import resolve_trainer_protocol

        declared = resolve_trainer_protocol(trainer).tunable
        if declared is not None and name not in {t.key for t in declared}:
            raise ConfigError(f"{source}: {name}: not a key trainer {trainer!r} declares "
                              f"tunable (tunable: {', '.join(t.key for t in declared)})")
        return

    current: Any = TrainConfig
    walked: list[str] = []
    for part in name.split("."):
        model = _model_of(current)
        if model is None:
            if _is_mapping(current):
                return  # free-form settings (model.kwargs.*): the trainer checks them
            raise ConfigError(
                f"{source}: {name}: {'.'.join(walked)} is a value, not a section of settings"
            )
        if part not in model.model_fields:
            where = ".".join(walked) or "the training config"
            raise ConfigError(
                f"{source}: {name}: not a training setting ({where} has: "
                f"{', '.join(model.model_fields)})"
            )
        current = model.model_fields[part].annotation
        walked.append(part)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for member in union_members(annotation):
        if is_model(member):
            model: type[BaseModel] = member
            return model
    return None


def _is_mapping(annotation: Any) -> bool:
    return any(typing.get_origin(m) is dict or m is dict for m in union_members(annotation))


def _ordered(parameters: dict[str, Parameter], source: str) -> dict[str, Parameter]:
    """Check every condition and order parents before the parameters that depend on them."""
    for name, parameter in parameters.items():
        for parent, allowed in parameter.conditions().items():
            field = f"{source}: {name}.when.{parent}"
            if parent == name:
                raise ConfigError(f"{field}: a parameter cannot depend on itself")
            if parent not in parameters:
                raise ConfigError(
                    f"{field}: not a parameter of this space (it has: {', '.join(parameters)})"
                )
            target = parameters[parent]
            if not isinstance(target, CategoricalParameter):
                raise ConfigError(
                    f"{field}: a condition must name a categorical parameter, "
                    f"but {parent} is {target.type}"
                )
            known = {choice_key(c) for c in target.choices}
            unknown = [v for v in allowed if choice_key(v) not in known]
            if not allowed or unknown:
                raise ConfigError(
                    f"{field}: {unknown or allowed!r} not among {parent}'s choices "
                    f"({', '.join(choice_key(c) for c in target.choices)})"
                )
    ordered: dict[str, Parameter] = {}
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            cycle = " -> ".join([*visiting[visiting.index(name) :], name])
            raise ConfigError(f"{source}: {name}.when: the conditions form a cycle ({cycle})")
        visiting.append(name)
        for parent in parameters[name].conditions():
            visit(parent)
        visiting.pop()
        ordered[name] = parameters[name]

    for name in parameters:
        visit(name)
    return ordered
