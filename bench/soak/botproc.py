"""The bot as a separate process: ``polyloly run --live-money``, started, killed, restarted.

:class:`BotProcess` runs the real command an operator runs — the ``polyloly`` console script
of this interpreter's environment, ``run --live-money --env demo`` with ``--set`` options
pointing it at the harness's simulators — with the private key and the control token in
its environment only (never on the command line, which the harness journals). Each start
is a :class:`Session` with its own log file (stdout and stderr); a start is *ready* when
the node logs ``node.started`` (start-up reconciliation passed), and *failed* when the
process exits first or is not ready in time.

The environment is built from scratch (``PATH``, ``HOME``, locale, ``TMPDIR``), so no
``POLYMARKET_*`` or limit variable of the caller's shell leaks into the run; the working
directory is the run's data folder, so no stray ``.env`` is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from polyloly.runtime.clock import Clock

__all__ = ["READY_MARK", "BotProcess", "Session", "bot_command"]

READY_MARK: Final = b"node.started"
_REPO: Final = Path(__file__).resolve().parents[2]
_KEEP_ENV: Final = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR")
_POLL_S: Final = 0.05


def bot_command(overrides: Mapping[str, str]) -> list[str]:
    """The command line (no secrets in it)."""
    script = Path(sys.executable).with_name("polyloly")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "polyloly.bot.cli"]
    cmd = [
        *head,
        "run",
        "--live-money",
        "--env",
        "demo",
        "--config-dir",
        str(_REPO / "config"),
        "--log-level",
        "INFO",
    ]
    for key, value in overrides.items():
        cmd += ["--set", f"{key}={value}"]
    return cmd


@dataclass(slots=True)
class Session:
    """One start of the bot process."""

    index: int
    log: Path
    started_ns: int
    pid: int = 0
    ready_ns: int | None = None
    ended_ns: int | None = None
    end: str = "running"  # running | sigkill | sigterm | exited | failed
    exit_code: int | None = None
    kill_mode: str = ""
    killed: bool = False  # ended by a SIGKILL (the harness's, or a start that timed out)

    @property
    def ready(self) -> bool:
        """Whether the node reported it had started."""
        return self.ready_ns is not None


class BotProcess:
    """Starts, kills and stops the bot process (see module docstring)."""

    def __init__(
        self,
        cmd: list[str],
        secrets_env: Mapping[str, str],
        *,
        cwd: Path,
        log_dir: Path,
        clock: Clock,
    ) -> None:
        self.cmd = cmd
        base = {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}
        self.env = {**base, "PYTHONUNBUFFERED": "1", **secrets_env}
        self.cwd = cwd
        self.log_dir = log_dir
        self.clock = clock
        self.sessions: list[Session] = []
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def current(self) -> Session | None:
        """The latest session."""
        return self.sessions[-1] if self.sessions else None

    @property
    def running(self) -> bool:
        """Whether a bot process is alive and ready."""
        s = self.current
        return self._proc is not None and self._proc.returncode is None and bool(s and s.ready)

    @property
    def pid(self) -> int | None:
        """The live process's id."""
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    async def start(
        self, ready_timeout_s: float, disturbed_ns: Callable[[], int] | None = None
    ) -> Session:
        """Start the bot and wait until it is ready, has exited, or the timeout passed.

        The timeout runs from the start or from the last disturbance of the venue's HTTP
        API that ``disturbed_ns`` reports (an injected error or hang, or one still armed),
        whichever is later — a bot cannot finish its start-up reconciliation while the
        venue's reads fail — but never past three timeouts from the start.
        A start that does not become ready is ended (SIGKILL if still alive) and marked
        ``failed`` with its exit code.
        """
        if self._proc is not None and self._proc.returncode is None:
            raise RuntimeError("the bot is already running")
        index = len(self.sessions) + 1
        log = self.log_dir / f"bot-{index:02d}.log"
        session = Session(index=index, log=log, started_ns=self.clock.now_ns())
        self.sessions.append(session)
        with log.open("wb") as out:
            self._proc = await asyncio.create_subprocess_exec(
                *self.cmd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,  # a Ctrl-C of the harness is not the bot's
            )
        session.pid = self._proc.pid
        timeout_ns = int(ready_timeout_s * 1e9)
        limit_ns = session.started_ns + 3 * timeout_ns
        seen = 0
        while True:
            size = log.stat().st_size
            if size > seen:
                with log.open("rb") as fh:
                    fh.seek(max(0, seen - len(READY_MARK)))
                    chunk = fh.read(size - seen + len(READY_MARK))
                seen = size
                if READY_MARK in chunk:
                    session.ready_ns = self.clock.now_ns()
                    return session
            since = max(session.started_ns, disturbed_ns() if disturbed_ns else 0)
            if self._proc.returncode is not None or self.clock.now_ns() > min(
                since + timeout_ns, limit_ns
            ):
                break
            await asyncio.sleep(_POLL_S)
        self.kill("start-timeout")
        await self.reap()
        session.end = "failed"
        return session

    def kill(self, mode: str) -> bool:
        """SIGKILL the bot now (synchronous: callable from inside an exchange request)."""
        proc, session = self._proc, self.current
        if proc is None or proc.returncode is not None or session is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        session.ended_ns = self.clock.now_ns()
        session.end = "sigkill"
        session.kill_mode = mode
        session.killed = True
        return True

    async def reap(self) -> None:
        """Wait for a killed or exiting process and note its exit."""
        proc, session = self._proc, self.current
        if proc is None or session is None:
            return
        session.exit_code = await proc.wait()
        if session.ended_ns is None:
            session.ended_ns = self.clock.now_ns()
        if session.end == "running":
            session.end = "exited"
        self._proc = None

    async def terminate(self, timeout_s: float = 30.0) -> None:
        """Stop the bot the orderly way (SIGTERM: it cancels its orders and flushes)."""
        proc, session = self._proc, self.current
        if proc is None or session is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            session.end = "sigterm"
            try:
                await asyncio.wait_for(proc.wait(), timeout_s)
            except TimeoutError:
                self.kill("stop-timeout")
        await self.reap()

    async def exited(self) -> bool:
        """Whether the process ended by itself (notes the exit if so)."""
        proc = self._proc
        if proc is not None and proc.returncode is not None:
            await self.reap()
            return True
        return False
