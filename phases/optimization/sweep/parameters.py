"""One parameter of a search space: a float or int range, or a list of choices.

Each kind is a frozen pydantic model (`extra="forbid"`) that knows how to ask an
Optuna trial for a value (`suggest`), which values a grid search tries
(`grid_values`), how Optuna's recorded value maps back to a config value
(`decode`) and how a report names its range (`describe`). `when` makes a
parameter conditional on a categorical one; `space` checks those links.

`parse_parameter` validates one entry of a space file; every problem is a
`ConfigError` of one line naming the file and the field:
`configs/space.yaml: optimizer.lr.low: a log range must stay above zero, but got low=0.0`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from workflow.errors import ConfigError
from workflow.io import one_line

if TYPE_CHECKING:
    import optuna

__all__ = [
    "PARAMETER_TYPES",
    "CategoricalParameter",
    "FloatParameter",
    "IntParameter",
    "Parameter",
    "choice_key",
    "parse_parameter",
]

PARAMETER_TYPES = ("float", "int", "categorical")
_PRIMITIVE = (str, int, float, bool, type(None))
# Optuna's storages keep numbers as doubles: an integer past 2**53 would come back another
# one. Every int bound, step and grid value stays within +-MAX_INT.
MAX_INT = 2**53
_BoundedInt = Annotated[int, Field(ge=-MAX_INT, le=MAX_INT)]
_N = TypeVar("_N", int, float)


def choice_key(value: Any) -> str:
    """A canonical form for comparing choices that may be lists or mappings."""
    return json.dumps(value, sort_keys=True)


def _round(value: float, digits: int = 3) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


class _Parameter(BaseModel):
    # a range reaching infinity has no grid, no log scale and no setting it could give
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

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
    step: int = Field(1, ge=1, le=MAX_INT)
    low: _BoundedInt = Field(description=f"at least -{MAX_INT}")
    high: _BoundedInt = Field(description=f"at most {MAX_INT}")
    grid: list[_BoundedInt] | None = Field(None, description="the values a grid search tries")
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
        # the lattice's size and last point by arithmetic: a range of 2**53 is never listed
        size = (self.high - self.low) // self.step + 1
        last = self.low + (size - 1) * self.step
        if size <= self.grid_points:
            return list(range(self.low, last + 1, self.step))
        values = _spaced(self.low, self.high, self.grid_points, self.log)
        snapped = (self.low + round((v - self.low) / self.step) * self.step for v in values)
        return list(dict.fromkeys(min(max(v, self.low), last) for v in snapped))

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
        for choice in choices:
            try:  # a choice travels to Optuna and into reports as JSON
                json.dumps(choice, allow_nan=False)
            except (TypeError, ValueError):
                raise ValueError(
                    f"choice {choice!r} is not a plain value (text, a finite number, true/false, "
                    "null, or a list or mapping of them)"
                ) from None
        keys = [choice_key(c) for c in choices]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"choices repeat: {', '.join(repeated)}")
        return choices

    @property
    def encoded(self) -> bool:
        """Optuna stores only plain values: lists and mappings travel as JSON text."""
        return not all(isinstance(c, _PRIMITIVE) for c in self.choices)

    def optuna_choices(self) -> list[Any]:
        return [choice_key(c) for c in self.choices] if self.encoded else list(self.choices)

    def grid_values(self) -> list[Any]:
        return self.optuna_choices()

    def suggest(self, trial: optuna.trial.BaseTrial, name: str) -> Any:
        return self.decode(trial.suggest_categorical(name, self.optuna_choices()))

    def decode(self, value: Any) -> Any:
        return json.loads(value) if self.encoded and isinstance(value, str) else value

    def describe(self) -> str:
        return "one of " + ", ".join(choice_key(c) for c in self.choices)


Parameter = FloatParameter | IntParameter | CategoricalParameter
_MODELS: dict[str, type[_Parameter]] = {
    "float": FloatParameter,
    "int": IntParameter,
    "categorical": CategoricalParameter,
}


def parse_parameter(name: str, raw: Any, source: str) -> Parameter:
    """Validate the entry `name: raw` of a space read from `source` as its kind of parameter."""
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
    return one_line(f"{source}: {field}: {message}{more}")
