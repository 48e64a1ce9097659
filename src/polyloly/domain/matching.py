"""The pure matching engine: price-time priority on a binary market's two token books.

One :class:`MatchingEngine` holds any number of binary markets. Each market has two
outcome tokens ``A`` and ``B`` (complements: 1 A + 1 B = 1 pUSD), and each token has its
own book of resting BUY and SELL limit orders. An incoming order is matched against

* the opposite side of its own token (a plain, *complementary* trade),
* BUY orders of the other token when the two prices sum to >= 1 (a **mint**: the pair is
  created from the two buyers' pUSD), and
* for a SELL, SELL orders of the other token when the two prices sum to <= 1 (a **merge**:
  the pair is burnt back into pUSD and shared between the two sellers),

in price-time priority over the *effective* price each candidate offers the incoming
order (a resting BUY of ``B`` at ``r`` offers ``A`` at ``1 - r``). Makers trade at their own
price; the taker gets any price improvement and pays the taker fee of the market's fee
model at match time; makers pay nothing.

Order rules follow the venue (``docs/reference/polymarket.md`` §4) with its exact error
strings: tick size, minimum size, the $1 minimum for a marketable BUY, duplicates,
post-only, FOK (all or nothing), FAK (fill what is there, cancel the rest) and GTD expiry.
(Precision rules on signed wire amounts live with the wire decoding, in
:mod:`polyloly.sim.exchange.orders`.)

Everything is integer micro-units and deterministic: the engine returns what happened
(:class:`MatchResult` with :class:`Fill` s and :class:`LevelChange` s) and performs no
I/O, so the exchange simulator, paper trading and backtests share it. The books it works
on (price levels of FIFO queues) live in :mod:`polyloly.domain.matching_book`; their
names are re-exported here.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from enum import StrEnum
from typing import Final

import msgspec

from polyloly.domain.events import Side
from polyloly.domain.fees import FeeModel, PolymarketFeeModel
from polyloly.domain.intents import OrderType
from polyloly.domain.matching_book import (
    BookOrder,
    BookSide,
    LevelChange,
    LevelKey,
    MarketBook,
    effective_price,
)
from polyloly.domain.money import ONE, SCALE, VALID_TICKS, Rounding, cost_of, div_round, to_decimal

__all__ = [
    "ERR_DUPLICATED",
    "ERR_FAK_NO_MATCH",
    "ERR_FOK_NOT_FILLED",
    "ERR_INVALID_EXPIRATION",
    "ERR_MARKET_NOT_READY",
    "ERR_POST_ONLY_CROSSES",
    "MIN_MARKETABLE_BUY",
    "Fill",
    "FillKind",
    "MatchResult",
    "MatchingEngine",
    "OrderRequest",
    "OrderState",
]

ERR_POST_ONLY_CROSSES: Final = "invalid post-only order: order crosses book"
ERR_FOK_NOT_FILLED: Final = "order couldn't be fully filled. FOK orders are fully filled or killed."
ERR_FAK_NO_MATCH: Final = (
    "no orders found to match with FAK order. "
    "FAK orders are partially filled or killed if no match is found."
)
ERR_INVALID_EXPIRATION: Final = "invalid expiration"
ERR_MARKET_NOT_READY: Final = "the market is not yet ready to process new orders"
ERR_DUPLICATED: Final = "order {id} is invalid. Duplicated."
_ERR_TICK: Final = "order {id} is invalid. Price ({price}) breaks minimum tick size rule: {tick}"
_ERR_MIN_SIZE: Final = "order {id} is invalid. Size ({size}) lower than the minimum: {min}"
_ERR_MARKETABLE_BUY: Final = "invalid amount for a marketable BUY order (${amount}), min size: $1"

MIN_MARKETABLE_BUY: Final = ONE
"""A marketable BUY must spend at least $1 (in micro-pUSD)."""

_MARKET_TYPES: Final = frozenset({OrderType.FOK, OrderType.FAK})


class FillKind(StrEnum):
    """How a fill settles on-chain."""

    COMPLEMENTARY = "COMPLEMENTARY"  # BUY A against SELL A: tokens move, pUSD moves
    MINT = "MINT"  # BUY A against BUY B: both buyers' pUSD mints a new A+B pair
    MERGE = "MERGE"  # SELL A against SELL B: the pair is merged back into pUSD


class OrderState(StrEnum):
    """What happened to an incoming order (the venue's ``status`` words, upper case)."""

    LIVE = "LIVE"  # (the rest of) it rests on the book
    MATCHED = "MATCHED"  # fully filled, or an FAK whose unfilled rest was cancelled
    REJECTED = "REJECTED"  # refused; nothing changed


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """An order arriving at the engine; ``price`` and ``size`` are micro-units.

    ``owner`` is the account the order belongs to (an API key, or a synthetic trader);
    ``maker`` is the funds holder's address; ``expiration_s`` is the GTD expiry (UTC s).
    """

    order_id: str
    owner: str
    maker: str
    token_id: str
    side: Side
    price: int
    size: int
    order_type: OrderType = OrderType.GTC
    post_only: bool = False
    expiration_s: int = 0
    notional: int = 0
    """pUSD a BUY signs for (its maker amount); a market (FOK/FAK) BUY spends all of it,
    buying more than ``size`` shares when the book is better than its limit."""


class Fill(msgspec.Struct, frozen=True, kw_only=True):
    """One taker order filled against one maker order.

    ``price`` is the taker's effective price per share of the taker's token; ``maker_price``
    is the maker order's own price (on the maker's token). Cash is pUSD-micros:

    * taker BUY: the taker pays ``taker_cash + fee``; the maker receives ``maker_cash``
      (complementary, equal to ``taker_cash``) or pays it (mint, and then
      ``taker_cash + maker_cash == size``);
    * taker SELL: the taker receives ``taker_cash - fee``; the maker pays ``maker_cash``
      (complementary) or receives it (merge, ``taker_cash + maker_cash == size``).
    """

    kind: FillKind
    market: str
    taker_order_id: str
    maker_order_id: str
    taker_owner: str
    maker_owner: str
    taker_address: str
    maker_address: str
    taker_token: str
    maker_token: str
    taker_side: Side
    maker_side: Side
    size: int
    price: int
    maker_price: int
    taker_cash: int
    maker_cash: int
    fee: int


class MatchResult(msgspec.Struct, frozen=True, kw_only=True):
    """What :meth:`MatchingEngine.submit` did with one order."""

    order_id: str
    state: OrderState
    error: str = ""
    fills: tuple[Fill, ...] = ()
    filled: int = 0
    resting: int = 0
    changes: tuple[LevelChange, ...] = ()

    @property
    def accepted(self) -> bool:
        """True unless the order was refused."""
        return self.state is not OrderState.REJECTED


class MatchingEngine:
    """Price-time priority matching for many binary markets; pure and deterministic.

    Parameters
    ----------
    gtd_threshold_s
        GTD orders are cancelled this many seconds before their ``expiration`` (the venue's
        one-minute security threshold), and one expiring sooner than that is refused.
    """

    def __init__(self, gtd_threshold_s: int = 60) -> None:
        self._markets: dict[str, MarketBook] = {}
        self._token_market: dict[str, MarketBook] = {}
        self._orders: dict[str, BookOrder] = {}
        self._seen: set[str] = set()
        self._seq = 0
        self.gtd_threshold_s = gtd_threshold_s
        # Resting GTD orders, and a min-heap of ``(expiration_s, seq, order_id)`` over them so
        # that :meth:`expire` looks at due orders only. Entries of orders that left the book
        # stay in the heap until they come up (or the heap is compacted).
        self._gtd: dict[str, BookOrder] = {}
        self._gtd_heap: list[tuple[int, int, str]] = []

    # -- markets ----------------------------------------------------------------------------

    def add_market(
        self,
        condition_id: str,
        token_a: str,
        token_b: str,
        *,
        tick: int,
        min_size: int,
        fee_model: FeeModel | None = None,
    ) -> MarketBook:
        """Register a binary market with its two tokens."""
        if tick not in VALID_TICKS:
            raise ValueError(f"unknown tick size: {to_decimal(tick)}")
        if condition_id in self._markets or token_a in self._token_market:
            raise ValueError(f"market {condition_id} already registered")
        book = MarketBook(
            condition_id, token_a, token_b, tick, min_size, fee_model or PolymarketFeeModel()
        )
        self._markets[condition_id] = book
        self._token_market[token_a] = book
        self._token_market[token_b] = book
        return book

    def market(self, condition_id: str) -> MarketBook:
        """The market with this condition id (``KeyError`` if unknown)."""
        return self._markets[condition_id]

    def market_of(self, token_id: str) -> MarketBook:
        """The market a token belongs to (``KeyError`` if unknown)."""
        return self._token_market[token_id]

    def set_tick(self, condition_id: str, tick: int) -> int:
        """Change a market's tick size; return the old one."""
        if tick not in VALID_TICKS:
            raise ValueError(f"unknown tick size: {to_decimal(tick)}")
        book = self._markets[condition_id]
        old, book.tick = book.tick, tick
        return old

    # -- queries ----------------------------------------------------------------------------

    def levels(self, token_id: str, side: Side) -> list[tuple[int, int]]:
        """Aggregated ``(price, size)`` levels of one side, best first."""
        return self._token_market[token_id].side(token_id, side).aggregated()

    def best(self, token_id: str, side: Side) -> int | None:
        """Best price on one side of a token's book, or ``None`` if empty."""
        return self._token_market[token_id].side(token_id, side).best()

    def order(self, order_id: str) -> BookOrder | None:
        """A resting order by id."""
        return self._orders.get(order_id)

    def resting(self) -> list[BookOrder]:
        """Every resting order, in arrival order."""
        return sorted(self._orders.values(), key=lambda o: o.seq)

    def is_marketable(self, request: OrderRequest) -> bool:
        """Whether ``request`` would trade against the book right now."""
        book = self._token_market.get(request.token_id)
        return book is not None and next(self._candidates(book, request), None) is not None

    # -- order entry ------------------------------------------------------------------------

    def validate(self, request: OrderRequest, now_s: int) -> str | None:
        """Return the venue's error string if ``request`` breaks an order rule, else ``None``."""
        book = self._token_market.get(request.token_id)
        if book is None or not book.accepting:
            return ERR_MARKET_NOT_READY
        if request.order_id in self._seen:
            return ERR_DUPLICATED.format(id=request.order_id)
        return (
            _price_error(book, request)
            or _size_error(book, request)
            or self._expiration_error(request, now_s)
            or self._marketable_buy_error(request)
        )

    def _expiration_error(self, request: OrderRequest, now_s: int) -> str | None:
        if request.order_type is OrderType.GTD:
            if request.expiration_s - self.gtd_threshold_s <= now_s:
                return ERR_INVALID_EXPIRATION
        elif request.expiration_s:
            return ERR_INVALID_EXPIRATION
        if request.post_only and request.order_type in _MARKET_TYPES:
            return ERR_POST_ONLY_CROSSES
        return None

    def _marketable_buy_error(self, request: OrderRequest) -> str | None:
        if request.side is Side.BUY and self.is_marketable(request):
            amount = request.notional or cost_of(request.size, request.price)
            if amount < MIN_MARKETABLE_BUY:
                return _ERR_MARKETABLE_BUY.format(amount=to_decimal(amount))
        return None

    def submit(self, request: OrderRequest, now_s: int = 0) -> MatchResult:
        """Validate ``request``, match it, and rest what is left if it is a GTC/GTD order."""
        error = self.validate(request, now_s)
        if error is not None:
            return MatchResult(order_id=request.order_id, state=OrderState.REJECTED, error=error)
        book = self._token_market[request.token_id]
        if request.post_only and self.is_marketable(request):
            return _reject(request, ERR_POST_ONLY_CROSSES)
        if request.order_type is OrderType.FOK and not self._available(book, request):
            return _reject(request, ERR_FOK_NOT_FILLED)
        if request.order_type is OrderType.FAK and not self.is_marketable(request):
            return _reject(request, ERR_FAK_NO_MATCH)
        self._seen.add(request.order_id)
        touched: set[LevelKey] = set()
        fills = self._match(book, request, touched)
        filled = sum(f.size for f in fills)
        remaining = request.size - filled
        resting = 0
        if remaining > 0 and request.order_type not in _MARKET_TYPES:
            self._rest(book, request, remaining)
            touched.add((request.token_id, request.side, request.price))
            resting = remaining
        state = OrderState.LIVE if resting else OrderState.MATCHED
        return MatchResult(
            order_id=request.order_id,
            state=state,
            fills=tuple(fills),
            filled=filled,
            resting=resting,
            changes=self._changes(touched),
        )

    def rest(self, request: OrderRequest) -> MatchResult:
        """Put ``request`` on the book without matching it (synthetic liquidity).

        Only a cross against the same token's opposite side is refused; resting orders of
        the two tokens may leave their asks summing below 1 (or bids above), which the
        venue's own makers do between their quote updates and pair traders look for.
        """
        book = self._token_market.get(request.token_id)
        if book is None:
            return _reject(request, ERR_MARKET_NOT_READY)
        if request.order_id in self._seen:
            return _reject(request, ERR_DUPLICATED.format(id=request.order_id))
        price_error = _price_error(book, request)
        if price_error is not None:
            return _reject(request, price_error)
        if book.crosses(request.token_id, request.side, request.price):
            return _reject(request, ERR_POST_ONLY_CROSSES)
        if request.size <= 0:
            return _reject(request, "size must be positive")
        self._seen.add(request.order_id)
        self._rest(book, request, request.size)
        return MatchResult(
            order_id=request.order_id,
            state=OrderState.LIVE,
            resting=request.size,
            changes=self._changes({(request.token_id, request.side, request.price)}),
        )

    def cancel(self, order_id: str) -> tuple[BookOrder | None, tuple[LevelChange, ...]]:
        """Remove a resting order; return it (``None`` if not resting) and the level change."""
        order = self._orders.pop(order_id, None)
        if order is None:
            return None, ()
        self._gtd.pop(order_id, None)
        self._side_of(order).remove(order)
        return order, self._changes({(order.token_id, order.side, order.price)})

    def reduce(
        self, order_id: str, remaining: int
    ) -> tuple[BookOrder | None, tuple[LevelChange, ...]]:
        """Shrink a resting order to ``remaining`` in place; it keeps its queue position.

        Paper trading uses it when live liquidity at a level shrinks without a trade. An
        order cannot grow this way (more size joins the back of the queue as a new order);
        ``remaining`` 0 removes it, like :meth:`cancel`.

        Returns
        -------
        tuple
            The order (``None`` if it is not resting) and the change of its level (empty
            when ``remaining`` is what the order already had).

        Raises
        ------
        ValueError
            If ``remaining`` is negative or larger than what the order has left.
        """
        order = self._orders.get(order_id)
        if order is None:
            return None, ()
        if remaining == order.remaining:
            return order, ()
        self._side_of(order).shrink(order, remaining)
        if remaining == 0:
            del self._orders[order_id]
            self._gtd.pop(order_id, None)
        return order, self._changes({(order.token_id, order.side, order.price)})

    def expire(self, now_s: int) -> tuple[list[BookOrder], tuple[LevelChange, ...]]:
        """Cancel every GTD order whose expiry (less the threshold) has come.

        Only due GTD orders are looked at (they are kept in a heap by expiry), so a call
        with nothing due costs O(1) however many orders rest. The expired orders are
        returned in arrival order.
        """
        heap, gtd = self._gtd_heap, self._gtd
        due: list[BookOrder] = []
        while heap and heap[0][0] - self.gtd_threshold_s <= now_s:
            order = gtd.get(heapq.heappop(heap)[2])
            if order is not None:
                due.append(order)
        due.sort(key=lambda o: o.seq)
        return self._cancel_many(due)

    def clear_market(self, condition_id: str) -> tuple[list[BookOrder], tuple[LevelChange, ...]]:
        """Cancel every resting order of a market (resolution, clear-book-on-start)."""
        book = self._markets[condition_id]
        tokens = {book.token_a, book.token_b}
        return self._cancel_many([o for o in self.resting() if o.token_id in tokens])

    def _cancel_many(
        self, orders: list[BookOrder]
    ) -> tuple[list[BookOrder], tuple[LevelChange, ...]]:
        touched: set[LevelKey] = set()
        for order in orders:
            self._orders.pop(order.order_id, None)
            self._gtd.pop(order.order_id, None)
            self._side_of(order).remove(order)
            touched.add((order.token_id, order.side, order.price))
        return orders, self._changes(touched)

    # -- internals --------------------------------------------------------------------------

    def _rest(self, book: MarketBook, request: OrderRequest, remaining: int) -> None:
        self._seq += 1
        order = BookOrder(
            order_id=request.order_id,
            owner=request.owner,
            maker=request.maker,
            token_id=request.token_id,
            side=request.side,
            price=request.price,
            size=request.size,
            remaining=remaining,
            order_type=request.order_type,
            seq=self._seq,
            expiration_s=request.expiration_s,
        )
        self._orders[order.order_id] = order
        book.side_of(order).add(order)
        if order.order_type is OrderType.GTD:
            self._track_gtd(order)

    def _track_gtd(self, order: BookOrder) -> None:
        heap = self._gtd_heap
        if len(heap) > 2 * len(self._gtd) + 64:
            # Mostly orders that left the book early: rebuild from the live ones.
            heap[:] = [(o.expiration_s, o.seq, o.order_id) for o in self._gtd.values()]
            heapq.heapify(heap)
        self._gtd[order.order_id] = order
        heapq.heappush(heap, (order.expiration_s, order.seq, order.order_id))

    def _side_of(self, order: BookOrder) -> BookSide:
        return self._token_market[order.token_id].side_of(order)

    def _candidates(self, book: MarketBook, request: OrderRequest) -> Iterator[BookOrder]:
        """Resting orders ``request`` can trade with, best effective price first."""
        return book.candidates(request.token_id, request.side, request.price)

    def _available(self, book: MarketBook, request: OrderRequest) -> bool:
        """Whether the book can fill all of ``request`` within its limit (the FOK test)."""
        budget = _budget(request)
        total = 0
        for maker in self._candidates(book, request):
            if budget is None:
                total += maker.remaining
                if total >= request.size:
                    return True
            else:
                total += cost_of(
                    maker.remaining, effective_price(request.token_id, maker), Rounding.DOWN
                )
                if total >= budget:
                    return True
        return False

    def _match(self, book: MarketBook, request: OrderRequest, touched: set[LevelKey]) -> list[Fill]:
        fills: list[Fill] = []
        budget = _budget(request)
        remaining = request.size
        while budget is not None or remaining > 0:
            maker = next(self._candidates(book, request), None)
            if maker is None:
                break
            if budget is None:
                size = min(remaining, maker.remaining)
            else:
                size = min(
                    maker.remaining, budget * SCALE // effective_price(request.token_id, maker)
                )
                if size <= 0:
                    break
            fill = _fill(book, request, maker, size)
            fills.append(fill)
            if budget is None:
                remaining -= size
            else:
                budget -= fill.taker_cash
            maker.remaining -= size
            touched.add((maker.token_id, maker.side, maker.price))
            if maker.remaining == 0:
                book.side_of(maker).pop_head(maker.price)
                del self._orders[maker.order_id]
                if maker.order_type is OrderType.GTD:
                    del self._gtd[maker.order_id]
        return fills

    def _changes(self, touched: set[LevelKey]) -> tuple[LevelChange, ...]:
        ordered = sorted(touched, key=lambda t: (t[0], t[1].value, t[2]))
        return tuple(self._token_market[key[0]].level_change(key) for key in ordered)


def _price_error(book: MarketBook, request: OrderRequest) -> str | None:
    if request.price % book.tick == 0 and book.tick <= request.price <= ONE - book.tick:
        return None
    return _ERR_TICK.format(
        id=request.order_id, price=to_decimal(request.price), tick=to_decimal(book.tick)
    )


def _size_error(book: MarketBook, request: OrderRequest) -> str | None:
    limit = request.order_type not in _MARKET_TYPES
    if request.size > 0 and not (limit and request.size < book.min_size):
        return None
    return _ERR_MIN_SIZE.format(
        id=request.order_id, size=to_decimal(request.size), min=to_decimal(book.min_size)
    )


def _budget(request: OrderRequest) -> int | None:
    """A market BUY spends its pUSD amount (buying more shares at better prices)."""
    if request.side is Side.BUY and request.order_type in _MARKET_TYPES and request.notional:
        return request.notional
    return None


def _reject(request: OrderRequest, error: str) -> MatchResult:
    return MatchResult(order_id=request.order_id, state=OrderState.REJECTED, error=error)


def _fill(book: MarketBook, request: OrderRequest, maker: BookOrder, size: int) -> Fill:
    price = effective_price(request.token_id, maker)
    if maker.token_id == request.token_id:
        kind = FillKind.COMPLEMENTARY
        taker_cash = maker_cash = cost_of(size, price, Rounding.HALF_UP)
    else:
        kind = FillKind.MINT if request.side is Side.BUY else FillKind.MERGE
        # The pair is worth exactly `size`; the maker's share is rounded down, the taker
        # takes the rest, so no micro is created or lost.
        maker_cash = div_round(size * maker.price, SCALE, Rounding.DOWN)
        taker_cash = size - maker_cash
    fee = min(book.fee_model.taker_fee(size, price), taker_cash)
    return Fill(
        kind=kind,
        market=book.condition_id,
        taker_order_id=request.order_id,
        maker_order_id=maker.order_id,
        taker_owner=request.owner,
        maker_owner=maker.owner,
        taker_address=request.maker,
        maker_address=maker.maker,
        taker_token=request.token_id,
        maker_token=maker.token_id,
        taker_side=request.side,
        maker_side=maker.side,
        size=size,
        price=price,
        maker_price=maker.price,
        taker_cash=taker_cash,
        maker_cash=maker_cash,
        fee=fee,
    )
