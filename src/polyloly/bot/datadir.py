"""The bot's data folder: one per mode, and one running bot per folder.

With ``storage.data_dir: data`` (``data/dev`` and ``data/prod`` in those overlays)::

    data/control.token      the control API's generated token (one control port per host)
    data/live/              polyloly run --live-money
    data/paper/             polyloly paper, and polyloly run without --live-money
    data/record/            polyloly record (or the folder given by --out)
        polyloly.lock       held (flock) by the running bot; holds its PID
        events/             the event log (storage.event_log_dir overrides)
        polyloly.db         the SQLite projection (DATABASE_URL / storage.database_url override)

Live and paper state never share a folder, so switching modes never reads another
mode's ledger (which reconciliation would rightly refuse). :class:`FolderLock` is taken
before anything else a command does; a second process asking for the same folder gets
:class:`~polyloly.runtime.errors.FolderInUseError` naming the holder's PID. The lock is an
``flock`` on an open file: the kernel releases it when the process dies, however it dies,
so a stale lock file never blocks a restart.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from polyloly.runtime.errors import FolderInUseError

if TYPE_CHECKING:
    from types import TracebackType

    from polyloly.bot.settings import Settings

__all__ = ["LOCK_FILE", "DataFolder", "FolderLock", "data_folder"]

LOCK_FILE: Final = "polyloly.lock"
_MODE_FOLDERS: Final = {"live": "live", "paper": "paper", "record": "record"}


@dataclass(frozen=True, slots=True)
class DataFolder:
    """Where one mode's run keeps its state."""

    root: Path
    """The folder the lock guards."""
    events: Path
    """The event log folder."""
    database_url: str
    """The SQL projection (a SQLite file in ``root`` unless configured)."""


def data_folder(settings: Settings, mode: str, out: Path | None = None) -> DataFolder:
    """The folder of ``mode`` (``live``, ``paper``, ``record``) under ``storage.data_dir``.

    ``out`` (``record --out DIR``) replaces the folder: the log goes straight into it.
    An explicit ``storage.event_log_dir`` or ``storage.database_url`` is used as given.
    """
    storage = settings.storage
    if out is not None:
        root, events = out, out
    else:
        root = storage.data_dir / _MODE_FOLDERS[mode]
        events = storage.event_log_dir or root / "events"
    db = storage.database_url
    url = db.get_secret_value() if db is not None else f"sqlite+aiosqlite:///{root / 'polyloly.db'}"
    return DataFolder(root=root, events=events, database_url=url)


class FolderLock:
    """An exclusive, non-blocking lock on a folder (``<folder>/polyloly.lock``).

    Use as a context manager, or :meth:`acquire` / :meth:`release`. The file keeps the
    holder's PID while it is held, so that the refused process can name it.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> FolderLock:
        """Take the lock or raise :class:`FolderInUseError` at once (never waits)."""
        if self._fd is not None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise FolderInUseError(self.folder, pid) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up (the file stays; an empty file means no holder)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
