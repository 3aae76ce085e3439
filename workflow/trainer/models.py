"""Model families: mlp, a small cnn, torchvision resnet18/34 and vgg16, or a user's function.

`build_model` returns the module and the parameter-name prefixes of its head
(the part that differential learning rates and progressive unfreezing treat
apart from the backbone).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from workflow.errors import ConfigError, DataError
from workflow.plugins import load_callable
from workflow.trainer.config import ModelConfig

# below this size, torchvision's ImageNet stems throw away too much resolution;
# the usual small-image variants (as for CIFAR) are used instead
SMALL_IMAGE = 64


# 2**31 float32 parameters are 8 GiB before gradients and optimizer state: a config past this
# is a typo (a width of 1e9), refused before torch tries the allocation
MAX_PARAMETERS = 2**31


def build_model(
    config: ModelConfig, input_shape: tuple[int, ...], num_classes: int
) -> tuple[nn.Module, list[str]]:
    check_size(config, input_shape, num_classes)
    if config.name == "mlp":
        model: nn.Module = MLP(
            math.prod(input_shape), config.hidden_widths(), num_classes, config.dropout
        )
        head = ["head"]
    elif config.name == "cnn":
        model = SmallCNN(input_shape[0], config.channels, num_classes, config.dropout)
        head = ["head"]
    elif config.name in ("resnet18", "resnet34"):
        model, head = _resnet(config, _image_shape(config.name, input_shape), num_classes)
    elif config.name == "vgg16":
        model, head = _vgg16(config, _image_shape(config.name, input_shape), num_classes)
    else:
        func = load_callable(config.name, role="model")  # the contract: plugins.CONTRACTS
        generic = {knob: getattr(config, knob) for knob in declared_knobs(func)
                   if knob not in config.kwargs and getattr(config, knob) is not None}
        try:
            model = func(num_classes=num_classes, input_shape=input_shape, **generic,
                         **config.kwargs)
        except Exception as exc:
            raise ConfigError(
                f"model {config.name!r} raised {exc.__class__.__name__}: {exc}"
            ) from exc
        if not isinstance(model, nn.Module):
            raise ConfigError(f"model {config.name!r} must return a torch.nn.Module")
        head = _last_layer_prefix(model)
    if config.head is not None:
        head = list(config.head)
    check_prefixes(model, head, "model.head")
    check_prefixes(model, config.freeze, "model.freeze")
    return model, head


# the generic model settings a plug-in may declare it accepts (`phasegate_knobs`)
PLUGIN_KNOBS = ("widths", "width", "depth", "channels", "dropout")


def declared_knobs(func: object) -> tuple[str, ...]:
    """The generic model settings a plug-in model declares it accepts.

    A plug-in sets `phasegate_knobs = ("dropout", "widths")` on its function (or class):
    it then receives those settings as keyword arguments (a key of `model.kwargs` of the
    same name wins), and Phase 3 may recommend changing them. Without the attribute it
    receives only `model.kwargs`, and Phase 3 recommends no `model.*` setting it would
    never see. An unknown name is a `ConfigError` naming the allowed ones.
    """
    knobs = getattr(func, "phasegate_knobs", ())
    if isinstance(knobs, str) or not all(isinstance(k, str) for k in knobs):
        raise ConfigError(f"phasegate_knobs must be a tuple of names, but got {knobs!r}")
    unknown = [k for k in knobs if k not in PLUGIN_KNOBS]
    if unknown:
        raise ConfigError(f"phasegate_knobs: {unknown[0]!r} is not a generic model setting "
                          f"(allowed: {', '.join(PLUGIN_KNOBS)})")
    return tuple(knobs)


def check_size(config: ModelConfig, input_shape: tuple[int, ...], num_classes: int) -> None:
    """Refuse an mlp or cnn with more than MAX_PARAMETERS parameters (counted, not built)."""
    if config.name == "mlp":
        sizes = [math.prod(input_shape), *config.hidden_widths(), num_classes]
        count = sum((a + 1) * b for a, b in zip(sizes, sizes[1:], strict=False))
        what = "model.widths"
    elif config.name == "cnn":
        sizes = [input_shape[0] if input_shape else 1, *config.channels]
        count = sum(9 * a * b + 2 * b for a, b in zip(sizes, sizes[1:], strict=False))
        count += (sizes[-1] + 1) * num_classes
        what = "model.channels"
    else:
        return
    if count > MAX_PARAMETERS:
        raise ConfigError(
            f"{what}: the {config.name} would have {count:,} parameters, over the limit of "
            f"{MAX_PARAMETERS:,}"
        )


class MLP(nn.Module):
    def __init__(self, in_features: int, widths: Sequence[int], num_classes: int, dropout: float):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        previous = in_features
        for width in widths:
            layers += [nn.Linear(previous, width), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            previous = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(previous, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class SmallCNN(nn.Module):
    """Conv-BN-ReLU blocks, each halving the resolution while it is above 1, then a linear head."""

    def __init__(self, in_channels: int, channels: Sequence[int], num_classes: int, dropout: float):
        super().__init__()
        blocks: list[nn.Module] = []
        previous = in_channels
        for width in channels:
            blocks += [
                nn.Conv2d(previous, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            previous = width
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(previous, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))


def _image_shape(name: str, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise DataError(f"model.name: {name} needs images (C, H, W), the data gives {input_shape}")
    return input_shape


def _load_pretrained(model: nn.Module, path: str | None) -> None:
    if path is None:
        return
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ConfigError(f"model.pretrained {path!r} does not fit the model: {first}") from None


def _resnet(
    config: ModelConfig, shape: tuple[int, int, int], num_classes: int
) -> tuple[nn.Module, list[str]]:
    from torchvision import models

    model = getattr(models, config.name)(weights=None)
    _load_pretrained(model, config.pretrained)
    channels, height, _ = shape
    if height < SMALL_IMAGE:
        model.conv1 = nn.Conv2d(channels, 64, 3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    elif channels != 3:
        old = model.conv1
        model.conv1 = nn.Conv2d(channels, 64, 7, stride=2, padding=3, bias=False)
        with torch.no_grad():  # keep what pretrained filters learned, averaged over colors
            model.conv1.weight.copy_(old.weight.mean(dim=1, keepdim=True).repeat(1, channels, 1, 1))
    linear = nn.Linear(model.fc.in_features, num_classes)
    model.fc = nn.Sequential(nn.Dropout(config.dropout), linear) if config.dropout > 0 else linear
    return model, ["fc"]


def _vgg16(
    config: ModelConfig, shape: tuple[int, int, int], num_classes: int
) -> tuple[nn.Module, list[str]]:
    from torchvision import models

    channels, height, _ = shape
    if height < 32:
        raise DataError(
            f"model.name: vgg16 needs images of at least 32 px (five poolings), the data gives "
            f"{height} px; set data.image_size: 32"
        )
    model = models.vgg16(weights=None, dropout=config.dropout)
    _load_pretrained(model, config.pretrained)
    if channels != 3:
        model.features[0] = nn.Conv2d(channels, 64, 3, padding=1)
    if height < SMALL_IMAGE:
        # at 32 px the features end at 1x1: ImageNet's 25088-wide classifier would be
        # 100M parameters of repeated pixels, so use the usual small-image head
        model.avgpool = nn.AdaptiveAvgPool2d(1)
        model.classifier = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, num_classes)
        )
    else:
        model.classifier[6] = nn.Linear(4096, num_classes)
    return model, ["classifier"]


def _last_layer_prefix(model: nn.Module) -> list[str]:
    names = [name for name, _ in model.named_parameters()]
    if not names:
        raise ConfigError("model has no parameters")
    return [names[-1].rsplit(".", 1)[0]]


def check_prefixes(model: nn.Module, prefixes: Sequence[str], field: str) -> None:
    """Every prefix must name at least one parameter; the error lists what exists."""
    names = [name for name, _ in model.named_parameters()]
    for prefix in prefixes:
        if not any(matches(name, prefix) for name in names):
            tops = sorted({name.split(".")[0] for name in names})
            raise ConfigError(
                f"{field}: {prefix!r} names no parameter (top-level modules: {', '.join(tops)})"
            )


def matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")
