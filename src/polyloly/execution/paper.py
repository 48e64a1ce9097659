"""Paper trading: live market data, fills by the same matching engine as the simulator.

:class:`PaperVenue` is just another implementation of the venue ports
(:class:`~polyloly.execution.ports.OrderVenue`, ``CancelAllVenue``, ``AccountReader``,
``Merger``): the order manager, risk gate and reconciliation run unchanged on top of it.

It follows the live market in a :class:`~polyloly.domain.orderbook.BookSet` (every token,
one dict store per level update) and keeps a :class:`~polyloly.domain.matching.MatchingEngine`
whose books mirror the live market **only where we have orders**: when one of our orders
arrives at a market, every live level of its two tokens becomes a *synthetic* resting order,
and our paper orders rest among them in price-time priority. The mirror follows every level
update while one of our orders rests there, and is dropped once none does (a market without
our orders cannot fill anything of ours).

* **Queue position.** A paper order joins the back of its price level, behind the whole
  displayed size. A level that grows adds synthetic liquidity *behind* it; a level that
  shrinks without a trade is assumed to lose liquidity from the back (pessimistic: cancels
  never move us forward).
* **Trades.** A ``last_trade_price`` print is replayed as a synthetic taker of that size
  and price, which fills whatever is ahead in the queue — our order only once the
  liquidity ahead of it is gone. A live level that would cross one of our resting orders
  trades against it the same way.
* **Our takers.** A marketable paper order takes synthetic liquidity at book prices (the
  taker fee of the market's fee model applies); the liquidity we took stays consumed until
  the live level shrinks by as much, so the same shares are not bought twice (this is
  remembered per level whether or not the market is mirrored at the moment).
* **Taker delay.** On a market with a ``seconds_delay`` (live sports markets carry 3 s)
  whose game is live, a marketable order that is not post-only is answered ``delayed``
  and matched when the delay ends against the book as it stands then, exactly as the
  venue (and the exchange simulator) does; it can be cancelled meanwhile, and the makers
  it would have hit are free to move. The due orders run before each market-data event
  and timer tick at or after their due time.

  *When a market is live* follows the rule that the simulated market is never kinder than
  the real one: the real venue keeps the delay until *the public* (Polymarket's own sports
  data) knows the game is over, and our truth is ahead of the public — that is the whole
  edge of temporal arbitrage — so the bot's own view may start the delay but never end it.
  A market **starts** being live at the first sign that its game is (or was) in play:
  the truth engine's ``TruthDelta`` (LIVE or PAUSED on the game in play; a decided game or
  a finished match counts as played), or any provider's :class:`MatchEvent` about the
  match (a game market: about its game, or a match result whose score covers it). It
  **stays** live until the public shows its result — a ``MatchEvent`` from Polymarket's
  own sports feed (source :data:`PUBLIC_SOURCE`): ``GAME_ENDED`` of its game, or
  ``MATCH_ENDED`` / ``MATCH_CANCELED`` of its match — or, without that feed (a log or a
  stream that does not carry it, an outage), until the market resolves
  (``MarketResolved``). Once ended it is never live again. :meth:`PaperVenue.set_live`
  can force a market live as well (it cannot end what the rule above keeps live).
* **Settlement.** Trades move MATCHED → MINED → CONFIRMED after configurable delays,
  driven by the clock (``TimerTick``); updates are published like the user channel.

Small prints under the venue's $1 marketable-BUY minimum cannot be replayed as a taker and
are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Final

import msgspec

from polyloly.domain.events import (
    BookSnapshot,
    Event,
    LastTrade,
    MarketResolved,
    MatchEvent,
    MatchEventKind,
    PriceChanges,
    Side,
    TickSizeChange,
    TimerTick,
    TruthDelta,
    TruthState,
)
from polyloly.domain.fees import PolymarketFeeModel
from polyloly.domain.intents import OrderType
from polyloly.domain.matching import (
    ERR_FAK_NO_MATCH,
    ERR_FOK_NOT_FILLED,
    ERR_POST_ONLY_CROSSES,
    Fill,
    FillKind,
    MatchingEngine,
    MatchResult,
    OrderRequest,
)
from polyloly.domain.matching_book import MarketBook
from polyloly.domain.money import Rounding, cost_of, market_buy_amount
from polyloly.domain.orderbook import BookSet
from polyloly.execution.events import OrderUpdate, TradeUpdate, UpdateSource
from polyloly.execution.ports import (
    Balances,
    CancelResult,
    MakerLeg,
    MergeResult,
    OrderSpec,
    RejectCode,
    SignedOrder,
    SubmitResult,
    TradeReport,
    TraderSide,
    TradeStatus,
    VenueOrder,
    VenueOrderStatus,
)
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S, Clock
from polyloly.runtime.errors import RejectError
from polyloly.runtime.kernel import Kernel

__all__ = ["PUBLIC_SOURCE", "PaperConfig", "PaperVenue"]

_MARKET_OWNER = "market"
_COLLATERAL = "collateral"
_BUY = Side.BUY
_SELL = Side.SELL
Level = tuple[str, Side, int]
"""One level of one token's live book: ``(token_id, side, price)``."""
_Slot = tuple[Side, int]
"""One level within a token: ``(side, price)``."""


