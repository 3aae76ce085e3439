"""Where a sweep's study lives: a journal file on one machine, or a database for many.

By default the study is a journal file in the sweep folder (`study.journal`):
several local processes append to it under a file lock the kernel releases
when a holder dies. An SQLAlchemy URL (`postgresql://user@host/db`) lets
workers on many machines share one study.
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflow.errors import ConfigError

if TYPE_CHECKING:
    import optuna

__all__ = ["JOURNAL_FILE", "quiet", "open_storage", "describe_storage"]

JOURNAL_FILE = "study.journal"


def quiet() -> None:
    """Optuna's info logs and experimental-feature warnings stay off the terminal."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def describe_storage(url: str) -> str:
    """The storage for messages: a URL's password hidden."""
    if "://" not in url:
        return url
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported by open_storage
        return url.split("@")[-1]


def open_storage(
    url: str | os.PathLike[str], *, create: bool = True
) -> optuna.storages.BaseStorage:
    """An SQLAlchemy URL (postgresql://..., sqlite:///...) or a journal file path.

    `create=False`: a journal file must already exist (a worker joins, never starts, a study).
    """
    quiet()
    import optuna
    from optuna.storages.journal import JournalFileBackend

    text = str(url)
    if "://" in text:
        try:
            return optuna.storages.RDBStorage(
                _with_driver(text), engine_kwargs={"pool_pre_ping": True}
            )
        except Exception as exc:  # sqlalchemy raises many kinds; each is a bad URL or server
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"storage {describe_storage(text)}: cannot be opened ({first})"
            ) from None
    path = Path(text).expanduser()
    if not path.parent.is_dir():
        raise ConfigError(f"storage {path}: folder {path.parent} does not exist")
    if not create and not path.is_file():
        raise ConfigError(f"storage {path}: no such journal file")
    _repair_journal(path)
    lock: Any = _flock_lock_class()(str(path) + ".flock")
    return optuna.storages.JournalStorage(JournalFileBackend(str(path), lock_obj=lock))


@functools.cache
def _flock_lock_class() -> type:
    """A journal lock the kernel releases when its holder dies.

    Optuna's default lock is a symlink: a worker killed (SIGKILL) while appending
    leaves it behind, and every other process then waits out a 30 s grace period.
    `flock` is dropped with the process. It serves one machine's processes;
    workers on several machines share a database URL instead.
    """
    import fcntl

    class FlockLock:  # the journal backend asks only for acquire() and release()
        def __init__(self, path: str) -> None:
            self.path = path
            self.handle: int | None = None

        def acquire(self) -> bool:
            handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            fcntl.flock(handle, fcntl.LOCK_EX)
            self.handle = handle
            return True

        def release(self) -> None:
            handle, self.handle = self.handle, None
            if handle is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
                os.close(handle)

    return FlockLock


def _with_driver(url: str) -> str:
    """`postgresql://` with the driver that is installed: SQLAlchemy 2.1 assumes psycopg 3,
    phasegate's `postgres` extra installs psycopg2."""
    if not url.startswith("postgresql://"):
        return url
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
        return "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


def _repair_journal(path: Path) -> None:
    # a process killed mid-append may leave a last line without its newline; the
    # journal would then refuse every later line
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return
        data = path.read_bytes()
        handle.truncate(data.rfind(b"\n") + 1)
