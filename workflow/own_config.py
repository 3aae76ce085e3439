"""`OwnConfig`: a user trainer's own config, as phasegate hashes, dumps, patches and hands it over.

A trainer that declares `config_model` (a pydantic `BaseModel` subclass, or `dict`
for a plain mapping; `workflow.protocol`) takes its own config, not phasegate's
`TrainConfig`. The project's baseline YAML is then that config, validated by the
model when it is loaded (a bad field: one `ConfigError` line naming it, exit 2).

`OwnConfig` offers what the runner, the arms and Phase 4 use of a `TrainConfig`:

- `model_dump(mode="json")`: the config as a run records it in `config.yaml`, so a
  finished run is found (and reused) by the same comparison;
- `with_changes(changes, source=...)`: dotted patches, each on a key the trainer
  declares tunable or on the phasegate setting one of them `means`
  (`optimizer.lr` -> `lr`), inside its declared range or choices, re-validated by
  the user's model; anything else is refused in one line;
- `training`: the epochs a run plans (the key that means `training.epochs`), for
  progress and timing;
- `value()`: what `fit` receives, an instance of the user's model or a plain dict;
- `view()`: the baseline as phasegate's settings (a `TrainConfig` holding each meant
  key's value), which Phase 3's rules read; a setting no key means is in `meant()`'s
  complement, and the findings that read it are not applicable.

It holds only the trainer's name and the validated data, so it pickles to a worker
as a `TrainConfig` does. `RunConfig` is either; `load_config`, `config_from_dump` and
`fit_argument` are the three places that choose between them.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union, cast

from workflow.errors import ConfigError
from workflow.io import MISSING
from workflow.io import lookup as _find

if TYPE_CHECKING:
    from workflow.protocol import Tunable
    from workflow.trainer.config import TrainConfig

__all__ = ["OwnConfig", "RunConfig", "as_view", "config_from_dump", "fit_argument", "like",
           "load_config", "own_model", "own_of"]

RunConfig = Union["TrainConfig", "OwnConfig"]


@dataclass(frozen=True)
class PlannedTraining:
    """The part of `TrainConfig.training` the runner reads, for an own config."""

    epochs: int
    stages: None = None
    early_stopping: None = None
    monitor: str = "val_loss"  # a sweep monitors the project's metric; this is a fallback
    known: bool = True  # False: no key means training.epochs (`epochs` is then a placeholder)


@dataclass(frozen=True)
class OwnConfig:
    """A user trainer's own config (see the module docstring); `data` is its JSON dump."""

    trainer: str
    data: dict[str, Any] = field(hash=False)

    # -- building ----------------------------------------------------------------------------

    @classmethod
    def validated(cls, trainer: str, data: Any, *, source: str) -> OwnConfig:
        """`data` validated by the trainer's own model; a bad field is one line naming it."""
        model = own_model(trainer)
        if model is None:
            raise ConfigError(f"{source}: trainer {trainer!r} declares no config_model")
        if model is dict:
            if not isinstance(data, Mapping):
                raise ConfigError(f"{source}: the trainer's config is a mapping of settings, "
                                  f"but got {type(data).__name__}")
            return cls(trainer, _plain(dict(data)))
        instance = _validate(model, data, source=source)
        return cls(trainer, instance.model_dump(mode="json"))

    # -- what the runner, the arms and Phase 4 read --------------------------------------------

    def model_dump(self, mode: str = "json") -> dict[str, Any]:
        return copy.deepcopy(self.data)

    def value(self) -> Any:
        """What `fit` receives: an instance of the trainer's model, or a plain dict."""
        model = own_model(self.trainer)
        if model is None or model is dict:
            return copy.deepcopy(self.data)
        return _validate(model, self.data, source=f"trainer {self.trainer!r}'s config")

    @property
    def name(self) -> str:
        name = self.data.get("name")
        return name if isinstance(name, str) and name else "run"

    @property
    def training(self) -> PlannedTraining:
        key = self.key_meaning("training.epochs")
        epochs = lookup(self.data, key) if key is not None else None
        if isinstance(epochs, int | float):
            return PlannedTraining(int(epochs))
        return PlannedTraining(1, known=False)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.data, sort_keys=False)

    # -- patches -------------------------------------------------------------------------------

    def tunable(self) -> tuple[Tunable, ...] | None:
        from workflow.protocol import resolve_trainer_protocol

        return resolve_trainer_protocol(self.trainer).tunable

    def key_meaning(self, setting: str) -> str | None:
        """The trainer's key that means the phasegate `setting` (None: no key does)."""
        return next((t.key for t in self.tunable() or () if t.means == setting), None)

    def own_key(self, setting: str) -> str | None:
        """The trainer's tunable key `setting` is, or means (None: neither)."""
        declared = self.tunable() or ()
        return next((t.key for t in declared if setting in (t.key, t.means)), None)

    def meant(self) -> dict[str, str]:
        """Each phasegate setting a tunable key means, with that key."""
        return {t.means: t.key for t in self.tunable() or () if t.means}

    def translate(self, changes: Mapping[str, Any], *, source: str = "changes"
                  ) -> dict[str, Any]:
        """`changes` on the trainer's own keys, each checked against what it declares.

        A key is the trainer's own tunable key, or a phasegate setting one of them means.
        A trainer that declares no tunable keys takes a patch to any key of its config.
        """
        declared = self.tunable()
        if declared is None:
            return dict(changes)
        by_key = {t.key: t for t in declared}
        meant = {t.means: t for t in declared if t.means}
        out: dict[str, Any] = {}
        for dotted, value in changes.items():
            tunable = by_key.get(dotted) or meant.get(dotted)
            if tunable is None:
                raise ConfigError(
                    f"{source}: {dotted}: not a key trainer {self.trainer!r} declares tunable, "
                    f"nor a setting one of them means (tunable: {', '.join(by_key)})")
            if tunable.integer and isinstance(value, float) and value.is_integer():
                value = int(value)
            why = tunable.refusal(value)
            if why is not None:
                shown = dotted if dotted == tunable.key else f"{dotted} ({tunable.key})"
                raise ConfigError(f"{source}: {shown}: {why}, declared by trainer "
                                  f"{self.trainer!r}")
            out[tunable.key] = value
        return out

    def with_changes(self, changes: Mapping[str, Any], *, source: str = "changes") -> OwnConfig:
        """A copy with dotted `changes` applied (see `translate`), re-validated by the model."""
        data = self.model_dump()
        patch = self.translate(changes, source=source)
        for dotted, value in patch.items():
            node = data
            *parents, leaf = dotted.split(".")
            for part in parents:
                child = node.get(part)
                if not isinstance(child, dict):
                    raise ConfigError(f"{source}: {dotted}: {part} is not a section of the "
                                      "trainer's config")
                node = child
            node[leaf] = value
        patched = OwnConfig.validated(self.trainer, data, source=source)
        for dotted in patch:  # a key the user's model ignores would train the config unchanged
            *parents, leaf = dotted.split(".")
            node = lookup(patched.data, ".".join(parents)) if parents else patched.data
            if not isinstance(node, Mapping) or leaf not in node:
                raise ConfigError(f"{source}: {dotted}: not a field of trainer "
                                  f"{self.trainer!r}'s config model (it dropped the value)")
        return patched

    # -- phasegate's view, for Phase 3 -----------------------------------------------------------

    def view(self) -> TrainConfig:
        """The config as phasegate's settings: each meant setting holds its key's value.

        A value phasegate's schema refuses (an epoch count over its limit) is left at the
        default; the settings no key means are defaults, and `meant()` tells them apart.
        """
        from workflow.io import validate
        from workflow.trainer.config import TrainConfig

        try:
            view = validate({"name": self.name}, TrainConfig, source="own config")
        except ConfigError:  # a name phasegate's schema refuses: the view keeps its own
            view = TrainConfig()
        for setting, key in self.meant().items():
            value = lookup(self.data, key)
            if value is None:
                continue
            try:
                view = view.with_changes({setting: value}, source="own config")
            except ConfigError:
                continue
        return _view_type().model_validate(view.model_dump()).holding(self)