@dataclass(frozen=True, slots=True)
class PaperConfig:
    """Paper account and settlement timing (micros, ms)."""

    starting_collateral: int
    trade_mined_delay_ms: int = 2_000
    trade_confirmed_delay_ms: int = 5_000
    owner: str = "paper"
    address: str = "0xpaper"


@dataclass(frozen=True, slots=True)
class _Delayed:
    request: OrderRequest
    due_ns: int


PUBLIC_SOURCE: Final = "polymarket_sports"
"""The source whose reports are the public's (and the venue's) view of a match: Polymarket's
own Sports WebSocket (:mod:`polyloly.adapters.esports.sports_ws`)."""

_LIVE_STATES = frozenset({TruthState.LIVE, TruthState.PAUSED})
_PLAYED_STATES = frozenset(
    {TruthState.LIVE, TruthState.PAUSED, TruthState.POST_MATCH_PENDING, TruthState.FINAL}
)
_NOT_PLAY = frozenset({MatchEventKind.MATCH_SCHEDULED, MatchEventKind.MATCH_CANCELED})
_MATCH_OVER = frozenset({MatchEventKind.MATCH_ENDED, MatchEventKind.MATCH_CANCELED})


@dataclass(slots=True)
class _MatchView:
    """What is known of one match for the taker delay (see the module docstring)."""

    started: bool = False  # in play, by any view
    games_started: set[int] = field(default_factory=set)
    ended: bool = False  # over, as the public sees it
    games_ended: set[int] = field(default_factory=set)  # as the public sees it

    def start_games(self, upto: int) -> None:
        self.games_started.update(range(1, upto + 1))

    def live(self, game_number: int | None) -> bool:
        if self.ended:
            return False
        if game_number is None:
            return self.started
        return game_number in self.games_started and game_number not in self.games_ended


@dataclass(slots=True)
class _PaperTrade:
    report: TradeReport
    mined_at_ns: int
    confirmed_at_ns: int


def _error_code(error: str) -> RejectCode:
    if "Duplicated" in error:
        return RejectCode.DUPLICATE
    if error == ERR_POST_ONLY_CROSSES:
        return RejectCode.POST_ONLY_CROSSES
    if error == ERR_FOK_NOT_FILLED:
        return RejectCode.FOK_KILLED
    if error == ERR_FAK_NO_MATCH:
        return RejectCode.FAK_NO_MATCH
    return RejectCode.REJECTED


def marketable_buy_amount(spec: OrderSpec) -> int:
    """What a FAK/FOK BUY may spend (0 for any other order): the venue fills it by amount.

    The paper venue fills it the same way as the exchange simulator does (see
    :func:`~polyloly.domain.money.market_buy_amount`).
    """
    if spec.side is not Side.BUY or spec.order_type not in (OrderType.FAK, OrderType.FOK):
        return 0
    return market_buy_amount(spec.size, spec.price)


