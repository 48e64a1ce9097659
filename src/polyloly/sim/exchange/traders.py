"""Synthetic traders: market makers that lag the truth, and takers that trade against them.

The fair value of a market (the probability of outcome 0, in micros) comes through the
small :class:`FairValueSource` port; :class:`RandomWalkFairValue` is the seeded default
and scenario timelines plug in their own. A :class:`MarketMaker` re-quotes both tokens
around the fair value it saw ``lag_ms`` ago, every ``refresh_ms``; sometimes
(``gap_probability``, drawn from the pool's seeded RNG) it leaves the two tokens' asks
summing to ``1 − gap_ticks × tick``, as real makers do between updates, which pair traders
hunt. One tick (the default) never beats a 0.03 taker fee on a 0.01 tick (up to 0.015 a
pair); ``gap_ticks=5`` does. A :class:`Taker` sends FAK orders that lift the
best ask or hit the best bid when the price looks fair to it.

Everything is driven by :meth:`TraderPool.step` with the clock's time and a seeded RNG,
so a run is reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Protocol

from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType
from polyloly.domain.money import ONE, Rounding, round_to_tick
from polyloly.runtime.clock import NS_PER_MS
from polyloly.sim.exchange.venue import Venue

__all__ = [
    "FairValueSource",
    "MarketMaker",
    "RandomWalkFairValue",
    "StaticFairValue",
    "Taker",
    "TraderPool",
]

_MIN_P = 20_000
_MAX_P = 980_000


class FairValueSource(Protocol):
    """The true probability of a market's outcome 0 (micros), or ``None`` if unknown."""

    def fair_value(self, condition_id: str, now_ns: int) -> int | None:
        """Fair value of outcome 0 at ``now_ns``."""
        ...


@dataclass
class StaticFairValue:
    """A fixed fair value per market (tests, scripted demos); ``set`` changes it."""

    values: dict[str, int] = field(default_factory=dict)
    default: int | None = 500_000

    def fair_value(self, condition_id: str, now_ns: int) -> int | None:
        """The value set for the market, else the default."""
        return self.values.get(condition_id, self.default)

    def set(self, condition_id: str, value: int) -> None:
        """Change a market's fair value."""
        self.values[condition_id] = value


