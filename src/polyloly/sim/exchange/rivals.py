"""Rival arbitrageurs: the traders the bot races for every gap and every stale quote.

* :class:`RivalPairTaker` watches a market's two asks; when they sum, fees included, to
  ``min_edge`` or more under $1, it buys both — after its own latency (drawn per gap from
  a log-normal around ``latency_median_ms``). A gap lasts until the first taker (a rival or
  the bot) lifts it, or the maker re-quotes.
* :class:`RivalTemporalTaker` reads the sports feed ``lag_ms`` late (in the fair-value
  source's time: game time for scenarios) and, after its latency, lifts any ask (hits any
  bid) that its view of the fair value beats by ``min_edge`` after fees: it cleans up the
  quotes of makers slower than itself, up to ``max_position`` shares a market.

Both send FAK orders through :meth:`~polyloly.sim.exchange.venue.Venue.submit`, so the
taker delay of a live sports market applies to them as to the bot. Latencies are in the
fair-value source's time (game time for scenarios: a world played 47× faster has rivals
47× faster too; only the bot's own latency is real); every draw comes from the pool's
seeded RNG.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType
from polyloly.domain.money import ONE
from polyloly.sim.exchange.traders import FairValueSource, duration_ns, view_of
from polyloly.sim.exchange.venue import Venue

__all__ = ["RivalPairTaker", "RivalTemporalTaker", "draw_latency_ns"]


def draw_latency_ns(
    rng: random.Random, median_ms: float, sigma: float, fair: FairValueSource, condition_id: str
) -> int:
    """A log-normal latency with the given median (ms of the source's time, see
    :func:`~polyloly.sim.exchange.traders.duration_ns`) and shape ``sigma``, in clock ns."""
    if median_ms <= 0:
        return 0
    return duration_ns(fair, condition_id, rng.lognormvariate(math.log(median_ms), sigma))


def _fee(venue: Venue, token: str, price: int) -> int:
    """The taker fee of one share at ``price`` (micros)."""
    return venue.engine.market_of(token).fee_model.taker_fee(ONE, price)


def _open(venue: Venue, condition_id: str) -> bool:
    listing = venue.listings[condition_id]
    return not listing.closed and listing.accepting_orders


@dataclass
class RivalPairTaker:
    """Buys both asks of a market when they sum under $1 by ``min_edge`` after fees."""

    owner: str
    condition_id: str
    latency_median_ms: float = 150.0
    latency_sigma: float = 0.5
    min_edge: int = 5_000
    max_size: int = 500 * ONE
    due_ns: int | None = None
    taken: int = 0

    def step(self, venue: Venue, fair: FairValueSource, now_ns: int, rng: random.Random) -> int:
        """Spot a gap, or take it once the latency has passed; return the orders sent."""
        if not _open(venue, self.condition_id):
            return 0
        a, b = venue.listings[self.condition_id].token_ids
        _, asks_a = venue.book(a)
        _, asks_b = venue.book(b)
        if not asks_a or not asks_b:
            self.due_ns = None
            return 0
        (pa, sa), (pb, sb) = asks_a[0], asks_b[0]
        edge = ONE - pa - pb - _fee(venue, a, pa) - _fee(venue, b, pb)
        if edge < self.min_edge:
            self.due_ns = None
            return 0
        if self.due_ns is None:
            self.due_ns = now_ns + draw_latency_ns(
                rng, self.latency_median_ms, self.latency_sigma, fair, self.condition_id
            )
        if now_ns < self.due_ns:
            return 0
        self.due_ns = None
        size = min(sa, sb, self.max_size)
        sent = 0
        for token, price in ((a, pa), (b, pb)):
            status, _ = venue.submit(
                token, Side.BUY, price, size, owner=self.owner, order_type=OrderType.FAK
            )
            sent += status == 200
        self.taken += 1
        return sent


@dataclass
class RivalTemporalTaker:
    """Takes quotes its view of the game (the sports feed, ``lag_ms`` late) beats."""

    owner: str
    condition_id: str
    lag_ms: int = 4_000
    latency_median_ms: float = 150.0
    latency_sigma: float = 0.5
    min_edge: int = 30_000
    size: int = 100 * ONE
    max_position: int = 1_000 * ONE
    due_ns: int | None = None
    bought: int = 0
    sold: int = 0

    def step(self, venue: Venue, fair: FairValueSource, now_ns: int, rng: random.Random) -> int:
        """Spot a stale quote, or take it once the latency has passed; return orders sent."""
        if not _open(venue, self.condition_id):
            return 0
        value, _ = view_of(fair, self.condition_id, now_ns, self.lag_ms)
        target = None if value is None else self._target(venue, value)
        if target is None:
            self.due_ns = None
            return 0
        if self.due_ns is None:
            self.due_ns = now_ns + draw_latency_ns(
                rng, self.latency_median_ms, self.latency_sigma, fair, self.condition_id
            )
        if now_ns < self.due_ns:
            return 0
        self.due_ns = None
        token, side, price, size = target
        status, _ = venue.submit(
            token, side, price, size, owner=self.owner, order_type=OrderType.FAK
        )
        if status == 200:
            if side is Side.BUY:
                self.bought += size
            else:
                self.sold += size
        return 1

    def _target(self, venue: Venue, value: int) -> tuple[str, Side, int, int] | None:
        a, b = venue.listings[self.condition_id].token_ids
        for token, token_value in ((a, value), (b, ONE - value)):
            bids, asks = venue.book(token)
            room = self.max_position - self.bought
            if asks and room > 0:
                price, size = asks[0]
                if token_value - price - _fee(venue, token, price) >= self.min_edge:
                    return token, Side.BUY, price, min(size, self.size, room)
            room = self.max_position - self.sold
            if bids and room > 0:
                price, size = bids[0]
                if price - token_value - _fee(venue, token, price) >= self.min_edge:
                    return token, Side.SELL, price, min(size, self.size, room)
        return None