@functools.cache
def _view_type() -> Any:
    """`TrainConfig` that remembers the own config it is the view of (`OwnConfig.view`)."""
    from pydantic import PrivateAttr

    from workflow.trainer.config import TrainConfig

    class OwnView(TrainConfig):
        _own: OwnConfig | None = PrivateAttr(None)

        def holding(self, own: OwnConfig) -> OwnView:
            self._own = own
            return self

    return OwnView


def _validate(model: type, data: Any, *, source: str) -> Any:
    """`data` as an instance of the user's pydantic `model`: by field name (its dump, which
    `data` is kept as) or by alias (the user's YAML); a bad field is one line naming it."""
    from pydantic import BaseModel, ValidationError

    from workflow.io import describe_validation_error

    try:
        return cast(type[BaseModel], model).model_validate(data, by_name=True)  # pydantic 2.11
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, cast(type[BaseModel], model),
                                                    source)) from None


def own_of(config: Any) -> OwnConfig | None:
    """The own config `config` is, or is the view of (None: phasegate's own TrainConfig)."""
    if isinstance(config, OwnConfig):
        return config
    own = getattr(config, "_own", None)
    return own if isinstance(own, OwnConfig) else None


def own_model(trainer: str) -> type | None:
    """The trainer's own config model (None: it takes phasegate's `TrainConfig`)."""
    if trainer == "builtin":
        return None
    from workflow.protocol import resolve_trainer_protocol

    return resolve_trainer_protocol(trainer).config_model


def load_config(path: str | Path, trainer: str = "builtin") -> RunConfig:
    """The config in `path`, as the trainer takes it: its own, or phasegate's `TrainConfig`."""
    if own_model(trainer) is None:
        from workflow.trainer.config import load_train_config

        return load_train_config(path)
    from workflow.io import read_yaml

    return OwnConfig.validated(trainer, read_yaml(Path(path)) or {}, source=str(path))


def config_from_dump(data: Mapping[str, Any], trainer: str = "builtin",
                     *, source: str = "config") -> RunConfig:
    """A config from its JSON dump (a plan, a recorded attempt), as the trainer takes it."""
    if own_model(trainer) is None:
        from workflow.io import validate
        from workflow.trainer.config import TrainConfig

        return validate(dict(data), TrainConfig, source=source)
    return OwnConfig.validated(trainer, dict(data), source=source)


def like(template: RunConfig, data: Mapping[str, Any], *, source: str = "config") -> RunConfig:
    """`data` as a config of the same kind as `template` (an attempt's, a plan's)."""
    if isinstance(template, OwnConfig):
        return OwnConfig.validated(template.trainer, dict(data), source=source)
    return config_from_dump(data, source=source)


def as_view(config: RunConfig) -> TrainConfig:
    """`config` as phasegate's settings: itself, or an own config's `view()`."""
    return config.view() if isinstance(config, OwnConfig) else config


def fit_argument(config: Any) -> Any:
    """What a trainer's `fit` receives for `config`."""
    return config.value() if isinstance(config, OwnConfig) else config


def lookup(data: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted key of an own config, or None where there is none."""
    found = _find(data, dotted)
    return None if found is MISSING else found


def _plain(data: Any) -> Any:
    """A mapping as YAML and JSON give it back (tuples as lists), so dumps compare equal."""
    if isinstance(data, Mapping):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_plain(v) for v in data]
    return data
