"""Builders for the soak audit's tests: a bot's event log and the exchange's records, by hand.

A :class:`Story` writes the events a bot would log (a start-up snapshot, orders sent,
answered, traded) and keeps the exchange's side of the same story, so a test states what
happened once and plants one defect in one side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.soak.records import ExchangeFill, ExchangeOrder, ExchangeRecords

from polyloly.domain.events import Event, Side
from polyloly.domain.intents import OrderType, PlaceOrderIntent
from polyloly.domain.money import ONE
from polyloly.execution.events import (
    OrderAccepted,
    OrderSubmitted,
    TradeUpdate,
    VenueSnapshot,
)
from polyloly.execution.ports import (
    Balances,
    OrderSpec,
    SignedOrder,
    TradeReport,
    TradeStatus,
    VenueOrderStatus,
)


class KeyedIntent(PlaceOrderIntent, frozen=True, tag="test_keyed_intent"):
    """An intent with a stable decision key, as a bot that logs one would write it."""

    decision_key: str = ""


MARKET = "0xmarket"
YES, NO = "111", "222"
START = 1_000 * ONE
S = 1_000_000_000  # one second in ns


@dataclass
class Story:
    """What the bot logged and what the exchange recorded, built step by step."""

    events: list[Event] = field(default_factory=list)
    exchange: ExchangeRecords = field(default_factory=ExchangeRecords)
    cash: int = START
    shares: dict[str, int] = field(default_factory=dict)
    _n: int = 0

    def __post_init__(self) -> None:
        self.events.append(
            VenueSnapshot(
                ts_event=1,
                ts_init=1,
                open_orders=(),
                lookups=(),
                trades=(),
                balances=Balances(collateral=START),
                trades_after_ns=0,
                startup=True,
            )
        )
        self.exchange.balances = {"collateral": START}

    def send(
        self,
        ts: int,
        *,
        token: str = YES,
        price: int = 400_000,
        size: int = 10 * ONE,
        strategy: str = "pair_arb",
        session: str = "s1",
        logged: bool = True,
        decision: str = "",
    ) -> str:
        """The bot decides and sends an order (logged unless ``logged`` is False).

        ``decision`` is the intent's stable decision key (none by default, as on a bot
        that logs none).
        """
        self._n += 1
        intent_id = f"{strategy}:{session}:{MARKET}:{self._n}"
        if strategy == "temporal_arb":
            intent_id = f"{strategy}:{session}:{MARKET}:{token}:1"
        order_hash = f"0xorder{self._n}"
        spec = OrderSpec(
            client_id=intent_id,
            market=MARKET,
            token_id=token,
            side=Side.BUY,
            price=price,
            size=size,
            order_type=OrderType.FAK,
            salt=self._n,
            timestamp_ms=ts // 1_000_000,
        )
        if logged:
            intent_type = KeyedIntent if decision else PlaceOrderIntent
            keyed = {"decision_key": decision} if decision else {}
            self.events.append(
                intent_type(
                    ts_event=ts,
                    ts_init=ts,
                    intent_id=intent_id,
                    strategy=strategy,
                    market=MARKET,
                    token_id=token,
                    side=Side.BUY,
                    price=price,
                    size=size,
                    order_type=OrderType.FAK,
                    notional=size * price // ONE,
                    **keyed,
                )
            )
            self.events.append(
                OrderSubmitted(
                    ts_event=ts,
                    ts_init=ts,
                    strategy=strategy,
                    order=SignedOrder(order_hash=order_hash, spec=spec),
                )
            )
        self.exchange.orders[order_hash] = ExchangeOrder(
            order_hash, token, "BUY", price, size, 0, "LIVE", "FAK"
        )
        return order_hash

    def fill(
        self,
        order_hash: str,
        ts: int,
        *,
        logged: bool = True,
        status: TradeStatus = TradeStatus.CONFIRMED,
        heard: TradeStatus | None = None,
    ) -> str:
        """The order trades in full on the exchange; the bot hears it unless not ``logged``.

        ``status`` is the trade's final status on the exchange; ``heard`` the one the bot
        logs (the same by default).
        """
        o = self.exchange.orders[order_hash]
        trade_id = f"trade-{order_hash}"
        self.exchange.orders[order_hash] = ExchangeOrder(
            o.order_id, o.token_id, o.side, o.price, o.size, o.size, "MATCHED", o.order_type
        )
        self.exchange.fills.append(
            ExchangeFill(trade_id, order_hash, o.token_id, o.size, status.value)
        )
        if status is not TradeStatus.FAILED:
            self.cash -= o.size * o.price // ONE
            self.shares[o.token_id] = self.shares.get(o.token_id, 0) + o.size
            self.exchange.balances = {"collateral": self.cash, **self.shares}
        if logged:
            self.answer(order_hash, ts)
            self.events.append(
                TradeUpdate(
                    ts_event=ts,
                    ts_init=ts,
                    report=TradeReport(
                        trade_id=trade_id,
                        market=MARKET,
                        asset_id=o.token_id,
                        side=Side.BUY,
                        price=o.price,
                        size=o.size,
                        status=heard or status,
                        taker_order_id=order_hash,
                        fee=0,
                    ),
                )
            )
        return trade_id

    def answer(self, order_hash: str, ts: int) -> None:
        """The bot logs the venue's reply to the post."""
        self.events.append(
            OrderAccepted(
                ts_event=ts,
                ts_init=ts,
                client_id="",
                order_hash=order_hash,
                status=VenueOrderStatus.MATCHED,
            )
        )
