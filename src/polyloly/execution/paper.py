"""Paper trading: live market data, fills by the same matching engine as the simulator.

:class:`PaperVenue` is just another implementation of the venue ports
(:class:`~polyloly.execution.ports.OrderVenue`, ``CancelAllVenue``, ``AccountReader``,
``Merger``): the order manager, risk gate and reconciliation run unchanged on top of it.

It keeps a :class:`~polyloly.domain.matching.MatchingEngine` whose books mirror the live
market: every level of the live book is one or more *synthetic* resting orders, and our
paper orders rest among them in price-time priority.

* **Queue position.** A paper order joins the back of its price level. A level that grows
  adds synthetic liquidity *behind* it; a level that shrinks without a trade is assumed to
  lose liquidity from the back (pessimistic: cancels never move us forward).
* **Trades.** A ``last_trade_price`` print is replayed as a synthetic taker of that size
  and price, which fills whatever is ahead in the queue — our order only once the
  liquidity ahead of it is gone. A live level that would cross one of our resting orders
  trades against it the same way.
* **Our takers.** A marketable paper order takes synthetic liquidity at book prices (the
  taker fee of the market's fee model applies); the liquidity we took stays consumed until
  the live level shrinks by as much, so the same shares are not bought twice.
* **Settlement.** Trades move MATCHED → MINED → CONFIRMED after configurable delays,
  driven by the clock (``TimerTick``); updates are published like the user channel.

Small prints under the venue's $1 marketable-BUY minimum cannot be replayed as a taker and
are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import count

import msgspec

from polyloly.bot.clock import NS_PER_MS, NS_PER_S, Clock
from polyloly.bot.errors import RejectError
from polyloly.bot.kernel import Kernel
from polyloly.domain.events import (
    BookSnapshot,
    Event,
    LastTrade,
    MarketResolved,
    PriceChanges,
    Side,
    TimerTick,
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
from polyloly.domain.money import Rounding, cost_of
from polyloly.execution.events import OrderUpdate, TradeUpdate, UpdateSource
from polyloly.execution.ports import (
    REJECT_DUPLICATE,
    REJECT_NO_BALANCE,
    REJECT_POST_ONLY_CROSSES,
    Balances,
    CancelResult,
    MakerLeg,
    MergeResult,
    SignedOrder,
    SubmitResult,
    TradeReport,
    TraderSide,
    TradeStatus,
    VenueOrder,
    VenueOrderStatus,
)

__all__ = ["PaperConfig", "PaperVenue"]

_MARKET_OWNER = "market"
_COLLATERAL = "collateral"
Level = tuple[str, Side, int]


@dataclass(frozen=True, slots=True)
class PaperConfig:
    """Paper account and settlement timing (micros, ms)."""

    starting_collateral: int
    trade_mined_delay_ms: int = 2_000
    trade_confirmed_delay_ms: int = 5_000
    owner: str = "paper"
    address: str = "0xpaper"


@dataclass(slots=True)
class _PaperTrade:
    report: TradeReport
    mined_at_ns: int
    confirmed_at_ns: int


@dataclass(slots=True)
class _Levels:
    """Synthetic order ids per level (oldest first) and the liquidity we consumed."""

    queues: dict[Level, list[str]] = field(default_factory=dict)
    consumed: dict[Level, int] = field(default_factory=dict)


def _error_code(error: str) -> str:
    if "Duplicated" in error:
        return REJECT_DUPLICATE
    if error == ERR_POST_ONLY_CROSSES:
        return REJECT_POST_ONLY_CROSSES
    if error == ERR_FOK_NOT_FILLED:
        return "fok_killed"
    if error == ERR_FAK_NO_MATCH:
        return "fak_no_match"
    return "rejected"


class PaperVenue:
    """A paper account on a matching engine mirroring live books (see the module docstring)."""

    def __init__(self, clock: Clock, config: PaperConfig) -> None:
        self.clock = clock
        self.config = config
        self.engine = MatchingEngine()
        self.publish: Callable[[Event], None] | None = None
        self.orders: dict[str, VenueOrder] = {}
        self.trade_log: dict[str, _PaperTrade] = {}
        self.balances_map: dict[str, int] = {_COLLATERAL: config.starting_collateral}
        self._levels = _Levels()
        self._ids = count(1)
        self._fee_rates: dict[str, int] = {}
        self._tokens: set[str] = set()

    # -- set-up -----------------------------------------------------------------------------

    def add_market(
        self,
        condition_id: str,
        tokens: tuple[str, str],
        *,
        tick: int,
        min_size: int,
        fee_rate: int = 30_000,
    ) -> None:
        """List a binary market (tokens in outcome order, fee rate in micros)."""
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

    def _listed(self, token_id: str) -> bool:
        return token_id in self._tokens

    def attach(self, kernel: Kernel) -> None:
        """Follow live market data and the clock through the kernel; publish into it."""
        self.publish = kernel.publish
        kernel.subscribe(BookSnapshot, self.on_book)
        kernel.subscribe(PriceChanges, self.on_price_changes)
        kernel.subscribe(LastTrade, self.on_last_trade)
        kernel.subscribe(MarketResolved, self.on_resolved)
        kernel.subscribe(TimerTick, self.on_tick)

    # -- live market data -------------------------------------------------------------------

    def on_book(self, event: BookSnapshot) -> None:
        """Make the token's synthetic liquidity equal the live snapshot."""
        if not self._listed(event.token_id):
            return
        targets: dict[Level, int] = {}
        for side, levels in ((Side.BUY, event.bids), (Side.SELL, event.asks)):
            for price, size in levels:
                targets[(event.token_id, side, price)] = size
        for key in [k for k in self._levels.queues if k[0] == event.token_id]:
            targets.setdefault(key, 0)
        self._apply_targets(targets)

    def on_price_changes(self, event: PriceChanges) -> None:
        """Apply level updates (shrinking levels first, so nothing crosses needlessly)."""
        targets = {
            (c.token_id, c.side, c.price): c.size for c in event.changes if self._listed(c.token_id)
        }
        self._apply_targets(targets)

    def on_last_trade(self, event: LastTrade) -> None:
        """Replay a printed trade as a synthetic taker against the queue."""
        if self._listed(event.token_id):
            self._synthetic_take(event.token_id, event.side, event.price, event.size)

    def on_resolved(self, event: MarketResolved) -> None:
        """Cancel every paper order of a resolved market."""
        book = self.engine.market(event.market)
        tokens = {book.token_a, book.token_b}
        mine = [h for h, o in self.orders.items() if o.token_id in tokens and self._open(o)]
        self._cancel(mine, VenueOrderStatus.CANCELED)

    def on_tick(self, _tick: TimerTick) -> None:
        """Advance trade settlement and GTD expiry."""
        now = self.clock.now_ns()
        for trade in self.trade_log.values():
            status = trade.report.status
            if status is TradeStatus.MATCHED and now >= trade.mined_at_ns:
                self._set_status(trade, TradeStatus.MINED)
                status = TradeStatus.MINED
            if status is TradeStatus.MINED and now >= trade.confirmed_at_ns:
                self._set_status(trade, TradeStatus.CONFIRMED)
        expired, _ = self.engine.expire(now // NS_PER_S)
        for order in expired:
            if order.order_id in self.orders:
                self._update(order.order_id, status=VenueOrderStatus.EXPIRED)

    def _apply_targets(self, targets: dict[Level, int]) -> None:
        ordered = sorted(targets.items(), key=lambda kv: kv[1] - self._synthetic_size(kv[0]))
        for key, size in ordered:
            self._set_level(key, size)

    def _synthetic_size(self, key: Level) -> int:
        total = 0
        for order_id in self._levels.queues.get(key, ()):
            order = self.engine.order(order_id)
            total += order.remaining if order is not None else 0
        return total

    def _set_level(self, key: Level, target: int) -> None:
        consumed = min(self._levels.consumed.get(key, 0), target)
        self._levels.consumed[key] = consumed
        want = target - consumed
        queue = [i for i in self._levels.queues.get(key, []) if self.engine.order(i) is not None]
        self._levels.queues[key] = queue
        have = self._synthetic_size(key)
        while have > want and queue:
            order = self.engine.order(queue[-1])
            if order is None:
                queue.pop()
                continue
            excess = have - want
            if order.remaining > excess:
                # Shrink in place: the order keeps its place in the queue.
                self.engine.reduce(order.order_id, order.remaining - excess)
                have = want
                break
            self.engine.cancel(queue.pop())
            have -= order.remaining
        if want > have:
            self._add_synthetic(key, want - have)

    def _add_synthetic(self, key: Level, size: int) -> None:
        token, side, price = key
        opposite = self.engine.best(token, Side.SELL if side is Side.BUY else Side.BUY)
        crosses = opposite is not None and (
            price >= opposite if side is Side.BUY else price <= opposite
        )
        if crosses:
            # Live liquidity at a price our resting order improves on: it trades with us.
            size -= self._synthetic_take(token, side, price, size)
            if size <= 0:
                return
        request = OrderRequest(
            order_id=f"mkt-{next(self._ids)}",
            owner=_MARKET_OWNER,
            maker="0xmarket",
            token_id=token,
            side=side,
            price=price,
            size=size,
        )
        if self.engine.rest(request).accepted:
            self._levels.queues.setdefault(key, []).append(request.order_id)

    def _synthetic_take(self, token: str, side: Side, price: int, size: int) -> int:
        """A synthetic taker (``side``) of ``size`` at ``price``; return the size it filled."""
        request = OrderRequest(
            order_id=f"mkt-{next(self._ids)}",
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
            raise RejectError(f"order {order.order_hash} is invalid. Duplicated.", REJECT_DUPLICATE)
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
        )
        result = self.engine.submit(request, self.clock.now_ns() // NS_PER_S)
        if not result.accepted:
            raise RejectError(result.error, _error_code(result.error))
        status = VenueOrderStatus.LIVE if result.resting else VenueOrderStatus.MATCHED
        if spec.order_type in (OrderType.FAK, OrderType.FOK) and not result.filled:
            status = VenueOrderStatus.UNMATCHED
        elif spec.order_type is OrderType.FAK and result.resting == 0 and result.filled < spec.size:
            status = VenueOrderStatus.MATCHED  # the unfilled rest of an FAK is canceled
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
        trade_ids = self._record_fills(result, taker_is_ours=True)
        self._update(order.order_hash, status=status)
        return SubmitResult(order_hash=order.order_hash, status=status, trade_ids=tuple(trade_ids))

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
            self.engine.cancel(order_hash)
            self._update(order_hash, status=status)
            canceled.append(order_hash)
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
                raise RejectError("not enough balance / allowance", REJECT_NO_BALANCE)
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
            raise RejectError("not enough balance / allowance", REJECT_NO_BALANCE)

    def _record_fills(self, result: MatchResult, *, taker_is_ours: bool) -> list[str]:
        trade_ids: list[str] = []
        for fill in result.fills:
            maker_is_ours = fill.maker_owner == self.config.owner
            if not taker_is_ours and fill.maker_owner == _MARKET_OWNER:
                continue  # the live market trading with itself
            if taker_is_ours and fill.maker_owner == _MARKET_OWNER:
                key = (fill.maker_token, fill.maker_side, fill.maker_price)
                self._levels.consumed[key] = self._levels.consumed.get(key, 0) + fill.size
            trade_ids.append(
                self._trade(fill, taker_is_ours=taker_is_ours, maker_is_ours=maker_is_ours)
            )
        return trade_ids

    def _trade(self, fill: Fill, *, taker_is_ours: bool, maker_is_ours: bool) -> str:
        now = self.clock.now_ns()
        trade_id = f"paper-{next(self._ids)}"
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
        self.trade_log[trade_id] = _PaperTrade(
            report, mined, mined + self.config.trade_confirmed_delay_ms * NS_PER_MS
        )
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