class RandomWalkFairValue:
    """A seeded random walk per market, one step every ``step_ms``, clamped in [2%, 98%].

    The walk is a pure function of (seed, market, time): asking for an earlier time
    returns the value the walk had then (makers use that to lag).
    """

    def __init__(
        self, seed: int = 1, *, start: int = 500_000, step_micros: int = 10_000, step_ms: int = 500
    ) -> None:
        self.seed = seed
        self.start = start
        self.step_micros = step_micros
        self.step_ns = step_ms * NS_PER_MS
        self._paths: dict[str, list[int]] = {}
        self._rngs: dict[str, random.Random] = {}
        self._origin: int | None = None

    def fair_value(self, condition_id: str, now_ns: int) -> int | None:
        """The walk's value at ``now_ns`` (the first query fixes the time origin)."""
        if self._origin is None:
            self._origin = now_ns
        index = max(0, (now_ns - self._origin) // self.step_ns)
        path = self._paths.setdefault(condition_id, [self.start])
        rng = self._rngs.get(condition_id)
        if rng is None:
            rng = random.Random(f"{self.seed}:{condition_id}")  # noqa: S311 - simulation
            self._rngs[condition_id] = rng
        while len(path) <= index:
            step = rng.choice((-self.step_micros, 0, self.step_micros))
            path.append(min(_MAX_P, max(_MIN_P, path[-1] + step)))
        return path[index]


def _quote_price(raw: int, tick: int, rounding: Rounding) -> int:
    """A quote's price on the tick grid within ``[tick, 1 - tick]``.

    Near the fair value's 2 % / 98 % bounds a quote ``value ± spread / 2`` (or the gap ask,
    ``1 - ask - gap``) falls below 0 or above 1: it is clamped to the book's edge (where
    it may cross the maker's own other side and be skipped), never an error.
    """
    return round_to_tick(min(max(raw, 0), ONE), tick, rounding)


@dataclass
class MarketMaker:
    """Quotes both tokens of one market around a lagged fair value.

    Sizes and prices are micros. ``spread`` is the full bid-ask width on each token. With
    probability ``gap_probability`` a refresh prices the second token's best ask from the
    first one's complement minus ``gap_ticks`` ticks (a stale or careless quote), so the two
    asks sum to ``1 − gap_ticks × tick`` until the next refresh.
    """

    owner: str
    condition_id: str
    spread: int = 40_000
    size: int = 100 * ONE
    levels: int = 2
    lag_ms: int = 1_000
    refresh_ms: int = 1_000
    gap_probability: float = 0.1
    gap_ticks: int = 1
    next_ns: int = 0
    quotes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.gap_ticks < 1:
            raise ValueError(f"gap_ticks must be >= 1, got {self.gap_ticks}")
        if not 0.0 <= self.gap_probability <= 1.0:
            raise ValueError(f"gap_probability must be within [0, 1], got {self.gap_probability}")

    def step(self, venue: Venue, fair: FairValueSource, now_ns: int, rng: random.Random) -> int:
        """Re-quote if due; return the number of orders placed."""
        if now_ns < self.next_ns:
            return 0
        self.next_ns = now_ns + self.refresh_ms * NS_PER_MS
        listing = venue.listings[self.condition_id]
        if self.quotes:
            venue.cancel(None, self.quotes)
            self.quotes = []
        value = fair.fair_value(self.condition_id, now_ns - self.lag_ms * NS_PER_MS)
        if value is None or listing.closed or not listing.accepting_orders:
            return 0
        tick = listing.tick
        a, b = listing.token_ids
        gap = rng.random() < self.gap_probability
        placed = 0
        half = self.spread // 2
        for level in range(self.levels):
            widen = level * tick
            ask_a = _quote_price(value + half + widen, tick, Rounding.UP)
            ask_b = _quote_price(ONE - value + half + widen, tick, Rounding.UP)
            bid_b = _quote_price(ONE - value - half - widen, tick, Rounding.DOWN)
            if gap and level == 0:
                # Leave a pair of asks under $1: the second token's ask is set from the
                # first one's complement minus gap_ticks ticks (a stale or careless quote).
                ask_b = _quote_price(ONE - ask_a - self.gap_ticks * tick, tick, Rounding.DOWN)
                bid_b = max(tick, min(bid_b, ask_b - tick))
            quotes = (
                (a, Side.BUY, _quote_price(value - half - widen, tick, Rounding.DOWN)),
                (a, Side.SELL, ask_a),
                (b, Side.BUY, bid_b),
                (b, Side.SELL, ask_b),
            )
            for token, side, price in quotes:
                placed += self._quote(venue, token, side, price)
        return placed

    def _quote(self, venue: Venue, token: str, side: Side, price: int) -> int:
        try:
            self.quotes.append(venue.place_resting(token, side, price, self.size, self.owner))
        except ValueError:
            return 0  # it would cross someone's order on the same book: skip the level
        return 1


@dataclass
class Taker:
    """Takes liquidity with FAK orders when the top of book is within ``tolerance`` of fair."""

    owner: str
    condition_id: str
    size: int = 20 * ONE
    interval_ms: int = 2_000
    probability: float = 0.5
    tolerance: int = 20_000
    next_ns: int = 0

    def step(self, venue: Venue, fair: FairValueSource, now_ns: int, rng: random.Random) -> int:
        """Maybe trade once if due; return 1 if an order was sent."""
        if now_ns < self.next_ns:
            return 0
        self.next_ns = now_ns + self.interval_ms * NS_PER_MS
        listing = venue.listings[self.condition_id]
        value = fair.fair_value(self.condition_id, now_ns)
        if value is None or listing.closed or rng.random() >= self.probability:
            return 0
        index = rng.randrange(2)
        token = listing.token_ids[index]
        token_value = value if index == 0 else ONE - value
        bids, asks = venue.book(token)
        if asks and asks[0][0] <= token_value + self.tolerance:
            side, price = Side.BUY, asks[0][0]
        elif bids and bids[0][0] >= token_value - self.tolerance:
            side, price = Side.SELL, bids[0][0]
        else:
            return 0
        status, _ = venue.submit(
            token, side, price, self.size, owner=self.owner, order_type=OrderType.FAK
        )
        return 1 if status == 200 else 0


class TraderPool:
    """All synthetic traders of a simulator, stepped on its clock."""

    def __init__(self, venue: Venue, fair: FairValueSource | None, *, seed: int) -> None:
        self.venue = venue
        self.fair: FairValueSource = fair or RandomWalkFairValue(seed)
        self.rng = random.Random(seed)  # noqa: S311 - reproducible simulation
        self.makers: list[MarketMaker] = []
        self.takers: list[Taker] = []

    def add(
        self,
        condition_id: str,
        *,
        makers: int = 1,
        takers: int = 1,
        spread: int = 40_000,
        size: int = 100 * ONE,
        lag_ms: int = 1_000,
        refresh_ms: int = 1_000,
        gap_probability: float = 0.1,
        gap_ticks: int = 1,
        taker_size: int = 20 * ONE,
        taker_interval_ms: int = 2_000,
    ) -> None:
        """Start ``makers`` market makers and ``takers`` takers on a market."""
        if condition_id not in self.venue.listings:
            raise KeyError(f"unknown market {condition_id}")
        short = condition_id[2:8]
        for n in range(makers):
            self.makers.append(
                MarketMaker(
                    owner=f"mm-{short}-{n + 1}",
                    condition_id=condition_id,
                    spread=spread + 2 * n * self.venue.listings[condition_id].tick,
                    size=size,
                    lag_ms=lag_ms,
                    refresh_ms=refresh_ms,
                    gap_probability=gap_probability,
                    gap_ticks=gap_ticks,
                )
            )
        for n in range(takers):
            self.takers.append(
                Taker(
                    owner=f"taker-{short}-{n + 1}",
                    condition_id=condition_id,
                    size=taker_size,
                    interval_ms=taker_interval_ms,
                )
            )

    def step(self, now_ns: int) -> int:
        """Let every due trader act; return the number of orders sent."""
        done = 0
        for maker in self.makers:
            done += maker.step(self.venue, self.fair, now_ns, self.rng)
        for taker in self.takers:
            done += taker.step(self.venue, self.fair, now_ns, self.rng)
        return done
