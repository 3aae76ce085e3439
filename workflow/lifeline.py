"""Worker processes that die with the command that started them.

A phasegate command trains seeds and trials in spawned worker processes. When
the command is killed (SIGKILL, an OOM kill, a closed terminal), its workers
must not live on under PID 1: they would finish their queued seeds, publish
them beside a rerun that trains the same seeds, and hold their memory idle.

`die_with_parent(parent_pid)` is the first thing a worker does:

- on Linux, `prctl(PR_SET_PDEATHSIG, SIGKILL)`: the kernel kills the worker the
  moment the thread that spawned it ends (phasegate spawns workers from the
  command's main thread, which ends only with the process);
- everywhere, a watchdog thread that exits the worker within `WATCH_S` of its
  parent's pid changing (the orphan is re-parented), the portable fallback;
- a parent that died before either was in place is caught by the first check.

Ctrl-C is the parent's to handle: `ignore_interrupt()` makes a worker deaf to
the SIGINT a terminal sends the whole process group, so the parent can stop the
workers, clean their partial folders and exit once, with one line.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

__all__ = ["WATCH_S", "die_with_parent", "ignore_interrupt", "worker_init"]

WATCH_S = 0.5
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, *, pdeathsig: bool = True) -> None:
    """End this process when `parent_pid` ends (see the module docstring).

    `pdeathsig`: ask the kernel too (Linux); give False when the process was spawned
    from a thread that may end before the parent does.
    """
    if pdeathsig and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl here: the watchdog alone serves
            pass
    if os.getppid() != parent_pid:  # the parent died before the signal was set
        os._exit(1)
    threading.Thread(target=_watch, args=(parent_pid,), name="phasegate-lifeline",
                     daemon=True).start()


def ignore_interrupt() -> None:
    """Leave SIGINT (Ctrl-C in a terminal reaches every process of the group) to the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def worker_init(parent_pid: int, pdeathsig: bool = True) -> None:
    """The initializer of a phasegate worker process: dies with its parent, deaf to Ctrl-C."""
    ignore_interrupt()
    die_with_parent(parent_pid, pdeathsig=pdeathsig)


def _watch(parent_pid: int) -> None:
    while True:
        time.sleep(WATCH_S)
        if os.getppid() != parent_pid:
            os._exit(1)  # no cleanup: the rerun owns the folders now
