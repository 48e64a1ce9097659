"""Run one accepted order through the matching engine and settle what it did.

Fills are grouped into trades (one per taker order and effective price), balances move,
order records and reservations follow, the trade lifecycle starts, and the market and
user channels hear about it. The reply is ``POST /order``'s, including
``transactionsHashes`` so the client library does not poll ``/data/trades`` for 30 s.
"""

from __future__ import annotations

from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType
from polyloly.domain.matching import Fill, MatchingEngine, MatchResult, OrderRequest, OrderState
from polyloly.runtime.clock import NS_PER_S, Clock
from polyloly.sim.exchange.accounts import Accounts
from polyloly.sim.exchange.config import IdFactory, Listing
from polyloly.sim.exchange.feeds import Publisher
from polyloly.sim.exchange.frames import Json, num
from polyloly.sim.exchange.lifecycle import TradeLifecycle
from polyloly.sim.exchange.orders import MakerFill, OrderRecord, TradeRecord

__all__ = ["Settlement"]

_MARKET_TYPES = frozenset({OrderType.FOK, OrderType.FAK})


class Settlement:
    """Matches and settles orders for a :class:`~polyloly.sim.exchange.venue.Venue`.

    It receives the venue's parts it works on (the matching engine, accounts, publisher,
    trade lifecycle, the order/trade/listing records, the id factory and the clock), not
    the venue itself.
    """

    def __init__(
        self,
        *,
        engine: MatchingEngine,
        accounts: Accounts,
        publisher: Publisher,
        lifecycle: TradeLifecycle,
        orders: dict[str, OrderRecord],
        trades: dict[str, TradeRecord],
        by_token: dict[str, Listing],
        ids: IdFactory,
        clock: Clock,
    ) -> None:
        self.engine = engine
        self.accounts = accounts
        self.publisher = publisher
        self.lifecycle = lifecycle
        self.orders = orders
        self.trades = trades
        self.by_token = by_token
        self.ids = ids
        self.clock = clock
        self.as_of_ns: int | None = None  # a delayed order's match time (its delay's end)

    def now_s(self) -> int:
        """Clock time in s."""
        return self.clock.now_ns() // NS_PER_S

    def execute(self, request: OrderRequest, record: OrderRecord) -> tuple[int, Json]:
        """Match ``request`` now; return the HTTP status and ``POST /order`` reply."""
        venue = self
        result = venue.engine.submit(request, venue.now_s())
        if not result.accepted:
            venue.accounts.release(request.order_id)
            killed = record.status == "DELAYED" or request.order_type in _MARKET_TYPES
            if killed:
                # The venue reports a killed FOK/FAK (or a delayed order that no longer
                # fits) as a CANCELLATION whose status carries the reason.
                record.status = "CANCELED_" + result.error
                venue.publisher.order(record, "CANCELLATION")
            else:
                venue.orders.pop(record.id, None)
            return 400, {"error": result.error}
        trades = self._settle(request, record, result)
        status = "live" if result.state is OrderState.LIVE else "matched"
        making, taking = _trade_amounts(record, trades)
        return 200, {
            "success": True,
            "errorMsg": "",
            "orderID": request.order_id,
            "status": status,
            "makingAmount": making,
            "takingAmount": taking,
            "tradeIDs": [t.id for t in trades],
            "transactionsHashes": [t.transaction_hash for t in trades],
        }

    def _settle(
        self, request: OrderRequest, record: OrderRecord, result: MatchResult
    ) -> list[TradeRecord]:
        venue = self
        listing = venue.by_token[request.token_id]
        trades = self._trades(request, record, result.fills)
        for fill in result.fills:
            venue.accounts.apply_fill(fill)
        for trade in trades:
            record.associate_trades.append(trade.id)
            listing.last_trade_price[trade.asset_id] = trade.price
        record.size_matched = result.filled
        record.status = "LIVE" if result.state is OrderState.LIVE else "MATCHED"
        venue.accounts.reserve_for(
            request.order_id,
            request.maker,
            token_id=request.token_id,
            side=request.side,
            price=request.price,
            remaining=result.resting,
        )
        self._update_makers(result.fills, trades)
        if trades:
            venue.publisher.trades(listing, trades, listing.spec.fee_rate // 100)
        else:
            venue.publisher.level_changes(listing, result.changes, request.order_id)
        if result.state is OrderState.LIVE:
            venue.publisher.order(record, "PLACEMENT")
        else:
            venue.publisher.order(record, "UPDATE")
        for trade in trades:
            venue.trades[trade.id] = trade
            venue.publisher.trade(trade)
            venue.lifecycle.start(trade)
        return trades

    def _update_makers(self, fills: tuple[Fill, ...], trades: list[TradeRecord]) -> None:
        venue = self
        trade_of = {(f.maker_order_id, f.price): t.id for t in trades for f in t.fills}
        touched: dict[str, OrderRecord] = {}
        for fill in fills:
            maker = venue.orders.get(fill.maker_order_id)
            if maker is None:
                continue
            maker.size_matched += fill.size
            trade_id = trade_of[(fill.maker_order_id, fill.price)]
            if trade_id not in maker.associate_trades:
                maker.associate_trades.append(trade_id)
            touched[maker.id] = maker
        for maker in touched.values():
            resting = venue.engine.order(maker.id)
            remaining = resting.remaining if resting is not None else 0
            if remaining == 0:
                maker.status = "MATCHED"
            venue.accounts.reserve_for(
                maker.id,
                maker.maker_address,
                token_id=maker.asset_id,
                side=maker.side,
                price=maker.price,
                remaining=remaining,
            )
            venue.publisher.order(maker, "UPDATE")

    def _trades(
        self, request: OrderRequest, record: OrderRecord, fills: tuple[Fill, ...]
    ) -> list[TradeRecord]:
        """Group fills by effective price into trades."""
        venue = self
        groups: dict[int, list[Fill]] = {}
        for fill in fills:
            groups.setdefault(fill.price, []).append(fill)
        listing = venue.by_token[request.token_id]
        now_s = venue.now_s()
        trades = []
        for price, group in groups.items():
            makers = [
                MakerFill(
                    order_id=f.maker_order_id,
                    owner=f.maker_owner,
                    maker_address=f.maker_address,
                    matched_amount=f.size,
                    price=f.maker_price,
                    asset_id=f.maker_token,
                    outcome=listing.outcome_of(f.maker_token),
                    side=f.maker_side,
                )
                for f in group
            ]
            trades.append(
                TradeRecord(
                    id=venue.ids.uuid(),
                    taker_order_id=request.order_id,
                    market=listing.condition_id,
                    asset_id=request.token_id,
                    side=request.side,
                    size=sum(f.size for f in group),
                    price=price,
                    fee=sum(f.fee for f in group),
                    fee_rate_bps=listing.spec.fee_rate // 100,
                    outcome=record.outcome,
                    owner=request.owner,
                    maker_address=request.maker,
                    transaction_hash=venue.ids.hex32(),
                    match_time_s=now_s,
                    bucket_index=0,
                    maker_orders=makers,
                    fills=list(group),
                    last_update_s=now_s,
                    matched_ns=self.as_of_ns or self.clock.now_ns(),
                )
            )
        return trades


def _trade_amounts(record: OrderRecord, trades: list[TradeRecord]) -> tuple[str, str]:
    """``makingAmount`` / ``takingAmount`` of a taker order's trades."""
    cash = sum(f.taker_cash for t in trades for f in t.fills)
    shares = sum(f.size for t in trades for f in t.fills)
    if record.side is Side.BUY:
        return num(cash), num(shares)
    return num(shares), num(cash)
