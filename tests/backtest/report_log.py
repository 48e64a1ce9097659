"""Builds event logs for the report tests by hand: books, truth, orders and fills."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from polyloly.domain.events import (
    BookSnapshot,
    Event,
    MarketResolved,
    Side,
    TruthDelta,
    TruthFinal,
    TruthState,
)
from polyloly.domain.intents import OrderType, PlaceOrderIntent
from polyloly.domain.markets import MarketKind, MarketMapping
from polyloly.domain.money import SCALE
from polyloly.execution.events import (
    ExecutionAnomaly,
    OrderAccepted,
    OrderSubmitted,
    TradeUpdate,
)
from polyloly.execution.lifecycle import taker_fee
from polyloly.execution.ports import (
    MakerLeg,
    OrderSpec,
    SignedOrder,
    TradeReport,
    TraderSide,
    TradeStatus,
    VenueOrderStatus,
)
from polyloly.node.session import MarketDiscovered
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S

START_NS = 1_800_000_000 * NS_PER_S


@dataclass
class LogBuilder:
    """Appends realistic events in time order; ``now`` moves only when told to."""

    now: int = START_NS
    events: list[Event] = field(default_factory=list)
    seq: int = 0

    def at(self, seconds: float) -> LogBuilder:
        self.now = START_NS + int(seconds * NS_PER_S)
        return self

    def add(self, event: Event) -> None:
        self.events.append(event)

    def book(
        self,
        market: str,
        token: str,
        bid: int,
        ask: int,
        size: int = 1_000 * SCALE,
        *,
        more_asks: tuple[tuple[int, int], ...] = (),
    ) -> None:
        """A snapshot with one bid and one ask of ``size`` (plus ``more_asks`` levels)."""
        self.add(
            BookSnapshot(
                ts_event=self.now - 40 * NS_PER_MS,
                ts_init=self.now,
                market=market,
                token_id=token,
                bids=((bid, size),),
                asks=((ask, size), *more_asks),
                tick=10_000,
            )
        )

    def discover(
        self,
        match: str,
        market: str,
        question: str,
        *,
        teams: tuple[str, str],
        tokens: tuple[str, str],
        game: int | None = None,
    ) -> MarketMapping:
        """The node's ``MarketDiscovered`` for one market (canonical team names)."""
        mapping = MarketMapping(
            match_id=match,
            market_id=market,
            question=question,
            kind=MarketKind.MATCH if game is None else MarketKind.GAME,
            team_a=teams[0],
            team_b=teams[1],
            token_a=tokens[0],
            token_b=tokens[1],
            game_number=game,
        )
        self.add(MarketDiscovered(ts_event=self.now, ts_init=self.now, mapping=mapping))
        return mapping

    def anomaly(self, kind: str, subject: str, detail: str) -> None:
        self.add(
            ExecutionAnomaly(
                ts_event=self.now, ts_init=self.now, kind=kind, subject=subject, detail=detail
            )
        )

    def truth(self, match: str, change: str, winner: str | None = None, score: int = 0) -> None:
        self.add(
            TruthDelta(
                ts_event=self.now,
                ts_init=self.now,
                match_id=match,
                state=TruthState.LIVE,
                change=change,
                score_a=score,
                score_b=0,
                team_a="T1",
                team_b="Gen.G",
                confidence=9_500,
                game_number=1,
                game_winner=winner,
                game_confidence=9_500 if winner else 0,
            )
        )

    def final(self, match: str, winner: str = "T1") -> None:
        self.add(
            TruthFinal(
                ts_event=self.now,
                ts_init=self.now,
                match_id=match,
                winner=winner,
                score_a=1,
                score_b=0,
                team_a="T1",
                team_b="Gen.G",
                confidence=9_800,
                sources=("grid", "lolesports"),
            )
        )

    def order(
        self,
        strategy: str,
        market: str,
        token: str,
        *,
        price: int,
        size: int,
        match: str = "",
        latency_ms: int = 80,
        status: VenueOrderStatus = VenueOrderStatus.LIVE,
        order_type: OrderType = OrderType.FAK,
    ) -> str:
        """An intent, its signed order and the venue's answer; return the order hash."""
        self.seq += 1
        intent_id = f"{strategy}:{market}:{token}:{self.seq}"
        self.add(
            PlaceOrderIntent(
                ts_event=self.now,
                ts_init=self.now,
                intent_id=intent_id,
                strategy=strategy,
                market=market,
                token_id=token,
                side=Side.BUY,
                price=price,
                size=size,
                order_type=order_type,
                notional=size * price // SCALE,
                match_id=match,
            )
        )
        order_hash = f"0x{self.seq:064x}"
        spec = OrderSpec(
            client_id=intent_id,
            market=market,
            token_id=token,
            side=Side.BUY,
            price=price,
            size=size,
            order_type=order_type,
            salt=self.seq,
            timestamp_ms=self.now // NS_PER_MS,
        )
        self.add(
            OrderSubmitted(
                ts_event=self.now,
                ts_init=self.now,
                strategy=strategy,
                order=SignedOrder(order_hash=order_hash, spec=spec),
            )
        )
        answered = self.now + latency_ms * NS_PER_MS
        self.add(
            OrderAccepted(
                ts_event=answered,
                ts_init=answered,
                client_id=intent_id,
                order_hash=order_hash,
                status=status,
            )
        )
        return order_hash

    def fill(
        self,
        order_hash: str,
        market: str,
        token: str,
        *,
        price: int,
        size: int,
        taker: bool = True,
        status: TradeStatus = TradeStatus.MATCHED,
        trade_id: str | None = None,
    ) -> TradeUpdate:
        """Our order took (pays the fee) or made (a foreign taker sold into it) ``size``."""
        self.seq += 1
        trade_id = trade_id or f"trade-{self.seq}"
        legs = ()
        if not taker:  # someone else's SELL hit our resting BUY
            legs = (
                MakerLeg(order_id=order_hash, asset_id=token, price=price, matched_amount=size),
            )
        report = TradeReport(
            trade_id=trade_id,
            market=market,
            asset_id=token,
            side=Side.BUY if taker else Side.SELL,
            price=price,
            size=size,
            status=status,
            taker_order_id=order_hash if taker else f"0xforeign{self.seq}",
            trader_side=TraderSide.TAKER if taker else TraderSide.MAKER,
            fee=taker_fee(size, price, 300) if taker else None,
            maker_legs=legs,
            match_time_ns=self.now,
            last_update_ns=self.now,
        )
        update = TradeUpdate(ts_event=self.now, ts_init=self.now, report=report)
        self.add(update)
        return update

    def settle(self, trade: TradeUpdate, status: TradeStatus) -> None:
        """The same trade moving on (MINED, CONFIRMED, FAILED)."""
        report = msgspec.structs.replace(trade.report, status=status, last_update_ns=self.now)
        self.add(TradeUpdate(ts_event=self.now, ts_init=self.now, report=report))

    def resolve(self, market: str, winner: str) -> None:
        self.add(
            MarketResolved(
                ts_event=self.now, ts_init=self.now, market=market, winning_token_id=winner
            )
        )
