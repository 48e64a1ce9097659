"""Timers and the trade status timeline: MATCHED → MINED → CONFIRMED, or RETRYING / FAILED.

:class:`Timers` is a deterministic timer heap driven by the injected clock: the exchange
runs :meth:`Timers.run_due` from its background loop (live clock) or straight after a
test advances a :class:`~polyloly.runtime.clock.VirtualClock`. :class:`TradeLifecycle` moves
each trade along its timeline with the configured delays; a trade marked to fail goes
MATCHED → FAILED at its mining time and is reversed in balances; a trade marked to retry
goes MATCHED → RETRYING → MINED → CONFIRMED.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

from polyloly.runtime.clock import NS_PER_MS
from polyloly.sim.exchange.orders import TradeRecord, TradeStatus

__all__ = ["Timers", "TradeLifecycle"]


@dataclass(order=True)
class _Timer:
    due_ns: int
    seq: int
    callback: Callable[[], None] = field(compare=False)
    name: str = field(compare=False, default="")


class Timers:
    """A heap of callbacks due at clock times (ns); fired in due order, FIFO on ties."""

    def __init__(self) -> None:
        self._heap: list[_Timer] = []
        self._seq = 0

    def at(self, due_ns: int, callback: Callable[[], None], name: str = "") -> None:
        """Run ``callback`` once the clock reaches ``due_ns``."""
        self._seq += 1
        heapq.heappush(self._heap, _Timer(due_ns, self._seq, callback, name))

    def run_due(self, now_ns: int) -> int:
        """Fire every timer due at ``now_ns``; return how many fired."""
        fired = 0
        while self._heap and self._heap[0].due_ns <= now_ns:
            timer = heapq.heappop(self._heap)
            timer.callback()
            fired += 1
        return fired

    def next_due(self) -> int | None:
        """When the next timer is due, if any."""
        return self._heap[0].due_ns if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)


class TradeLifecycle:
    """Moves trades through their on-chain states on the timer heap.

    Parameters
    ----------
    timers
        The exchange's timer heap.
    now_ns
        The injected clock.
    mined_delay_ms, confirmed_delay_ms
        MATCHED → MINED and MINED → CONFIRMED delays.
    on_status
        Called after every status change (publishes the user ``trade`` event).
    on_failed
        Called once when a trade fails (reverses its balances).
    """

    def __init__(
        self,
        timers: Timers,
        now_ns: Callable[[], int],
        *,
        mined_delay_ms: int,
        confirmed_delay_ms: int,
        on_status: Callable[[TradeRecord], None],
        on_failed: Callable[[TradeRecord], None],
    ) -> None:
        self._timers = timers
        self._now_ns = now_ns
        self.mined_delay_ns = mined_delay_ms * NS_PER_MS
        self.confirmed_delay_ns = confirmed_delay_ms * NS_PER_MS
        self._on_status = on_status
        self._on_failed = on_failed
        self._fail_next = 0
        self._retry_next = 0
        self._to_fail: set[str] = set()
        self._to_retry: set[str] = set()

    def fail_next(self, count: int) -> None:
        """Make the next ``count`` matched trades fail instead of being mined."""
        self._fail_next += count

    def retry_next(self, count: int) -> None:
        """Make the next ``count`` matched trades go through RETRYING before mining."""
        self._retry_next += count

    def clear(self) -> None:
        """Forget pending failure / retry injections (trades already marked keep them)."""
        self._fail_next = self._retry_next = 0

    def start(self, trade: TradeRecord) -> None:
        """Begin the timeline of a freshly matched trade."""
        if self._fail_next > 0:
            self._fail_next -= 1
            self._to_fail.add(trade.id)
        elif self._retry_next > 0:
            self._retry_next -= 1
            self._to_retry.add(trade.id)
        trade.history.append(TradeStatus.MATCHED)
        self._timers.at(self._now_ns() + self.mined_delay_ns, lambda: self._mine(trade), "mine")

    def fail(self, trade: TradeRecord) -> bool:
        """Fail a trade now (unless it is already final); True if it failed."""
        if trade.status in (TradeStatus.CONFIRMED, TradeStatus.FAILED):
            return False
        self._set(trade, TradeStatus.FAILED)
        self._on_failed(trade)
        return True

    def _set(self, trade: TradeRecord, status: str) -> None:
        trade.status = status
        trade.last_update_s = self._now_ns() // 1_000_000_000
        trade.history.append(status)
        self._on_status(trade)

    def _mine(self, trade: TradeRecord) -> None:
        if trade.status == TradeStatus.FAILED:
            return
        if trade.id in self._to_fail:
            self._to_fail.discard(trade.id)
            self.fail(trade)
            return
        if trade.id in self._to_retry:
            self._to_retry.discard(trade.id)
            self._set(trade, TradeStatus.RETRYING)
            self._timers.at(
                self._now_ns() + self.mined_delay_ns, lambda: self._mine(trade), "re-mine"
            )
            return
        self._set(trade, TradeStatus.MINED)
        self._timers.at(
            self._now_ns() + self.confirmed_delay_ns, lambda: self._confirm(trade), "confirm"
        )

    def _confirm(self, trade: TradeRecord) -> None:
        if trade.status == TradeStatus.MINED:
            self._set(trade, TradeStatus.CONFIRMED)
