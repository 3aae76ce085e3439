"""Every error phasegate raises on purpose derives from `WorkflowError`.

Each class carries the CLI exit code it maps to, so the CLI catches the root
once, prints the message as one line and exits with `exit_code`:
0 done, 1 refused (a gate or a decision said no), 2 bad input.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2


class WorkflowError(Exception):
    """Root of phasegate's errors. Raise one of its children: the exit code follows the type."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(WorkflowError):
    """A config, checklist or search space file is missing, unreadable or invalid."""


class UsageError(WorkflowError):
    """A name or value given by the user does not fit: an unknown project, gate, item or move,
    a project name already taken, a sign-off without a name."""


class PluginError(WorkflowError):
    """A user's `module:function` cannot be imported or does not fit its contract."""


class DataError(WorkflowError):
    """A dataset cannot be found or loaded, or does not fit the config."""


class StateError(WorkflowError):
    """A run directory's state or facts file is unreadable; never silently reset."""


class FactsError(StateError):
    """A fact recorded or read does not fit its phase's facts model (a bug or a hand edit)."""


class ExtensionError(PluginError):
    """A strategy, sampler, pruner or check named as `module:Class` does not fit its base."""


class LockHeld(WorkflowError):
    """Another live process holds the project's lock."""


class Refused(WorkflowError):
    """A gate or a decision said no."""

    exit_code = EXIT_REFUSED


class TestSetLocked(Refused):
    """The test split was asked for outside Phase 5, or a second time."""

    __test__ = False  # not a pytest test class, despite the name


class GateFailed(Refused):
    """A transition's gate has failed or pending items."""


class RunFailed(Refused):
    """A training run ended without a usable result (diverged, for example)."""


class WrongState(Refused):
    """The command does not apply to the project's current phase (run another first)."""


class WorkFailed(Refused):
    """Work phasegate started could not finish: every worker failed, an export failed."""
