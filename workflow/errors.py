"""Every error phasegate raises on purpose derives from `WorkflowError`.

Each class carries the CLI exit code it maps to, so the CLI catches the root
once, prints the message as one line (a JSON object under `--json`) and exits
with `exit_code`. One code per meaning:

| code | meaning |
|---|---|
| 0 | done |
| 1 | refused: a gate or a decision said no, the command does not apply now, a run failed |
| 2 | bad input: a file, a flag, a name or a value that does not fit |
| 3 | busy: another phasegate command holds the project's lock; try again later |
| 130 | interrupted (Ctrl-C); rerun the command, it resumes |
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2
EXIT_BUSY = 3
EXIT_INTERRUPTED = 130

# every code the CLI exits with, and what it means (the README's table)
EXIT_CODES = {
    EXIT_OK: "done",
    EXIT_REFUSED: "refused: a gate or a decision said no, or the command does not apply now",
    EXIT_BAD_INPUT: "bad input: a file, flag, name or value that does not fit",
    EXIT_BUSY: "busy: another command holds the project's lock",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C): rerun to resume",
}


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
    """Another live process holds the project's lock: busy, not bad input; try again later."""

    exit_code = EXIT_BUSY


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
