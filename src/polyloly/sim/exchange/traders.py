"""Synthetic traders: market makers that know what the public knows, and takers.

The fair value of a market (the probability of outcome 0, in micros) comes through the
small :class:`FairValueSource` port; :class:`RandomWalkFairValue` is the seeded default
and scenario timelines plug in their own. A source may also say what someone ``lag``
behind the truth *sees* and when that someone last learned news (:class:`PublicView`,
``view``): scenario sources measure the lag in game time (a bot reading the sports feed a
few seconds late, a viewer watching the broadcast tens of seconds late); the others in
clock time. A :class:`MarketMaker` re-quotes both tokens around the value it sees
(``lag_ms`` plus its own draw up to ``lag_spread_ms``): at once when that value moves (after
``react_ms``), otherwise every ``refresh_ms``; on news it widens its quotes
(``news_widen_ticks`` for ``news_widen_ms``), and pulls them for ``pull_ms`` when the value
jumps by ``pull_threshold`` or more (a map ends, a fight decides the game). Sometimes
(``gap_probability``, drawn from the pool's seeded RNG) it leaves the two tokens' asks
summing to ``1 − gap_ticks × tick``, as real makers do between updates, which pair traders
hunt. One tick (the default) never beats a 0.03 taker fee on a 0.01 tick (up to 0.015 a
pair); ``gap_ticks=5`` does. A :class:`Taker` sends FAK orders that lift the
best ask or hit the best bid when the price looks fair to it. Rival arbitrageurs
(:mod:`~polyloly.sim.exchange.rivals`) compete with the bot for gaps and stale quotes.

Everything is driven by :meth:`~polyloly.sim.exchange.pool.TraderPool.step` with the
clock's time and a seeded RNG, so a run is reproducible.
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
    "PublicView",
    "RandomWalkFairValue",
    "StaticFairValue",
    "Taker",
    "View",
    "duration_ns",
    "view_of",
]

_MIN_P = 20_000
_MAX_P = 980_000


class FairValueSource(Protocol):
    """The true probability of a market's outcome 0 (micros), or ``None`` if unknown."""

    def fair_value(self, condition_id: str, now_ns: int) -> int | None:
        """Fair value of outcome 0 at ``now_ns``."""
        ...


View = tuple[int | None, int | None]
"""What a viewer sees: ``(fair value of outcome 0 or None, clock ns of its latest news or
None when the source has no notion of news)``."""


class PublicView(FairValueSource, Protocol):
    """A source that also says what someone ``lag_ms`` behind the truth sees."""

    def view(self, condition_id: str, now_ns: int, lag_ms: int) -> View:
        """The value seen at ``now_ns`` with ``lag_ms`` of lag (the source's time unit)."""
        ...


def duration_ns(fair: FairValueSource, condition_id: str, ms: float) -> int:
    """Clock ns of ``ms`` in the source's time (``fair.duration_ns`` when it has one: game
    time for scenarios played faster than real time), else ``ms`` clock milliseconds."""
    convert = getattr(fair, "duration_ns", None)
    if convert is not None:
        return int(convert(condition_id, ms))
    return int(ms * NS_PER_MS)


def view_of(fair: FairValueSource, condition_id: str, now_ns: int, lag_ms: int) -> View:
    """``fair.view`` when the source has one, else its value ``lag_ms`` clock ms ago."""
    view = getattr(fair, "view", None)
    if view is not None:
        seen: View = view(condition_id, now_ns, lag_ms)
        return seen
    return fair.fair_value(condition_id, now_ns - lag_ms * NS_PER_MS), None


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
    """Quotes both tokens of one market around the value it sees (see the module docstring).

    Sizes and prices are micros; ``lag_ms``, ``refresh_ms``, ``react_ms``, ``news_widen_ms``
    and ``pull_ms`` are in the fair-value source's time (game time for scenarios, see
    :func:`duration_ns`). ``spread`` is the full bid-ask width on each token. With probability
    ``gap_probability`` a refresh prices the second token's best ask from the first one's
    complement minus ``gap_ticks`` ticks (a stale or careless quote), so the two asks sum
    to ``1 − gap_ticks × tick`` until the next refresh.
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
    react_ms: int = 0
    news_widen_ticks: int = 0
    news_widen_ms: int = 0
    pull_threshold: int = ONE
    pull_ms: int = 0
    next_ns: int = 0
    quotes: list[str] = field(default_factory=list)
    quoted: int | None = None
    news_ns: int | None = None
    widen_until_ns: int = 0

    def __post_init__(self) -> None:
        if self.gap_ticks < 1:
            raise ValueError(f"gap_ticks must be >= 1, got {self.gap_ticks}")
        if not 0.0 <= self.gap_probability <= 1.0:
            raise ValueError(f"gap_probability must be within [0, 1], got {self.gap_probability}")

    def step(self, venue: Venue, fair: FairValueSource, now_ns: int, rng: random.Random) -> int:
        """Re-quote, pull or widen if due; return the number of orders placed."""
        listing = venue.listings[self.condition_id]
        value, news = view_of(fair, self.condition_id, now_ns, self.lag_ms)
        cid = self.condition_id
        if news is not None and news != self.news_ns:
            self.news_ns = news
            self.widen_until_ns = news + duration_ns(fair, cid, self.news_widen_ms)
            jump = abs((value or 0) - self.quoted) if self.quoted is not None else 0
            if value is None or jump >= self.pull_threshold:
                self._pull(venue)  # pull at once: the book must not sit at the old price
                self.next_ns = news + duration_ns(fair, cid, max(self.pull_ms, self.react_ms))
                return 0
        moved = value != self.quoted and self.quotes
        react = self.news_ns is not None and now_ns >= self.news_ns + duration_ns(
            fair, cid, self.react_ms
        )
        if now_ns < self.next_ns and not (moved and react):
            return 0
        self.next_ns = now_ns + duration_ns(fair, cid, self.refresh_ms)
        self._pull(venue)
        if value is None or listing.closed or not listing.accepting_orders:
            return 0
        self.quoted = value
        widen = self.news_widen_ticks * listing.tick if now_ns < self.widen_until_ns else 0
        careless = rng.random() < self.gap_probability
        # a decided market (its value 0 or 1) is never quoted carelessly: no maker who knows
        # the result leaves the winner's ask a few ticks under the loser's complement
        return self._quote_all(venue, value, widen, careless and 0 < value < ONE)

    def _pull(self, venue: Venue) -> None:
        if self.quotes:
            venue.cancel(None, self.quotes)
            self.quotes = []

    def _quote_all(self, venue: Venue, value: int, widen_news: int, gap: bool) -> int:
        listing = venue.listings[self.condition_id]
        tick = listing.tick
        a, b = listing.token_ids
        placed = 0
        half = self.spread // 2 + widen_news
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
        if not 0 < price < ONE:
            return 0  # a decided market: no quote at 0 or 1
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
        self.next_ns = now_ns + duration_ns(fair, self.condition_id, self.interval_ms)
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
