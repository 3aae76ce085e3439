"""Loading a user's `module:function` or `module:Class` and checking it fits its extension point.

A plug-in that does not fit fails here, once, when it is loaded (at `init`, or
when a study is created), with one line naming what is missing: never halfway
through a run.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from workflow.errors import ExtensionError, PluginError

__all__ = ["load_callable", "load_class"]


def load_callable(
    spec: str, *, role: str, required: Sequence[str] = (), keyword_only: Sequence[str] = ()
) -> Callable[..., Any]:
    """Import `module:function` and check its signature accepts the contract's arguments.

    `required` are positional-or-keyword parameters that must be present in
    order; `keyword_only` must be accepted by name. A function taking **kwargs
    accepts any keyword.
    """
    target = _resolve(spec, role, "module:function")
    if not callable(target):
        raise PluginError(f"{role} {spec!r}: {spec.partition(':')[2]!r} is not callable")
    _check_signature(target, spec, role, required, keyword_only)
    return target


def _check_signature(
    func: Callable[..., Any],
    spec: str,
    role: str,
    required: Sequence[str],
    keyword_only: Sequence[str],
) -> None:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return  # builtins and C functions: nothing to check
    kinds = {p.kind for p in params.values()}
    if inspect.Parameter.VAR_POSITIONAL not in kinds:
        positional = [
            p.name
            for p in params.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if len(positional) < len(required):
            raise PluginError(
                f"{role} {spec!r} takes ({', '.join(positional)}) "
                f"but must take ({', '.join(required)})"
            )
    if inspect.Parameter.VAR_KEYWORD in kinds:
        return
    missing = [name for name in keyword_only if name not in params]
    if missing:
        raise PluginError(f"{role} {spec!r} lacks keyword argument(s) {', '.join(missing)}")


def load_class(spec: str, *, role: str, base: type) -> type:
    """Import `module:Class` and check it is a concrete subclass of `base`.

    A class that does not derive from `base`, or leaves one of its abstract
    methods unimplemented, is an `ExtensionError` naming the missing methods.
    """
    target = _resolve(spec, role, "module:Class")
    if not inspect.isclass(target):
        raise ExtensionError(f"{role} {spec!r}: expected a class deriving from {base.__name__}")
    if not issubclass(target, base):
        needed = sorted(getattr(base, "__abstractmethods__", ()))
        methods = f" (implementing {', '.join(needed)})" if needed else ""
        raise ExtensionError(
            f"{role} {spec!r}: {target.__name__} must derive from "
            f"{base.__module__}.{base.__name__}{methods}"
        )
    missing = sorted(getattr(target, "__abstractmethods__", ()))
    if missing:
        raise ExtensionError(
            f"{role} {spec!r}: {target.__name__} does not implement {', '.join(missing)} "
            f"of {base.__name__}"
        )
    return target


def _resolve(spec: str, role: str, shape: str) -> Any:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise PluginError(f"{role} {spec!r}: expected {shape!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a user's module may fail to import in any way
        raise PluginError(f"{role} {spec!r}: cannot import {module_name!r} ({exc})") from None
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise PluginError(f"{role} {spec!r}: {module_name!r} has no attribute {attr!r}")
    return target
