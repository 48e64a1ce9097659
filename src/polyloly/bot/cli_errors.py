"""Expected failures as one line on stderr and an :class:`~polyloly.runtime.errors.ExitCode`.

The root command group (:class:`polyloly.bot.cli.RootGroup`) hands whatever a command
raised to :func:`report`. Library exception classes are only looked at when their module
is already loaded (a command that never imported httpx cannot have raised its errors), so
this module imports nothing heavy either.
"""

from __future__ import annotations

import errno
import sys
from typing import Final

import typer

from polyloly.runtime.errors import (
    ConfigError,
    ExitCode,
    FolderInUseError,
    HaltError,
    PolylolyError,
    PortInUseError,
    RetryableError,
)

__all__ = ["describe", "report"]

_FILE_ERRNOS: Final = frozenset(
    {errno.ENOENT, errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTDIR, errno.EIO}
)


def _loaded(module: str, name: str) -> type[BaseException] | None:
    found = getattr(sys.modules.get(module), name, None)
    return found if isinstance(found, type) and issubclass(found, BaseException) else None


def _is(exc: BaseException, module: str, name: str) -> bool:
    cls = _loaded(module, name)
    return cls is not None and isinstance(exc, cls)


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "(no message)"


def _network(exc: BaseException) -> str | None:
    """The message of a connection failure (httpx, aiohttp, websockets, the OS), else None."""
    if _is(exc, "httpx", "TransportError"):
        url = getattr(getattr(exc, "request", None), "url", None)
        where = f" {url}" if url is not None else ""
        return f"cannot reach{where}: {type(exc).__name__}: {exc}"
    for module, name in (
        ("aiohttp", "ClientConnectionError"),
        ("websockets.exceptions", "WebSocketException"),
    ):
        if _is(exc, module, name):
            return f"cannot reach the venue: {type(exc).__name__}: {exc}"
    if isinstance(exc, ConnectionError | TimeoutError):
        return f"cannot reach the venue: {type(exc).__name__}: {exc}"
    return None


def describe(exc: BaseException) -> tuple[ExitCode, str]:  # noqa: PLR0911 - one return per family
    """The exit code for ``exc`` and the message to print (one line, except config errors)."""
    if isinstance(exc, ConfigError):
        lines = str(exc).splitlines() or ["(no detail)"]
        return ExitCode.CONFIG, "invalid configuration:\n" + "\n".join(f"  {x}" for x in lines)
    if isinstance(exc, FolderInUseError):
        return ExitCode.FOLDER_IN_USE, str(exc)
    if isinstance(exc, PortInUseError):
        return ExitCode.PORT_IN_USE, f"{exc}; stop what holds it or choose another port"
    if _is(exc, "polyloly.bot.control", "ControlAuthError"):
        return ExitCode.REFUSED, f"refused: {_one_line(str(exc))}"
    if _is(exc, "polyloly.bot.control", "ControlError"):
        return ExitCode.UNREACHABLE, _one_line(str(exc))
    if isinstance(exc, HaltError):
        return ExitCode.REFUSED, f"refused: {str(exc).strip()}"  # may list differences
    if _is(exc, "polyloly.storage.event_log", "EventLogError"):
        return ExitCode.BAD_INPUT, _one_line(str(exc))
    if isinstance(exc, OSError) and exc.errno in _FILE_ERRNOS and exc.filename is not None:
        return ExitCode.BAD_INPUT, f"cannot use {exc.filename}: {exc.strerror}"
    if isinstance(exc, RetryableError):
        return ExitCode.UNREACHABLE, f"venue unavailable: {_one_line(str(exc))}"
    network = _network(exc)
    if network is not None:
        return ExitCode.UNREACHABLE, _one_line(network)
    if isinstance(exc, PolylolyError):
        return ExitCode.FAILED, f"failed: {_one_line(str(exc))}"
    return ExitCode.FAILED, (
        f"unexpected {type(exc).__name__}: {_one_line(str(exc))[:300]} "
        "(polyloly --debug … shows the traceback)"
    )


def report(exc: BaseException) -> ExitCode:
    """Print ``exc`` as ``error: …`` on stderr (secrets masked); return the exit code."""
    from polyloly.bot.logging import redact_text  # noqa: PLC0415 - the error path only

    code, message = describe(exc)
    message = redact_text(message)
    label = "invalid configuration" if code is ExitCode.CONFIG else "error"
    if code is ExitCode.CONFIG:
        message = message.removeprefix("invalid configuration")
    else:
        message = ": " + message
    typer.echo(typer.style(label, fg="red", bold=True) + message, err=True)
    return code
