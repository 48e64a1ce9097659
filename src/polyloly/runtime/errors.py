"""Errors named by what the caller should do next, and the command line's exit codes.

Vendor and library errors are translated into these at the boundary (``raise X from e``),
so callers branch on the class, never on message text. The command line turns each into
one line on stderr and an :class:`ExitCode` (:mod:`polyloly.bot.cli_errors`).
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path

__all__ = [
    "BackOffError",
    "ConfigError",
    "ExitCode",
    "FolderInUseError",
    "HaltError",
    "PolylolyError",
    "PortInUseError",
    "RejectError",
    "RetryableError",
    "UnknownOutcomeError",
]


class ExitCode(IntEnum):
    """What every ``polyloly`` command's exit status means (README: "Exit codes")."""

    OK = 0
    FAILED = 1
    """The command ran and failed: a doctor check, a demo problem, backtest differences."""
    CONFIG = 2
    """Invalid configuration or command-line usage."""
    REFUSED = 3
    """Refused: no key, reconciliation failed, credentials or token refused."""
    UNREACHABLE = 4
    """The venue, a feed or the bot's control API could not be reached."""
    FOLDER_IN_USE = 5
    """The data folder belongs to another running polyloly."""
    PORT_IN_USE = 6
    """A port the bot serves on (control, metrics, simulator) could not be bound."""
    BAD_INPUT = 7
    """A file is missing, unreadable, corrupt or truncated (names the file and line)."""
    NOTHING_TO_COMPARE = 8
    """``backtest --mode exact``: the log holds no decisions to compare."""


class PolylolyError(Exception):
    """Base of every polyloly error."""


class RetryableError(PolylolyError):
    """A transient failure (timeout, 5xx, dropped connection): retry with backoff."""


class BackOffError(RetryableError):
    """The venue is throttling (429) or in a cancel-only window (503): wait longer, then retry.

    ``retry_after_s`` is the venue's hint when it gave one.
    """

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UnknownOutcomeError(RetryableError):
    """A request may or may not have taken effect (reply lost): look it up before retrying."""


class RejectError(PolylolyError):
    """The request is invalid as sent (bad price, no balance, duplicate): do not retry it."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class HaltError(PolylolyError):
    """Something is wrong enough that trading must stop (auth lost, state irreconcilable)."""


class ConfigError(PolylolyError):
    """Configuration is invalid; start-up stops with a message naming the key."""


class FolderInUseError(PolylolyError):
    """Another process holds the data folder's lock: one data folder serves one bot."""

    def __init__(self, folder: Path, pid: int | None) -> None:
        holder = f"PID {pid}" if pid is not None else "another process"
        super().__init__(
            f"data folder {folder} is in use by polyloly {holder}; stop it, or give this "
            "one its own folder (--set storage.data_dir=DIR)"
        )
        self.folder = folder
        self.pid = pid


class PortInUseError(PolylolyError):
    """A listening socket could not be bound (``what`` names the setting)."""

    def __init__(self, what: str, host: str, port: int, reason: str) -> None:
        super().__init__(f"cannot listen on {host}:{port} ({what}): {reason}")
        self.what = what
        self.host = host
        self.port = port
