"""The latency model of a simulated-venue backtest: feed delays and order round trips.

A backtest on recorded market data cannot know how long the real bot took to see a book
frame or to get an answer from the venue, so it assumes: every market-data frame reaches
the bot ``market_data_ms`` after the venue printed it, every provider report
``esports_ms`` after it was recorded, every request reaches the venue ``request_ms`` after
it was sent and its answer comes back ``reply_ms`` later. ``jitter_ms`` adds a seeded,
reproducible random extra of up to that much to each delay.

:class:`LatentVenue` wraps any venue implementation (the paper venue) so that each call
waits out the request delay before the venue acts and the reply delay after, through an
injected :data:`~polyloly.runtime.sleep.Sleep` (the backtest's virtual clock).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from polyloly.domain.events import (
    BookInvalidated,
    BookSnapshot,
    Event,
    LastTrade,
    MarketResolved,
    MatchEvent,
    PriceChanges,
    TickSizeChange,
)
from polyloly.execution.ports import (
    Balances,
    CancelResult,
    MergeResult,
    SignedOrder,
    SubmitResult,
    TradeReport,
    VenueOrder,
)
from polyloly.runtime.clock import NS_PER_MS
from polyloly.runtime.sleep import Sleep

__all__ = ["MARKET_DATA", "FullVenue", "LatencyModel", "LatentVenue"]

MARKET_DATA: tuple[type[Event], ...] = (
    BookSnapshot,
    PriceChanges,
    LastTrade,
    TickSizeChange,
    BookInvalidated,
    MarketResolved,
)
"""Events the venue produces (its book); the bot sees them ``market_data_ms`` late."""

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class LatencyModel:
    """Delays of a simulated-venue backtest, in milliseconds (see the module docstring)."""

    market_data_ms: int = 0
    esports_ms: int = 0
    request_ms: int = 25
    reply_ms: int = 25
    jitter_ms: int = 0
    seed: int = 1

    def __post_init__(self) -> None:
        values = (self.market_data_ms, self.esports_ms, self.request_ms, self.reply_ms)
        if min(*values, self.jitter_ms) < 0:
            raise ValueError("latencies must be >= 0")

    def jitter(self) -> Callable[[], int]:
        """A seeded source of extra delay in ns (always 0 without jitter)."""
        if self.jitter_ms <= 0:
            return lambda: 0
        rng = random.Random(self.seed)  # noqa: S311 - reproducible simulation, not security
        top = self.jitter_ms * NS_PER_MS
        return lambda: rng.randrange(top + 1)

    def feed_delay_ns(self, event: Event) -> int:
        """How late the bot sees ``event`` (0 for its own timers and control events)."""
        if isinstance(event, MARKET_DATA):
            return self.market_data_ms * NS_PER_MS
        if isinstance(event, MatchEvent):
            return self.esports_ms * NS_PER_MS
        return 0

    @property
    def max_feed_delay_ns(self) -> int:
        """The largest fixed feed delay."""
        return max(self.market_data_ms, self.esports_ms) * NS_PER_MS


class FullVenue(Protocol):
    """Every venue port in one object (the paper venue is one)."""

    async def submit(self, order: SignedOrder) -> SubmitResult:
        """Place an order."""
        ...

    async def lookup(self, order_hash: str) -> VenueOrder | None:
        """Find an order."""
        ...

    async def cancel(self, order_hashes: Sequence[str]) -> CancelResult:
        """Cancel orders."""
        ...

    async def cancel_all(self) -> CancelResult:
        """Cancel everything."""
        ...

    async def open_orders(self) -> list[VenueOrder]:
        """Open orders."""
        ...

    async def trades(self, after_ns: int) -> list[TradeReport]:
        """Trades since ``after_ns``."""
        ...

    async def balances(self, token_ids: Sequence[str]) -> Balances:
        """Balances."""
        ...

    async def merge(self, condition_id: str, size: int) -> MergeResult:
        """Merge pairs."""
        ...


class LatentVenue:
    """A venue whose every call takes the model's request and reply delays."""

    def __init__(self, inner: FullVenue, model: LatencyModel, sleep: Sleep) -> None:
        self.inner = inner
        self.model = model
        self.sleep = sleep
        self._jitter = model.jitter()
        self.calls = 0

    async def _call(self, action: Callable[[], Awaitable[_T]]) -> _T:
        self.calls += 1
        await self.sleep(self.model.request_ms * NS_PER_MS + self._jitter())
        result = await action()
        await self.sleep(self.model.reply_ms * NS_PER_MS + self._jitter())
        return result

    async def submit(self, order: SignedOrder) -> SubmitResult:
        """Submit after the request delay; the answer after the reply delay."""
        return await self._call(lambda: self.inner.submit(order))

    async def lookup(self, order_hash: str) -> VenueOrder | None:
        """Look an order up."""
        return await self._call(lambda: self.inner.lookup(order_hash))

    async def cancel(self, order_hashes: Sequence[str]) -> CancelResult:
        """Cancel orders."""
        return await self._call(lambda: self.inner.cancel(order_hashes))

    async def cancel_all(self) -> CancelResult:
        """Cancel everything."""
        return await self._call(self.inner.cancel_all)

    async def open_orders(self) -> list[VenueOrder]:
        """Read open orders."""
        return await self._call(self.inner.open_orders)

    async def trades(self, after_ns: int) -> list[TradeReport]:
        """Read trades."""
        return await self._call(lambda: self.inner.trades(after_ns))

    async def balances(self, token_ids: Sequence[str]) -> Balances:
        """Read balances."""
        return await self._call(lambda: self.inner.balances(token_ids))

    async def merge(self, condition_id: str, size: int) -> MergeResult:
        """Merge pairs."""
        return await self._call(lambda: self.inner.merge(condition_id, size))
