"""Every family of expected failure maps to its documented exit code and one line."""

from __future__ import annotations

import errno
from pathlib import Path

import httpx
import pytest

from polyloly.bot.cli_errors import describe
from polyloly.bot.control import ControlAuthError, ControlError
from polyloly.runtime.errors import (
    ConfigError,
    ExitCode,
    FolderInUseError,
    HaltError,
    PortInUseError,
    RetryableError,
)
from polyloly.storage.event_log import LogDecodeError

REQUEST = httpx.Request("GET", "http://127.0.0.1:9/events")


@pytest.mark.parametrize(
    ("exc", "code", "says"),
    [
        (ConfigError("risk.max_daily_loss_usdc: must be > 0"), ExitCode.CONFIG, "risk.max_daily"),
        (FolderInUseError(Path("data/paper"), 4242), ExitCode.FOLDER_IN_USE, "PID 4242"),
        (PortInUseError("control.port", "127.0.0.1", 8787, "in use"), ExitCode.PORT_IN_USE, "8787"),
        (HaltError("reconciliation failed"), ExitCode.REFUSED, "refused: reconciliation"),
        (ControlAuthError("token refused (401)", 401), ExitCode.REFUSED, "token refused"),
        (ControlError("control API unreachable"), ExitCode.UNREACHABLE, "unreachable"),
        (LogDecodeError("f.jsonl:3: line 3 is bad", Path("f.jsonl"), 3), ExitCode.BAD_INPUT, ":3"),
        (
            PermissionError(errno.EACCES, "Permission denied", "/data/live/polyloly.lock"),
            ExitCode.BAD_INPUT,
            "cannot use /data/live/polyloly.lock: Permission denied",
        ),
        (RetryableError("gamma /events: request not sent"), ExitCode.UNREACHABLE, "gamma"),
        (httpx.ConnectError("refused", request=REQUEST), ExitCode.UNREACHABLE, "127.0.0.1:9"),
        (ValueError("surprise\nsecond line"), ExitCode.FAILED, "--debug"),
    ],
)
def test_each_failure_has_its_code_and_one_line(
    exc: BaseException, code: ExitCode, says: str
) -> None:
    got, message = describe(exc)
    assert got == code
    assert says in message
    if code is not ExitCode.CONFIG and not isinstance(exc, HaltError):
        assert "\n" not in message
