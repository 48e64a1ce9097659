"""Test-only crash points: kill this process (SIGKILL) at a chosen point of an order's life.

**For tests only; never set it in production.** Crash and soak tests use it to prove that a
restarted node places exactly one order per decision, however it died. Arm it with one
environment variable on the bot's process::

    POLYLOLY_CRASH_AT=<point>[:<n>]

``point`` is one of :class:`CrashPoint`; ``n`` (default 1) picks the n-th order of this
process to reach that point. The process writes one line to stderr (``crash point …``) and
kills itself with SIGKILL: no handler, no flush, no shutdown, exactly as a crash.

* ``before_post`` — the order's ``OrderSubmitted`` is logged and flushed; the request is
  not sent. The venue never hears of it.
* ``after_post`` — the venue answered the post (it has the order); nothing of its answer was
  handled or logged.
* ``after_reply`` — the submit's outcome (``OrderAccepted`` / ``OrderRejected`` /
  ``OrderSubmitUnknown``) is appended to the event log's buffer and being handled; the log
  is not flushed, so it is lost.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from polyloly.execution.events import OrderAccepted, OrderRejected, OrderSubmitUnknown
from polyloly.execution.order_manager import OrderManager
from polyloly.runtime.errors import ConfigError
from polyloly.runtime.kernel import Kernel

__all__ = ["CRASH_ENV", "CrashPoint", "CrashPoints"]

CRASH_ENV: Final = "POLYLOLY_CRASH_AT"
"""The environment variable that arms a crash point (tests only)."""


class CrashPoint(StrEnum):
    """Where in an order's life the process dies (see the module docstring)."""

    BEFORE_POST = "before_post"
    AFTER_POST = "after_post"
    AFTER_REPLY = "after_reply"


def _sigkill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@dataclass(slots=True)
class CrashPoints:
    """One armed crash point: the ``nth`` order of this process to reach ``point`` kills it."""

    point: CrashPoint
    nth: int = 1
    kill: Callable[[], None] = _sigkill
    seen: int = 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CrashPoints | None:
        """The crash point ``POLYLOLY_CRASH_AT`` arms, or ``None`` (raises ConfigError if bad)."""
        raw = environ.get(CRASH_ENV, "").strip()
        if not raw:
            return None
        name, _, count = raw.partition(":")
        try:
            point = CrashPoint(name)
            nth = int(count) if count else 1
        except ValueError as exc:
            choices = ", ".join(p.value for p in CrashPoint)
            raise ConfigError(
                f"{CRASH_ENV}: expected <point>[:<n>], point one of {choices}"
            ) from exc
        if nth < 1:
            raise ConfigError(f"{CRASH_ENV}: n must be at least 1 (got {nth})")
        return cls(point, nth)

    def attach(self, kernel: Kernel, orders: OrderManager) -> None:
        """Watch the order manager's submits and, last of all handlers, their outcomes.

        Attach it after every other subscriber, so ``after_reply`` fires once the outcome
        was handled by all of them but before the kernel flushes the log.
        """
        orders.on_point = self.hit
        kernel.subscribe(OrderAccepted, self._on_outcome)
        kernel.subscribe(OrderRejected, self._on_outcome)
        kernel.subscribe(OrderSubmitUnknown, self._on_outcome)

    def _on_outcome(self, event: OrderAccepted | OrderRejected | OrderSubmitUnknown) -> None:
        self.hit(CrashPoint.AFTER_REPLY, event.order_hash)

    def hit(self, point: str, order_hash: str) -> None:
        """An order reached ``point``: kill the process if it is the armed one."""
        if point != self.point:
            return
        self.seen += 1
        if self.seen == self.nth:
            sys.stderr.write(f"crash point {point} #{self.seen} (order {order_hash}): SIGKILL\n")
            sys.stderr.flush()
            self.kill()
