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

Every problem is a `ConfigError` of one line naming the file and the field:
`configs/space.yaml: optimizer.lr.low: a log range must stay above zero, but got low=0.0`.
"""

from __future__ import annotations

import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from workflow.errors import ConfigError
from workflow.io import read_yaml

if TYPE_CHECKING:
    import optuna

    from workflow.trainer.config import TrainConfig

__all__ = [
    "PARAMETER_TYPES",
    "MAX_GRID_POINTS",
    "FloatParameter",
    "IntParameter",
    "CategoricalParameter",
    "Parameter",
    "SearchSpace",
    "parse_space",
    "load_space",
    "space_from_phase3",
]

PARAMETER_TYPES = ("float", "int", "categorical")
MAX_GRID_POINTS = 10_000
_PRIMITIVE = (str, int, float, bool, type(None))
_N = TypeVar("_N", int, float)


def _key(value: Any) -> str:
    """A canonical form for comparing choices that may be lists or mappings."""
    return json.dumps(value, sort_keys=True)


def _round(value: float, digits: int = 3) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


class _Parameter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    when: dict[str, Any] | None = Field(
        None, description="{parameter: value or [values]}: exists only for those values"
    )

    def conditions(self) -> dict[str, list[Any]]:
        """`when` with every value as a list of allowed values."""
        return {
            parent: list(value) if isinstance(value, list) else [value]
            for parent, value in (self.when or {}).items()
        }

    def grid_values(self) -> list[Any]:  # the encoded values a grid search tries
        raise NotImplementedError

    def suggest(self, trial: optuna.trial.BaseTrial, name: str) -> Any:  # a decoded value
        raise NotImplementedError

    def decode(self, value: Any) -> Any:
        """The config value of Optuna's recorded `value`."""
        return value

    def describe(self) -> str:
        raise NotImplementedError


def _check_low(value: _N, info: ValidationInfo) -> _N:
    if info.data.get("log") and value <= 0:
        raise ValueError(f"a log range must stay above zero, but got low={value!r}")
    return value


def _check_high(value: _N, info: ValidationInfo) -> _N:
    low = info.data.get("low")
    if low is not None and value <= low:
        raise ValueError(f"high must be above low, but got low={low!r}, high={value!r}")
    return value


def _spaced(low: float, high: float, n: int, log: bool) -> list[float]:
    if n == 1:
        return [math.sqrt(low * high) if log else (low + high) / 2]
    if log:
        a, b = math.log(low), math.log(high)
        return [math.exp(a + (b - a) * i / (n - 1)) for i in range(n)]
    return [low + (high - low) * i / (n - 1) for i in range(n)]


class FloatParameter(_Parameter):
    """A real number in [low, high], on a log scale when `log` (then low must be > 0)."""

    type: Literal["float"]
    log: bool = False
    low: float
    high: float
    grid: list[float] | None = Field(None, description="the values a grid search tries")
    grid_points: int = Field(3, ge=1, le=100, description="evenly spaced grid values")

    @field_validator("low")
    @classmethod
    def _low_above_zero_on_log(cls, low: float, info: ValidationInfo) -> float:
        return _check_low(low, info)

    @field_validator("high")
    @classmethod
    def _high_above_low(cls, high: float, info: ValidationInfo) -> float:
        return _check_high(high, info)

    @field_validator("grid")
    @classmethod
    def _grid_in_range(cls, grid: list[float] | None, info: ValidationInfo) -> list[float] | None:
        return _check_grid(grid, info)

    def grid_values(self) -> list[Any]:
        if self.grid is not None:
            return list(dict.fromkeys(self.grid))
        values = _spaced(self.low, self.high, self.grid_points, self.log)
        return list(dict.fromkeys(min(max(_round(v), self.low), self.high) for v in values))

    def suggest(self, trial: optuna.trial.BaseTrial, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def describe(self) -> str:
        return f"float {self.low:g} … {self.high:g}" + (" (log)" if self.log else "")


class IntParameter(_Parameter):
    """An integer in [low, high] on multiples of `step` from low; log scale needs step 1."""

    type: Literal["int"]
    log: bool = False
    step: int = Field(1, ge=1)
    low: int
    high: int
    grid: list[int] | None = Field(None, description="the values a grid search tries")
    grid_points: int = Field(3, ge=1, le=100, description="evenly spaced grid values")

    @field_validator("step")
    @classmethod
    def _log_step(cls, step: int, info: ValidationInfo) -> int:
        if info.data.get("log") and step != 1:
            raise ValueError(f"a log range needs step 1, but got step={step}")
        return step

    @field_validator("low")
    @classmethod
    def _low_above_zero_on_log(cls, low: int, info: ValidationInfo) -> int:
        return _check_low(low, info)

    @field_validator("high")
    @classmethod
    def _high_above_low(cls, high: int, info: ValidationInfo) -> int:
        return _check_high(high, info)

    @field_validator("grid")
    @classmethod
    def _grid_in_range(cls, grid: list[int] | None, info: ValidationInfo) -> list[int] | None:
        return _check_grid(grid, info)

    def grid_values(self) -> list[Any]:
        if self.grid is not None:
            return list(dict.fromkeys(self.grid))
        lattice = list(range(self.low, self.high + 1, self.step))
        if len(lattice) <= self.grid_points:
            return lattice
        values = _spaced(self.low, self.high, self.grid_points, self.log)
        snapped = (self.low + round((v - self.low) / self.step) * self.step for v in values)
        return list(dict.fromkeys(min(max(v, self.low), lattice[-1]) for v in snapped))

    def suggest(self, trial: optuna.trial.BaseTrial, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, step=self.step, log=self.log)

    def describe(self) -> str:
        step = f" step {self.step}" if self.step != 1 else ""
        return f"int {self.low} … {self.high}{step}" + (" (log)" if self.log else "")


def _check_grid(grid: list[Any] | None, info: ValidationInfo) -> list[Any] | None:
    if grid is None:
        return None
    if not grid:
        raise ValueError("an empty grid: give at least one value, or leave `grid` out")
    low, high = info.data.get("low"), info.data.get("high")
    if low is not None and high is not None:
        outside = [v for v in grid if not low <= v <= high]
        if outside:
            raise ValueError(f"grid values {outside} lie outside [{low}, {high}]")
    return grid


class CategoricalParameter(_Parameter):
    """One of `choices`; a choice may be a list or a mapping (`model.widths: [[64], [128]]`)."""

    type: Literal["categorical"]
    choices: list[Any]

    @field_validator("choices")
    @classmethod
    def _not_empty(cls, choices: list[Any]) -> list[Any]:
        if not choices:
            raise ValueError("empty choice list: give at least one choice")
        keys = [_key(c) for c in choices]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"choices repeat: {', '.join(repeated)}")
        return choices

    @property
    def encoded(self) -> bool:
        """Optuna stores only plain values: lists and mappings travel as JSON text."""
        return not all(isinstance(c, _PRIMITIVE) for c in self.choices)

    def optuna_choices(self) -> list[Any]:
        return [_key(c) for c in self.choices] if self.encoded else list(self.choices)

    def grid_values(self) -> list[Any]:
        return self.optuna_choices()

    def suggest(self, trial: optuna.trial.BaseTrial, name: str) -> Any:
        return self.decode(trial.suggest_categorical(name, self.optuna_choices()))

    def decode(self, value: Any) -> Any:
        return json.loads(value) if self.encoded and isinstance(value, str) else value

    def describe(self) -> str:
        return "one of " + ", ".join(_key(c) for c in self.choices)


