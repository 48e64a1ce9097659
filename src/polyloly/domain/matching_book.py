"""The resting-order books the matching engine works on: price levels of FIFO queues.

A :class:`MarketBook` is one binary market: its two outcome tokens, its order rules (tick,
minimum size, fee model) and four :class:`BookSide` s, one per token and side. A
:class:`BookSide` keeps the resting :class:`BookOrder` s of one token and side as price
levels, each a first-in-first-out queue, so that walking it yields orders in price-time
priority. Level sizes are the sum of the ``remaining`` of the orders at that price; a
:class:`LevelChange` reports a level's new aggregate size.

Pure and integer-only (prices and sizes in micro-units); the matching rules themselves
live in :mod:`polyloly.domain.matching`, which re-exports these names.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import msgspec

from polyloly.domain.events import Side
from polyloly.domain.fees import FeeModel
from polyloly.domain.intents import OrderType
from polyloly.domain.money import ONE

__all__ = [
    "BookOrder",
    "BookSide",
    "LevelChange",
    "LevelKey",
    "MarketBook",
    "effective_price",
]

LevelKey = tuple[str, Side, int]
"""One price level of one token's book: ``(token_id, side, price)``."""


@dataclass(slots=True)
class BookOrder:
    """An order resting on a book.

    ``size`` is what the order asked for; ``remaining`` is what still rests (it falls as the
    order fills, or when :meth:`~polyloly.domain.matching.MatchingEngine.reduce` shrinks it).
    Only the engine changes ``remaining``: level sizes are sums of it.
    """

    order_id: str
    owner: str
    maker: str
    token_id: str
    side: Side
    price: int
    size: int
    remaining: int
    order_type: OrderType
    seq: int
    expiration_s: int = 0


def effective_price(token_id: str, order: BookOrder) -> int:
    """The price per share of ``token_id`` that resting ``order`` offers.

    An order on the token itself offers its own price; one on the complement offers the
    rest of the pair's 1 pUSD (a BUY of ``B`` at ``r`` buys ``A``'s complement, so it
    offers ``A`` at ``1 - r``).
    """
    return order.price if order.token_id == token_id else ONE - order.price


class LevelChange(msgspec.Struct, frozen=True, array_like=True):
    """A book level's new aggregate ``size`` (0 = the level is gone)."""

    token_id: str
    side: Side
    price: int
    size: int


class BookSide:
    """One side of one token's book: price levels, each a FIFO queue of resting orders.

    Parameters
    ----------
    side
        ``BUY`` (best = highest price) or ``SELL`` (best = lowest price).
    """

    __slots__ = ("levels", "prices", "side")

    def __init__(self, side: Side) -> None:
        self.side = side
        self.levels: dict[int, deque[BookOrder]] = {}
        self.prices: list[int] = []  # ascending

    def best(self) -> int | None:
        """The best price, or ``None`` when the side is empty."""
        if not self.prices:
            return None
        return self.prices[-1] if self.side is Side.BUY else self.prices[0]

    def add(self, order: BookOrder) -> None:
        """Put ``order`` at the back of its price level's queue."""
        queue = self.levels.get(order.price)
        if queue is None:
            queue = deque()
            self.levels[order.price] = queue
            bisect.insort(self.prices, order.price)
        queue.append(order)

    def remove(self, order: BookOrder) -> None:
        """Take ``order`` out of its queue (dropping the level if it empties)."""
        queue = self.levels[order.price]
        queue.remove(order)
        if not queue:
            self._drop(order.price)

    def pop_head(self, price: int) -> None:
        """Take the oldest order at ``price`` out of its queue (it was filled)."""
        queue = self.levels[price]
        queue.popleft()
        if not queue:
            self._drop(price)

    def shrink(self, order: BookOrder, remaining: int) -> None:
        """Set ``order.remaining`` to the smaller ``remaining`` in place, keeping its place in
        the queue; ``0`` takes the order out."""
        if not 0 <= remaining <= order.remaining:
            raise ValueError(
                f"order {order.order_id} can only shrink: {remaining} is not within "
                f"[0, {order.remaining}]"
            )
        if remaining == 0:
            self.remove(order)
        order.remaining = remaining

    def _drop(self, price: int) -> None:
        del self.levels[price]
        self.prices.pop(bisect.bisect_left(self.prices, price))

    def size_at(self, price: int) -> int:
        """Aggregate resting size at ``price`` (0 when there is no level)."""
        queue = self.levels.get(price)
        return sum(o.remaining for o in queue) if queue else 0

    def walk(self) -> Iterator[BookOrder]:
        """Yield resting orders best price first, oldest first within a price."""
        prices = reversed(self.prices) if self.side is Side.BUY else iter(self.prices)
        for price in prices:
            yield from self.levels[price]

    def aggregated(self) -> list[tuple[int, int]]:
        """``(price, size)`` per level, best first."""
        prices = reversed(self.prices) if self.side is Side.BUY else iter(self.prices)
        return [(p, sum(o.remaining for o in self.levels[p])) for p in prices]


