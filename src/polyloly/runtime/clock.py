"""The only place polyloly reads wall time.

Everything else receives a :class:`Clock`. :class:`LiveClock` reads the system clock;
:class:`VirtualClock` is advanced by hand (tests) or by replay (set to each event's
``ts_init``), and fires timers deterministically as it moves.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["NS_PER_MS", "NS_PER_S", "Clock", "LiveClock", "VirtualClock"]

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000


class Clock(Protocol):
    """Source of the current time in integer nanoseconds since the Unix epoch (UTC)."""

    def now_ns(self) -> int:
        """Return the current time in ns."""
        ...

    def monotonic_ns(self) -> int:
        """Return a monotonic time in ns, for measuring durations."""
        ...


class LiveClock:
    """The system clock."""

    def now_ns(self) -> int:
        """Return wall-clock time in ns."""
        return time.time_ns()  # noqa: TID251 - this module is the one allowed reader

    def monotonic_ns(self) -> int:
        """Return ``time.monotonic_ns()``."""
        return time.monotonic_ns()


@dataclass(order=True)
class _Timer:
    due_ns: int
    seq: int
    callback: Callable[[int], None] = field(compare=False)


class VirtualClock:
    """A clock that only moves when told to; timers fire in due order as it advances."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns
        self._timers: list[_Timer] = []
        self._seq = 0

    def now_ns(self) -> int:
        """Return the virtual time."""
        return self._now

    def monotonic_ns(self) -> int:
        """Virtual time is monotonic too."""
        return self._now

    def call_at(self, due_ns: int, callback: Callable[[int], None]) -> None:
        """Call ``callback(due_ns)`` when the clock reaches ``due_ns``."""
        self._seq += 1
        heapq.heappush(self._timers, _Timer(due_ns, self._seq, callback))

    def set_ns(self, ts_ns: int) -> None:
        """Move to ``ts_ns`` (never backwards), firing every timer due on the way."""
        if ts_ns < self._now:
            return
        while self._timers and self._timers[0].due_ns <= ts_ns:
            timer = heapq.heappop(self._timers)
            self._now = max(self._now, timer.due_ns)
            timer.callback(timer.due_ns)
        self._now = ts_ns

    def advance_ns(self, delta_ns: int) -> None:
        """Move forward by ``delta_ns``."""
        if delta_ns < 0:
            raise ValueError("a clock cannot go backwards")
        self.set_ns(self._now + delta_ns)
