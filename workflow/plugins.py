"""Loading a user's `module:function` or `module:Class` and checking it fits its extension point.

A plug-in that does not fit fails here, once, when it is loaded (at `init`, or
when a study is created), with one line naming what is missing: never halfway
through a run, and never after it was called.

What a plug-in may be is the trust model's second rule: a function or a class
of the user's own code, whose signature fits the contract. So a name is
refused, before anything is imported or called, when

- its module is in Python's standard library (`os:system`, `subprocess:run`:
  a project file would otherwise run any command it names as a "dataset");
- it names a dunder attribute (`mod:__builtins__.exec`), or resolves to
  something defined in the standard library or in C (`mypkg:os.system`,
  `mypkg:print`): a builtin has no signature to check against the contract;
- it is neither a Python function nor a class, or its signature cannot take
  the contract's arguments, or needs more than the contract gives.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from workflow.errors import ExtensionError, PluginError

__all__ = [
    "CONTRACTS",
    "check_spec",
    "importable_from",
    "is_standard_library",
    "load_callable",
    "load_class",
]

# modules that ship with Python or that any import reaches: never a user's plug-in
_STANDARD = frozenset(sys.stdlib_module_names) | {"builtins", "__main__", "__future__"}


# what phasegate passes each kind of plug-in: (positional, by keyword). A caller that
# names a role here gets its whole contract checked, whatever it passes itself
CONTRACTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "dataset": (("root",), ()),
    "model": ((), ("num_classes", "input_shape")),
    "trainer": (("config", "seed", "out_dir"), ("report", "should_stop")),
}


def importable_from(folder: str | os.PathLike[str] | None) -> None:
    """Make the modules beside a project file importable (`dataset: mydata:load` with
    `mydata.py` next to it), as Python does for a script's own folder.

    Appended, not prepended: a module of the folder never shadows an installed one.
    Worker processes are spawned with the parent's `sys.path`, so they find them too.
    """
    if folder is None:
        return
    path = str(Path(folder).resolve())
    if path not in sys.path:
        sys.path.append(path)
        importlib.invalidate_caches()


def is_standard_library(module_name: str) -> bool:
    """Whether `module_name` (dotted) belongs to Python's standard library."""
    return module_name.partition(".")[0] in _STANDARD


def load_callable(
    spec: str, *, role: str, required: Sequence[str] = (), keyword_only: Sequence[str] = ()
) -> Callable[..., Any]:
    """Import `module:function` and check its signature accepts the contract's arguments.

    `required` are positional-or-keyword parameters that must be present in
    order; `keyword_only` must be accepted by name. A function taking **kwargs
    accepts any keyword.
    """
    known_required, known_keywords = CONTRACTS.get(role, ((), ()))
    required = tuple(required) or known_required
    keyword_only = tuple(dict.fromkeys([*keyword_only, *known_keywords]))
    target = _resolve(spec, role, "module:function")
    if not (inspect.isfunction(target) or inspect.isclass(target)):
        raise PluginError(
            f"{role} {spec!r}: {spec.partition(':')[2]!r} is a {type(target).__name__}, "
            "not a function or class of your own"
        )
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
        raise PluginError(f"{role} {spec!r}: its signature cannot be read") from None
    kinds = {p.kind for p in params.values()}
    positional = [
        p for p in params.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if inspect.Parameter.VAR_POSITIONAL not in kinds and len(positional) < len(required):
        raise PluginError(
            f"{role} {spec!r} takes ({', '.join(p.name for p in positional)}) "
            f"but must take ({', '.join(required)})"
        )
    # a parameter the contract never passes, without a default, fails on every call
    given = set(keyword_only)
    unfilled = [
        p.name
        for p in params.values()
        if p.default is p.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and not (p in positional and positional.index(p) < len(required))
        and not (p.kind is not p.POSITIONAL_ONLY and p.name in given)
    ]
    if unfilled:
        raise PluginError(
            f"{role} {spec!r} needs ({', '.join(unfilled)}), which the contract never gives "
            f"(it gives {', '.join([*required, *keyword_only]) or 'nothing'})"
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


def check_spec(spec: str, *, role: str, shape: str = "module:function") -> tuple[str, str]:
    """The (module, attribute) of `spec`, checked without importing anything.

    For read-only commands (`status`) that must name a plug-in's problems without
    running the user's code: a malformed name, the standard library or a dunder
    path is refused here exactly as `load_callable` would refuse it.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise PluginError(f"{role} {spec!r}: expected {shape!r}")
    if is_standard_library(module_name):
        raise PluginError(
            f"{role} {spec!r}: {module_name!r} is Python's standard library, not a plug-in; "
            f"name a {shape.partition(':')[2].lower()} of your own code"
        )
    if any(part.startswith("__") for part in attr.split(".")):
        raise PluginError(f"{role} {spec!r}: a plug-in is not reached through dunder names")
    return module_name, attr


def _resolve(spec: str, role: str, shape: str) -> Any:
    module_name, attr = check_spec(spec, role=role, shape=shape)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a user's module may fail to import in any way
        raise PluginError(f"{role} {spec!r}: cannot import {module_name!r} ({exc})") from None
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise PluginError(f"{role} {spec!r}: {module_name!r} has no attribute {attr!r}")
    home = getattr(target, "__module__", None)
    if inspect.isbuiltin(target) or (isinstance(home, str) and is_standard_library(home)):
        raise PluginError(
            f"{role} {spec!r}: resolves to {home or 'builtins'}."
            f"{getattr(target, '__qualname__', attr)}, from Python's standard library, "
            "not a plug-in of your own"
        )
    return target
