"""Injected sleeping: real ``asyncio.sleep`` live, a virtual sleeper in tests and replays.

The one home of "wait": :data:`Sleep` (a ``delay_ns`` -> awaitable callable, what retries
and backoff take) and :class:`Sleeper` (an object whose :meth:`Sleeper.sleep_ns` is such a
callable, what polling loops take). ``sleeper.sleep_ns`` is a :data:`Sleep`.

Every loop in the esports adapters and the local feeds waits through a :class:`Sleeper`
instead of calling ``asyncio.sleep`` directly, so a test can run a whole best-of-3 in
milliseconds under a :class:`~polyloly.runtime.clock.VirtualClock`: the
:class:`VirtualSleeper` parks each waiting task on a future and
:meth:`VirtualSleeper.advance_to` moves the clock and wakes the due ones, in due order.

The sleeper also knows how many tasks are parked; :meth:`VirtualSleeper.run_until` uses
that to advance only when every loop it drives has finished reacting to the previous
instant (its HTTP round trips over loopback included), which makes request counts and
event timestamps deterministic.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from polyloly.runtime.clock import NS_PER_S, VirtualClock

__all__ = ["AsyncioSleeper", "Sleep", "Sleeper", "VirtualSleeper", "asyncio_sleep"]

Sleep = Callable[[int], Awaitable[None]]
"""Wait ``delay_ns`` nanoseconds (``asyncio.sleep`` live; a virtual clock in tests)."""


async def asyncio_sleep(delay_ns: int) -> None:
    """Sleep on the event loop for ``delay_ns`` nanoseconds."""
    await asyncio.sleep(delay_ns / NS_PER_S)


class Sleeper(Protocol):
    """Waits until a point of the injected clock."""

    async def sleep_ns(self, delay_ns: int) -> None:
        """Wait ``delay_ns`` nanoseconds of clock time (no wait if ``<= 0``)."""
        ...


class AsyncioSleeper:
    """Live sleeper: the clock is the wall clock, so ``asyncio.sleep`` is exact enough."""

    async def sleep_ns(self, delay_ns: int) -> None:
        """Sleep for real."""
        await asyncio.sleep(max(0, delay_ns) / NS_PER_S)


@dataclass(order=True)
class _Waiter:
    due_ns: int
    seq: int
    future: asyncio.Future[None] = field(compare=False)


class VirtualSleeper:
    """Sleeper for a :class:`VirtualClock`: waits end only when the clock is advanced.

    Parameters
    ----------
    clock
        The virtual clock shared by everything under test.
    settle_rounds
        Extra event-loop turns :meth:`run_until` waits, after every driven loop has parked,
        before it believes the system is idle (lets loopback bytes already written be read).
    """

    def __init__(self, clock: VirtualClock, settle_rounds: int = 8) -> None:
        self.clock = clock
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()
        self._settle_rounds = settle_rounds
        self._changed = asyncio.Event()
        self._sleeps = 0

    @property
    def parked(self) -> int:
        """How many tasks are waiting right now."""
        return sum(1 for w in self._waiters if not w.future.done())

    def next_due_ns(self) -> int | None:
        """When the earliest parked task is due, if any."""
        self._drop_cancelled()
        return self._waiters[0].due_ns if self._waiters else None

    async def sleep_ns(self, delay_ns: int) -> None:
        """Park until the clock reaches ``now + delay_ns``."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        due = self.clock.now_ns() + max(0, delay_ns)
        heapq.heappush(self._waiters, _Waiter(due, next(self._seq), future))
        self._sleeps += 1
        self._changed.set()
        await future

    def advance_to(self, ts_ns: int) -> None:
        """Move the clock to ``ts_ns`` and wake every task due by then, earliest first."""
        while self._waiters and self._waiters[0].due_ns <= ts_ns:
            waiter = heapq.heappop(self._waiters)
            self.clock.set_ns(max(waiter.due_ns, self.clock.now_ns()))
            if not waiter.future.done():
                waiter.future.set_result(None)
        self.clock.set_ns(ts_ns)

    def _drop_cancelled(self) -> None:
        while self._waiters and self._waiters[0].future.done():
            heapq.heappop(self._waiters)

    async def wait_parked(self, loops: int, timeout_s: float = 30.0) -> None:
        """Return once ``loops`` tasks are parked and the event loop has gone quiet.

        Raises
        ------
        TimeoutError
            If the tasks do not park within ``timeout_s`` of real time (a test bug or a
            loop that is blocked elsewhere).
        """
        async with asyncio.timeout(timeout_s):
            while True:
                while self.parked < loops:
                    self._changed.clear()
                    await self._changed.wait()
                seq_before = self._seq_value()
                for _ in range(self._settle_rounds):
                    await asyncio.sleep(0)
                if self.parked >= loops and self._seq_value() == seq_before:
                    return

    def _seq_value(self) -> int:
        return self._sleeps

    async def run_until(self, ts_ns: int, loops: int, timeout_s: float = 30.0) -> None:
        """Advance the clock to ``ts_ns``, one due instant at a time.

        Before each step, waits until ``loops`` tasks are parked (every loop the test runs
        has reacted to the previous instant), then jumps to the next due wake-up.
        """
        async with asyncio.timeout(timeout_s):
            while True:
                await self.wait_parked(loops)
                due = self.next_due_ns()
                if due is None or due > ts_ns:
                    self.advance_to(ts_ns)
                    await self.wait_parked(loops)
                    return
                self.advance_to(due)