@dataclass(slots=True)
class MarketBook:
    """The two token books of one binary market and its order rules."""

    condition_id: str
    token_a: str
    token_b: str
    tick: int
    min_size: int
    fee_model: FeeModel
    accepting: bool = True
    books: dict[tuple[str, Side], BookSide] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for token in (self.token_a, self.token_b):
            for side in (Side.BUY, Side.SELL):
                self.books[(token, side)] = BookSide(side)

    def other(self, token_id: str) -> str:
        """The complement of ``token_id``."""
        return self.token_b if token_id == self.token_a else self.token_a

    def side(self, token_id: str, side: Side) -> BookSide:
        """The resting orders of one token and side."""
        return self.books[(token_id, side)]

    def side_of(self, order: BookOrder) -> BookSide:
        """The side ``order`` rests on."""
        return self.books[(order.token_id, order.side)]

    def crosses(self, token_id: str, side: Side, price: int) -> bool:
        """Whether a ``side`` order at ``price`` would cross the token's own opposite side."""
        if side is Side.BUY:
            best_ask = self.side(token_id, Side.SELL).best()
            return best_ask is not None and price >= best_ask
        best_bid = self.side(token_id, Side.BUY).best()
        return best_bid is not None and price <= best_bid

    def candidates(self, token_id: str, side: Side, limit: int) -> Iterator[BookOrder]:
        """Resting orders a ``side`` taker of ``token_id`` with limit price ``limit`` can
        trade with, best effective price first, oldest first within a price.

        They come from the token's opposite side (complementary trades) and from the
        complement's same side: a BUY mints a pair with the other token's BUYs, a SELL
        merges one with its SELLs (see :func:`effective_price`).
        """
        other = self.other(token_id)
        if side is Side.BUY:
            direct = self.side(token_id, Side.SELL).walk()
            cross = self.side(other, Side.BUY).walk()
        else:
            direct = self.side(token_id, Side.BUY).walk()
            cross = self.side(other, Side.SELL).walk()
        return _merge_by_priority(_Taker(token_id, side, limit), direct, cross)

    def level_change(self, key: LevelKey) -> LevelChange:
        """The current aggregate size of one level of this market, as a change."""
        token, side, price = key
        return LevelChange(token, side, price, self.side(token, side).size_at(price))


@dataclass(frozen=True, slots=True)
class _Taker:
    """What the priority walk needs to know of the incoming order."""

    token_id: str
    side: Side
    limit: int

    def accepts(self, effective: int) -> bool:
        return effective <= self.limit if self.side is Side.BUY else effective >= self.limit

    def prefers(self, a: BookOrder, b: BookOrder) -> bool:
        """Whether ``a`` has priority over ``b`` (effective price, then time)."""
        pa, pb = effective_price(self.token_id, a), effective_price(self.token_id, b)
        if pa != pb:
            return pa < pb if self.side is Side.BUY else pa > pb
        return a.seq < b.seq


def _merge_by_priority(
    taker: _Taker, direct: Iterator[BookOrder], cross: Iterator[BookOrder]
) -> Iterator[BookOrder]:
    a, b = next(direct, None), next(cross, None)
    while a is not None or b is not None:
        if b is None or (a is not None and taker.prefers(a, b)):
            assert a is not None  # noqa: S101  (narrowing: b is None implies a is not None)
            if not taker.accepts(effective_price(taker.token_id, a)):
                return
            yield a
            a = next(direct, None)
        else:
            if not taker.accepts(effective_price(taker.token_id, b)):
                return
            yield b
            b = next(cross, None)