Parameter = FloatParameter | IntParameter | CategoricalParameter
_MODELS: dict[str, type[_Parameter]] = {
    "float": FloatParameter,
    "int": IntParameter,
    "categorical": CategoricalParameter,
}


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
            if parent not in values or _key(values[parent]) not in {_key(a) for a in allowed}:
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

    def check_config(self, config: TrainConfig) -> None:
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
                f"{parent} in {', '.join(_key(v) for v in allowed)}"
                for parent, allowed in parameter.conditions().items()
            )
            rows.append({"name": name, "range": parameter.describe(), "when": when})
        return rows


# the settings that decide the train / val / test split: fixed for the whole workflow
SPLIT_SETTINGS = frozenset({
    "data.dataset", "data.root", "data.val_fraction", "data.test_fraction", "data.split_seed",
    "data.max_samples",
})


def parse_space(data: Any, *, source: str) -> SearchSpace:
    """Validate plain data (parsed YAML, or a stored space) as a `SearchSpace`."""
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
        _check_setting(name, source)
        if name == "data" or name in SPLIT_SETTINGS:
            raise ConfigError(
                f"{source}: {name}: decides which examples are trained, validated and tested, "
                "so a sweep may not vary it (its trials would be judged on other validation "
                "data than the baseline, and could train on the locked test split)"
            )
        parameters[name] = _parse_parameter(name, raw, source)
    return SearchSpace(_ordered(parameters, source), source)


def load_space(path: str | Path) -> SearchSpace:
    """Load and validate a search space YAML file."""
    return parse_space(read_yaml(path), source=str(path))


def space_from_phase3(
    search_space: Mapping[str, Any], *, source: str = "facts.json: phase3.search_space"
) -> SearchSpace:
    """The space Phase 3 recorded from its recommendations."""
    return parse_space(dict(search_space), source=source)


def _parse_parameter(name: str, raw: Any, source: str) -> Parameter:
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{source}: {name}: expected a parameter mapping with a `type` "
            f"({', '.join(PARAMETER_TYPES)}), but got {raw!r}"
        )
    kind = raw.get("type")
    if kind is None:
        raise ConfigError(
            f"{source}: {name}.type: required field is missing "
            f"(allowed: {', '.join(PARAMETER_TYPES)})"
        )
    model = _MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ConfigError(
            f"{source}: {name}.type: unknown parameter type {kind!r} "
            f"(allowed: {', '.join(PARAMETER_TYPES)})"
        )
    try:
        return model.model_validate(dict(raw))  # type: ignore[return-value]
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, model, source, name)) from None


def _one_line(exc: ValidationError, model: type[BaseModel], source: str, name: str) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = ".".join(str(part) for part in first["loc"])
    field = f"{name}.{loc}" if loc else name
    if first["type"] == "extra_forbidden":
        message = f"unknown field (allowed: {', '.join(model.model_fields)})"
    elif first["type"] == "missing":
        message = "required field is missing"
    elif first["type"] == "value_error":
        message = first["msg"].removeprefix("Value error, ")
    else:
        message = first["msg"]
        value = first.get("input")
        if isinstance(value, _PRIMITIVE):
            message += f" (got {value!r})"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{source}: {field}: {message}{more}"


def _check_setting(name: str, source: str) -> None:
    """`name` is a dotted path to a setting of `TrainConfig` (checked on its schema)."""
    from workflow.trainer.config import TrainConfig

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


def _members(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _is_mapping(annotation: Any) -> bool:
    return any(typing.get_origin(m) is dict or m is dict for m in _members(annotation))


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
            known = {_key(c) for c in target.choices}
            unknown = [v for v in allowed if _key(v) not in known]
            if not allowed or unknown:
                raise ConfigError(
                    f"{field}: {unknown or allowed!r} not among {parent}'s choices "
                    f"({', '.join(_key(c) for c in target.choices)})"
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