class PaperVenue:
    """A paper account on a matching engine mirroring live books (see the module docstring).

    Parameters
    ----------
    clock
        The clock (trade times, settlement delays, GTD expiry).
    config
        The paper account and settlement timing.
    books
        Where the venue reads the live market. By default its own; the node's own
        :class:`~polyloly.domain.orderbook.BookSet` may be passed when the venue sees
        every market-data event at the same moment as the node (live paper trading), as
        applying an event twice leaves a book unchanged. A backtest that delays the
        node's feed must give the venue its own.
    """

    def __init__(self, clock: Clock, config: PaperConfig, books: BookSet | None = None) -> None:
        self.clock = clock
        self.config = config
        self.engine = MatchingEngine()
        self.books = books if books is not None else BookSet()
        self.publish: Callable[[Event], None] | None = None
        self.orders: dict[str, VenueOrder] = {}
        self.trade_log: dict[str, _PaperTrade] = {}
        self.balances_map: dict[str, int] = {_COLLATERAL: config.starting_collateral}
        self._synthetic_ids = count(1)
        self._trade_ids = count(1)
        self._fee_rates: dict[str, int] = {}
        self._tokens: set[str] = set()
        # The mirror: synthetic order ids per level (oldest first), for the tokens of the
        # markets we have orders in only; the markets mirrored; our open orders per market.
        self._queues: dict[str, dict[_Slot, list[str]]] = {}
        self._mirrored: dict[str, MarketBook] = {}
        self._open_in: dict[str, set[str]] = {}
        # Live liquidity we took, per token and level, until the live level shrinks by as
        # much (kept for every token: it outlives the mirror).
        self._consumed: dict[str, dict[_Slot, int]] = {}
        self._unsettled: dict[str, _PaperTrade] = {}
        # The taker delay: seconds per market, markets forced live (set_live), the match (and
        # game) each market prices, what is known of each match, the markets resolved, and
        # our orders held until their due time (oldest first).
        self._delay_s: dict[str, int] = {}
        self._forced: set[str] = set()
        self._priced: dict[str, tuple[str, int | None]] = {}
        self._matches: dict[str, _MatchView] = {}
        self._resolved: set[str] = set()
        self._delayed: dict[str, _Delayed] = {}
        self.delayed_total = 0

    # -- set-up -----------------------------------------------------------------------------

    def add_market(
        self,
        condition_id: str,
        tokens: tuple[str, str],
        *,
        tick: int,
        min_size: int,
        fee_rate: int = 30_000,
        seconds_delay: int = 0,
        match_id: str = "",
        game_number: int | None = None,
    ) -> None:
        """List a binary market (tokens in outcome order, fee rate in micros); its taker
        delay applies while the match ``match_id`` (game ``game_number``) is live."""
        self.engine.add_market(
            condition_id,
            tokens[0],
            tokens[1],
            tick=tick,
            min_size=min_size,
            fee_model=PolymarketFeeModel(rate=fee_rate),
        )
        self._fee_rates[condition_id] = fee_rate
        self._tokens.update(tokens)
        self._delay_s[condition_id] = seconds_delay
        if match_id:
            self._priced[condition_id] = (match_id, game_number)

    def set_live(self, condition_id: str, live: bool) -> None:
        """Force a market's game live (its taker delay applies), or stop forcing it.

        Forcing only adds delay: a market the truth or the public shows in play stays
        live until the public shows its result or it resolves.
        """
        if live:
            self._forced.add(condition_id)
        else:
            self._forced.discard(condition_id)

    def is_live(self, condition_id: str) -> bool:
        """Whether the market's taker delay applies now (see the module docstring)."""
        if condition_id in self._forced:
            return True
        if condition_id in self._resolved:
            return False
        priced = self._priced.get(condition_id)
        if priced is None:
            return False
        view = self._matches.get(priced[0])
        return view is not None and view.live(priced[1])

    def _view(self, match_id: str) -> _MatchView:
        view = self._matches.get(match_id)
        if view is None:
            view = self._matches[match_id] = _MatchView()
        return view

    def on_truth(self, event: TruthDelta) -> None:
        """Start the delay of the markets whose game the truth engine shows in play or
        played; the truth never ends it (it is ahead of the public)."""
        if event.state not in _PLAYED_STATES:
            return
        view = self._view(event.match_id)
        view.started = True
        played = event.score_a + event.score_b
        view.start_games(played + 1 if event.state in _LIVE_STATES else played)
        if event.game_number is not None:
            view.games_started.add(event.game_number)

    def on_match(self, event: MatchEvent) -> None:
        """Follow a provider report: any report of play starts the delay of its markets;
        only the public's (Polymarket's sports feed) result ends it."""
        kind = event.kind
        view = self._view(event.match_id)
        if kind not in _NOT_PLAY:
            view.started = True
            if event.game_number is not None:
                view.games_started.add(event.game_number)
            if kind is MatchEventKind.MATCH_ENDED:
                view.start_games((event.score_a or 0) + (event.score_b or 0))
        if event.source != PUBLIC_SOURCE:
            return
        if kind in _MATCH_OVER:
            view.ended = True
        elif kind is MatchEventKind.GAME_ENDED and event.game_number is not None:
            view.games_ended.add(event.game_number)

    def _listed(self, token_id: str) -> bool:
        return token_id in self._tokens

    def attach(self, kernel: Kernel) -> None:
        """Follow live market data and the clock through the kernel; publish into it."""
        self.publish = kernel.publish
        kernel.subscribe(BookSnapshot, self.on_book)
        kernel.subscribe(PriceChanges, self.on_price_changes)
        kernel.subscribe(LastTrade, self.on_last_trade)
        kernel.subscribe(TickSizeChange, self.on_tick_size)
        kernel.subscribe(MarketResolved, self.on_resolved)
        kernel.subscribe(TimerTick, self.on_tick)
        kernel.subscribe(TruthDelta, self.on_truth)
        kernel.subscribe(MatchEvent, self.on_match)

    @property
    def mirrored(self) -> tuple[str, ...]:
        """Condition ids of the markets mirrored in the engine (where we have orders)."""
        return tuple(self._mirrored)

    # -- live market data -------------------------------------------------------------------

    def on_book(self, event: BookSnapshot) -> None:
        """Take the live snapshot; make a mirrored token's synthetic liquidity equal it."""
        self._run_delayed()
        self.books.apply(event)
        token = event.token_id
        live_book = self.books.get(token)
        if live_book is None or not live_book.in_sync:
            return  # refused by the book rules (crossed, bad levels): it moves no liquidity
        queues = self._queues.get(token)
        if queues is None:
            consumed = self._consumed.get(token)
            if consumed:
                live = {(_BUY, p): s for p, s in event.bids}
                live.update(((_SELL, p), s) for p, s in event.asks)
                for slot in list(consumed):
                    self._clip_consumed(token, consumed, slot, live.get(slot, 0))
            return
        targets: dict[Level, int] = {}
        for side, levels in ((_BUY, event.bids), (_SELL, event.asks)):
            for price, size in levels:
                targets[(token, side, price)] = size
        for side, price in (*queues, *self._consumed.get(token, ())):
            targets.setdefault((token, side, price), 0)
        self._apply_targets(targets)
        self._release_idle()

    def on_price_changes(self, event: PriceChanges) -> None:
        """Apply level updates (shrinking levels first, so nothing crosses needlessly)."""
        if self._delayed:  # (the replay's most frequent input: no call when none waits)
            self._run_delayed()
        self.books.apply(event)
        queues, consumed = self._queues, self._consumed
        if not queues and not consumed:
            return
        targets: dict[Level, int] = {}
        for c in event.changes:
            token = c.token_id
            if token in queues:
                targets[(token, c.side, c.price)] = c.size
            elif token in consumed:
                self._clip_consumed(token, consumed[token], (c.side, c.price), c.size)
        if targets:
            self._apply_targets(targets)
            self._release_idle()

    def on_tick_size(self, event: TickSizeChange) -> None:
        """Take a live tick-size change (levels on the new grid are then valid)."""
        self.books.apply(event)

    def on_last_trade(self, event: LastTrade) -> None:
        """Replay a printed trade as a synthetic taker against a mirrored queue."""
        self._run_delayed()
        if event.token_id in self._queues:
            self._synthetic_take(event.token_id, event.side, event.price, event.size)
            self._release_idle()

    def on_resolved(self, event: MarketResolved) -> None:
        """Cancel every paper order of a resolved market (its taker delay ends)."""
        book = self.engine.market(event.market)
        tokens = {book.token_a, book.token_b}
        if event.winning_token_id not in tokens:
            return  # names no token of its market (book_rules): not a resolution of it
        self._resolved.add(event.market)
        mine = [h for h, o in self.orders.items() if o.token_id in tokens and self._open(o)]
        self._cancel(mine, VenueOrderStatus.CANCELED)

    def on_tick(self, _tick: TimerTick) -> None:
        """Run due delayed orders; advance trade settlement and GTD expiry."""
        self._run_delayed()
        now = self.clock.now_ns()
        settled: list[str] = []
        for trade_id, trade in self._unsettled.items():
            status = trade.report.status
            if status is TradeStatus.MATCHED and now >= trade.mined_at_ns:
                self._set_status(trade, TradeStatus.MINED)
                status = TradeStatus.MINED
            if status is TradeStatus.MINED and now >= trade.confirmed_at_ns:
                self._set_status(trade, TradeStatus.CONFIRMED)
                settled.append(trade_id)
        for trade_id in settled:
            del self._unsettled[trade_id]
        expired, _ = self.engine.expire(now // NS_PER_S)
        for order in expired:
            if order.order_id in self.orders:
                self._update(order.order_id, status=VenueOrderStatus.EXPIRED)
        if expired:
            self._release_idle()

    # -- the mirror -------------------------------------------------------------------------

    def _mirror(self, book: MarketBook, first: str) -> None:
        """Mirror a market's live levels as synthetic orders, in front of our arriving order.

        ``first`` (the token our order is on) is mirrored first, so that at equal prices
        its own liquidity has time priority over the complement's.
        """
        if book.condition_id in self._mirrored:
            return
        self._mirrored[book.condition_id] = book
        for token in (first, book.other(first)):
            self._queues[token] = {}
            live = self.books.get(token)
            if live is not None:
                for side, levels in ((_BUY, live.bids()), (_SELL, live.asks())):
                    for price, size in levels:
                        self._set_level((token, side, price), size)

    def _release_idle(self) -> None:
        """Drop the mirror of every market where none of our orders rests any more."""
        idle = [c for c in self._mirrored if not self._open_in.get(c)]
        for condition_id in idle:
            book = self._mirrored.pop(condition_id)
            self.engine.clear_market(condition_id)
            del self._queues[book.token_a], self._queues[book.token_b]

    def _clip_consumed(
        self, token: str, consumed: dict[_Slot, int], slot: _Slot, live: int
    ) -> None:
        """A live level shrank to ``live``: we cannot have taken more of it than that."""
        taken = consumed.get(slot)
        if taken is not None and live < taken:
            if live:
                consumed[slot] = live
            else:
                del consumed[slot]
                if not consumed:
                    del self._consumed[token]

    def _apply_targets(self, targets: dict[Level, int]) -> None:
        ordered = sorted(targets.items(), key=lambda kv: kv[1] - self._synthetic_size(kv[0]))
        for key, size in ordered:
            self._set_level(key, size)

    def _synthetic_size(self, key: Level) -> int:
        token, side, price = key
        total = 0
        for order_id in self._queues[token].get((side, price), ()):
            order = self.engine.order(order_id)
            total += order.remaining if order is not None else 0
        return total

    def _set_level(self, key: Level, target: int) -> None:
        token, side, price = key
        slot = (side, price)
        consumed = self._consumed.get(token)
        taken = 0
        if consumed is not None:
            self._clip_consumed(token, consumed, slot, target)
            taken = consumed.get(slot, 0)
        want = target - taken
        queues = self._queues[token]
        engine = self.engine
        queue = [i for i in queues.get(slot, ()) if engine.order(i) is not None]
        if queue:
            queues[slot] = queue
        else:
            queues.pop(slot, None)
        have = self._synthetic_size(key)
        while have > want and queue:
            order = engine.order(queue[-1])
            if order is None:
                queue.pop()
                continue
            excess = have - want
            if order.remaining > excess:
                # Shrink in place: the order keeps its place in the queue.
                engine.reduce(order.order_id, order.remaining - excess)
                have = want
                break
            engine.cancel(queue.pop())
            have -= order.remaining
        if not queue:
            queues.pop(slot, None)
        if want > have:
            self._add_synthetic(key, want - have)

    def _add_synthetic(self, key: Level, size: int) -> None:
        token, side, price = key
        opposite = self.engine.best(token, _SELL if side is _BUY else _BUY)
        crosses = opposite is not None and (
            price >= opposite if side is _BUY else price <= opposite
        )
        if crosses:
            # Live liquidity at a price our resting order improves on: it trades with us.
            size -= self._synthetic_take(token, side, price, size)
            if size <= 0:
                return
        request = OrderRequest(
            order_id=f"mkt-{next(self._synthetic_ids)}",
            owner=_MARKET_OWNER,
            maker="0xmarket",
            token_id=token,
            side=side,
            price=price,
            size=size,
        )
        if self.engine.rest(request).accepted:
            self._queues[token].setdefault((side, price), []).append(request.order_id)

    def _synthetic_take(self, token: str, side: Side, price: int, size: int) -> int:
        """A synthetic taker (``side``) of ``size`` at ``price``; return the size it filled."""
        request = OrderRequest(
            order_id=f"mkt-{next(self._synthetic_ids)}",
            owner=_MARKET_OWNER,
            maker="0xmarket",
            token_id=token,
            side=side,
            price=price,
            size=size,
            order_type=OrderType.FAK,
        )
        result = self.engine.submit(request, self.clock.now_ns() // NS_PER_S)
        if not result.accepted:
            return 0
        self._record_fills(result, taker_is_ours=False)
        return result.filled

    # -- OrderVenue -------------------------------------------------------------------------

    async def submit(self, order: SignedOrder) -> SubmitResult:
        """Match a paper order against the mirrored book; rest what is left (GTC/GTD)."""
        spec = order.spec
        if order.order_hash in self.orders:
            raise RejectError(
                f"order {order.order_hash} is invalid. Duplicated.", RejectCode.DUPLICATE
            )
        self._check_funds(spec.token_id, spec.side, spec.price, spec.size)
        request = OrderRequest(
            order_id=order.order_hash,
            owner=self.config.owner,
            maker=self.config.address,
            token_id=spec.token_id,
            side=spec.side,
            price=spec.price,
            size=spec.size,
            order_type=spec.order_type,
            post_only=spec.post_only,
            expiration_s=spec.expiration_s,
            notional=marketable_buy_amount(spec),
        )
        market = self.engine.market_of(spec.token_id) if self._listed(spec.token_id) else None
        if market is not None:
            self._mirror(market, spec.token_id)
        try:
            return self._submit(order, request, market)
        finally:
            self._release_idle()

    def _submit(
        self, order: SignedOrder, request: OrderRequest, market: MarketBook | None
    ) -> SubmitResult:
        now = self.clock.now_ns()
        delayed = market is not None and self._delays(market, request)
        if delayed:
            error = self.engine.validate(request, now // NS_PER_S)
            if error is not None:
                raise RejectError(error, _error_code(error))
            delayed = self.engine.is_marketable(request)
        if not delayed:
            result = self.engine.submit(request, now // NS_PER_S)
            if not result.accepted or market is None:
                raise RejectError(result.error, _error_code(result.error))
        assert market is not None  # noqa: S101  (a delayed order's market is listed)
        self._record_order(order, market.condition_id)
        if delayed:
            self._delayed[order.order_hash] = _Delayed(request, now + self._delay_ns(market))
            self.delayed_total += 1
            self._update(order.order_hash, status=VenueOrderStatus.DELAYED)
            return SubmitResult(order_hash=order.order_hash, status=VenueOrderStatus.DELAYED)
        status, trade_ids = self._matched(request, result)
        return SubmitResult(order_hash=order.order_hash, status=status, trade_ids=trade_ids)

    def _delays(self, market: MarketBook, request: OrderRequest) -> bool:
        """Whether the market's taker delay applies to ``request`` (if it is marketable)."""
        condition_id = market.condition_id
        if request.post_only or self._delay_s.get(condition_id, 0) <= 0:
            return False
        return self.is_live(condition_id)

    def _delay_ns(self, market: MarketBook) -> int:
        return self._delay_s.get(market.condition_id, 0) * NS_PER_S

    def _record_order(self, order: SignedOrder, condition_id: str) -> None:
        spec = order.spec
        self.orders[order.order_hash] = VenueOrder(
            order_hash=order.order_hash,
            market=spec.market,
            token_id=spec.token_id,
            side=spec.side,
            price=spec.price,
            original_size=spec.size,
            size_matched=0,
            status=VenueOrderStatus.LIVE,
            order_type=spec.order_type,
            created_ns=self.clock.now_ns(),
        )
        self._open_in.setdefault(condition_id, set()).add(order.order_hash)

    def _matched(
        self, request: OrderRequest, result: MatchResult
    ) -> tuple[VenueOrderStatus, tuple[str, ...]]:
        """Book what matching one of our orders did; its status and trades."""
        if not result.accepted:
            self._update(request.order_id, status=VenueOrderStatus.UNMATCHED)
            return VenueOrderStatus.UNMATCHED, ()
        status = VenueOrderStatus.LIVE if result.resting else VenueOrderStatus.MATCHED
        kind = request.order_type
        if kind in (OrderType.FAK, OrderType.FOK) and not result.filled:
            status = VenueOrderStatus.UNMATCHED
        elif kind is OrderType.FAK and result.resting == 0 and result.filled < request.size:
            status = VenueOrderStatus.MATCHED  # the unfilled rest of an FAK is canceled
        trade_ids = self._record_fills(result, taker_is_ours=True)
        self._update(request.order_id, status=status)
        return status, tuple(trade_ids)

    def _run_delayed(self) -> None:
        """Match every delayed order whose delay has ended, against the book as it is."""
        if not self._delayed:
            return
        now = self.clock.now_ns()
        due = [h for h, d in self._delayed.items() if d.due_ns <= now]
        for order_hash in due:
            request = self._delayed.pop(order_hash).request
            self._matched(request, self.engine.submit(request, now // NS_PER_S))
        if due:
            self._release_idle()

    async def lookup(self, order_hash: str) -> VenueOrder | None:
        """The paper order, whatever its status."""
        return self.orders.get(order_hash)

    async def cancel(self, order_hashes: Sequence[str]) -> CancelResult:
        """Cancel resting paper orders."""
        return self._cancel(order_hashes, VenueOrderStatus.CANCELED)

    async def cancel_all(self) -> CancelResult:
        """Cancel every resting paper order."""
        return self._cancel(
            [h for h, o in self.orders.items() if self._open(o)], VenueOrderStatus.CANCELED
        )

    def _cancel(self, order_hashes: Sequence[str], status: VenueOrderStatus) -> CancelResult:
        canceled: list[str] = []
        refused: dict[str, str] = {}
        for order_hash in order_hashes:
            order = self.orders.get(order_hash)
            if order is None or not self._open(order):
                refused[order_hash] = "already canceled or matched"
                continue
            if self._delayed.pop(order_hash, None) is None:
                self.engine.cancel(order_hash)
            self._update(order_hash, status=status)
            canceled.append(order_hash)
        if canceled:
            self._release_idle()
        return CancelResult(canceled=tuple(canceled), not_canceled=refused)

    # -- AccountReader and Merger ---------------------------------------------------------------

    async def open_orders(self) -> list[VenueOrder]:
        """Resting paper orders."""
        return [o for o in self.orders.values() if self._open(o)]

    async def trades(self, after_ns: int) -> list[TradeReport]:
        """Paper trades matched or updated at or after ``after_ns``."""
        return [
            t.report
            for t in self.trade_log.values()
            if max(t.report.match_time_ns, t.report.last_update_ns) >= after_ns
        ]

    async def balances(self, token_ids: Sequence[str]) -> Balances:
        """The paper account's balances."""
        tokens = {k: v for k, v in self.balances_map.items() if k != _COLLATERAL}
        for token in token_ids:
            tokens.setdefault(token, 0)
        return Balances(collateral=self.balances_map[_COLLATERAL], tokens=tokens)

    async def merge(self, condition_id: str, size: int) -> MergeResult:
        """Burn ``size`` of each token of the market for ``size`` pUSD."""
        book = self.engine.market(condition_id)
        for token in (book.token_a, book.token_b):
            if self._free(token) < size:
                raise RejectError("not enough balance / allowance", RejectCode.NO_BALANCE)
        self._credit(book.token_a, -size)
        self._credit(book.token_b, -size)
        self._credit(_COLLATERAL, size)
        return MergeResult(condition_id=condition_id, size=size, transaction_hash="paper")

    # -- bookkeeping ------------------------------------------------------------------------

    @staticmethod
    def _open(order: VenueOrder) -> bool:
        return order.status in (VenueOrderStatus.LIVE, VenueOrderStatus.DELAYED)

    def _credit(self, asset: str, amount: int) -> None:
        self.balances_map[asset] = self.balances_map.get(asset, 0) + amount

    def _reserved(self, asset: str) -> int:
        total = 0
        for order in self.orders.values():
            if not self._open(order):
                continue
            left = order.original_size - order.size_matched
            if asset == _COLLATERAL and order.side is Side.BUY:
                total += cost_of(left, order.price, Rounding.UP)
            elif order.token_id == asset and order.side is Side.SELL:
                total += left
        return total

    def _free(self, asset: str) -> int:
        return self.balances_map.get(asset, 0) - self._reserved(asset)

    def _check_funds(self, token: str, side: Side, price: int, size: int) -> None:
        if side is Side.BUY:
            need, asset = cost_of(size, price, Rounding.UP), _COLLATERAL
        else:
            need, asset = size, token
        if self._free(asset) < need:
            raise RejectError("not enough balance / allowance", RejectCode.NO_BALANCE)

    def _record_fills(self, result: MatchResult, *, taker_is_ours: bool) -> list[str]:
        trade_ids: list[str] = []
        for fill in result.fills:
            maker_is_ours = fill.maker_owner == self.config.owner
            if not taker_is_ours and fill.maker_owner == _MARKET_OWNER:
                continue  # the live market trading with itself
            if taker_is_ours and fill.maker_owner == _MARKET_OWNER:
                consumed = self._consumed.setdefault(fill.maker_token, {})
                slot = (fill.maker_side, fill.maker_price)
                consumed[slot] = consumed.get(slot, 0) + fill.size
            trade_ids.append(
                self._trade(fill, taker_is_ours=taker_is_ours, maker_is_ours=maker_is_ours)
            )
        return trade_ids

    def _trade(self, fill: Fill, *, taker_is_ours: bool, maker_is_ours: bool) -> str:
        now = self.clock.now_ns()
        trade_id = f"paper-{next(self._trade_ids)}"
        if taker_is_ours:
            self._apply_taker(fill)
        if maker_is_ours:
            self._apply_maker(fill)
            self._bump(fill.maker_order_id, fill.size)
        if taker_is_ours:
            self._bump(fill.taker_order_id, fill.size)
        fee_rate = self._fee_rates.get(fill.market, 0)
        report = TradeReport(
            trade_id=trade_id,
            market=fill.market,
            asset_id=fill.taker_token,
            side=fill.taker_side,
            price=fill.price,
            size=fill.size,
            status=TradeStatus.MATCHED,
            taker_order_id=fill.taker_order_id,
            trader_side=TraderSide.TAKER if taker_is_ours else TraderSide.MAKER,
            fee_rate_bps=fee_rate // 100,
            fee=fill.fee,
            maker_legs=(
                MakerLeg(
                    order_id=fill.maker_order_id,
                    asset_id=fill.maker_token,
                    price=fill.maker_price,
                    matched_amount=fill.size,
                    side=fill.maker_side,
                ),
            ),
            match_time_ns=now,
            last_update_ns=now,
        )
        mined = now + self.config.trade_mined_delay_ms * NS_PER_MS
        trade = _PaperTrade(report, mined, mined + self.config.trade_confirmed_delay_ms * NS_PER_MS)
        self.trade_log[trade_id] = self._unsettled[trade_id] = trade
        self._send(TradeUpdate(ts_event=now, ts_init=now, report=report, source=UpdateSource.PAPER))
        return trade_id

    def _apply_taker(self, fill: Fill) -> None:
        if fill.taker_side is Side.BUY:
            self._credit(_COLLATERAL, -(fill.taker_cash + fill.fee))
            self._credit(fill.taker_token, fill.size)
        else:
            self._credit(_COLLATERAL, fill.taker_cash - fill.fee)
            self._credit(fill.taker_token, -fill.size)

    def _apply_maker(self, fill: Fill) -> None:
        buys = fill.maker_side is Side.BUY
        if fill.kind is FillKind.COMPLEMENTARY:
            self._credit(_COLLATERAL, -fill.maker_cash if buys else fill.maker_cash)
        elif fill.kind is FillKind.MINT:
            self._credit(_COLLATERAL, -fill.maker_cash)
        else:
            self._credit(_COLLATERAL, fill.maker_cash)
        self._credit(fill.maker_token, fill.size if buys else -fill.size)

    def _bump(self, order_hash: str, size: int) -> None:
        order = self.orders.get(order_hash)
        if order is None:
            return
        matched = order.size_matched + size
        status = order.status
        if matched >= order.original_size:
            status = VenueOrderStatus.MATCHED
        self._update(order_hash, size_matched=matched, status=status)

    def _update(
        self, order_hash: str, *, status: VenueOrderStatus, size_matched: int | None = None
    ) -> None:
        order = self.orders[order_hash]
        matched = order.size_matched if size_matched is None else size_matched
        if order.status is status and order.size_matched == matched:
            return
        updated = msgspec.structs.replace(order, status=status, size_matched=matched)
        self.orders[order_hash] = updated
        if not self._open(updated):
            market = self.engine.market_of(updated.token_id).condition_id
            self._open_in.get(market, set()).discard(order_hash)
        now = self.clock.now_ns()
        self._send(OrderUpdate(ts_event=now, ts_init=now, order=updated, source=UpdateSource.PAPER))

    def _set_status(self, trade: _PaperTrade, status: TradeStatus) -> None:
        now = self.clock.now_ns()
        trade.report = msgspec.structs.replace(trade.report, status=status, last_update_ns=now)
        self._send(
            TradeUpdate(ts_event=now, ts_init=now, report=trade.report, source=UpdateSource.PAPER)
        )

    def _send(self, event: Event) -> None:
        if self.publish is not None:
            self.publish(event)
