"""User WebSocket client against the local exchange: order and trade events, catch-up."""

from __future__ import annotations

import random

import pytest

from polyloly.adapters.polymarket.config import ApiCredentials
from polyloly.adapters.polymarket.events import (
    OrderStatus,
    OrderUpdate,
    OrderUpdateKind,
    TraderSide,
    TradeStatus,
    TradeUpdate,
    UpdateSource,
    UserResync,
)
from polyloly.adapters.polymarket.http import UserRecoveryPort
from polyloly.adapters.polymarket.signing import OrderSpec
from polyloly.adapters.polymarket.ws_user import UserWsClient
from polyloly.domain.events import Event, FeedState, FeedStatus, Side
from polyloly.domain.intents import OrderType
from polyloly.runtime.clock import LiveClock
from polyloly.runtime.errors import BackOffError
from polyloly.sim.exchange import ExchangeSimulator, SimMarket

from .conftest import FAST_WS, make_rest, wait_for


def _spec(
    token: str, side: Side, price: int, size: int, otype: OrderType = OrderType.GTC
) -> OrderSpec:
    return OrderSpec(
        token_id=token, side=side, price=price, size=size, tick=10_000, order_type=otype
    )


def _trade_statuses(events: list[Event], trade_id: str) -> list[TradeStatus]:
    return [e.status for e in events if isinstance(e, TradeUpdate) and e.trade_id == trade_id]


def _orders(events: list[Event], order_id: str) -> list[OrderUpdate]:
    return [e for e in events if isinstance(e, OrderUpdate) and e.order_id == order_id]


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_orders_trades_failures_and_catch_up(sim: ExchangeSimulator) -> None:
    listing = sim.add_market(
        SimMarket(
            question="LoL: T1 vs Gen.G (BO3) - LCK",
            outcomes=("T1", "Gen.G"),
            slug="lol-t1-gen-2026-11-25",
        )
    )
    t1 = listing.token_ids[0]
    rest = await make_rest(sim)
    creds = await rest.derive_creds()
    events: list[Event] = []
    user = UserWsClient(
        sim.user_ws_url,
        creds,
        rest,
        events.append,
        LiveClock(),
        config=FAST_WS,
        rand=random.Random(1).random,
        own_address=rest._signer.funder,
    )
    user.start()
    try:
        await wait_for(lambda: any(isinstance(e, UserResync) for e in events), what="first resync")

        # A resting bid: PLACEMENT; a synthetic taker sells into it: we are the MAKER.
        _, ack = await rest.create_and_post(_spec(t1, Side.BUY, 450_000, 10_000_000))
        await wait_for(
            lambda: any(u.kind is OrderUpdateKind.PLACEMENT for u in _orders(events, ack.order_id)),
            what="placement",
        )
        sim.submit(t1, Side.SELL, 450_000, 4_000_000)

        def maker_trades() -> list[TradeUpdate]:
            return [
                e
                for e in events
                if isinstance(e, TradeUpdate) and e.trader_side is TraderSide.MAKER
            ]

        await wait_for(
            lambda: any(t.status is TradeStatus.CONFIRMED for t in maker_trades()),
            what="maker trade confirmed",
        )
        mt = maker_trades()[0]
        assert _trade_statuses(events, mt.trade_id) == [
            TradeStatus.MATCHED,
            TradeStatus.MINED,
            TradeStatus.CONFIRMED,
        ]
        [fill] = mt.own_fills()
        assert (fill.order_id, fill.size, fill.price, fill.side) == (
            ack.order_id,
            4_000_000,
            450_000,
            Side.BUY,
        )
        await wait_for(
            lambda: any(u.size_matched == 4_000_000 for u in _orders(events, ack.order_id)),
            what="order update with the fill",
        )

        # A taker trade that the chain rejects: MATCHED → FAILED.
        sim.place_resting(t1, Side.SELL, 550_000, 20_000_000, owner="mm-1")
        sim.faults.fail_next_trades(1)
        _, fok = await rest.create_and_post(_spec(t1, Side.BUY, 550_000, 5_000_000, OrderType.FOK))
        [failed_id] = fok.trade_ids
        await wait_for(
            lambda: TradeStatus.FAILED in _trade_statuses(events, failed_id), what="failed trade"
        )
        statuses = _trade_statuses(events, failed_id)
        assert statuses[0] is TradeStatus.MATCHED
        assert statuses[-1] is TradeStatus.FAILED
        assert all(
            isinstance(e, TradeUpdate) and e.source is UpdateSource.WS
            for e in events
            if isinstance(e, TradeUpdate) and e.trade_id == failed_id
        )

        # Disconnected: an order is placed and partly filled; the venue does not replay it.
        await user.stop()
        mark = len(events)
        _, missed = await rest.create_and_post(_spec(t1, Side.BUY, 470_000, 8_000_000))
        sim.submit(t1, Side.SELL, 470_000, 3_000_000)
        user.start()
        await wait_for(
            lambda: any(
                isinstance(e, UserResync) and e.reason == "reconnect" for e in events[mark:]
            ),
            what="catch-up",
        )
        after = events[mark:]
        resync = next(e for e in after if isinstance(e, UserResync))
        assert missed.order_id in resync.open_order_ids
        assert ack.order_id in resync.open_order_ids
        rest_orders = [
            e for e in after if isinstance(e, OrderUpdate) and e.source is UpdateSource.REST
        ]
        missed_update = next(u for u in rest_orders if u.order_id == missed.order_id)
        assert missed_update.status is OrderStatus.LIVE
        assert missed_update.size_matched == 3_000_000
        rest_trades = [
            e for e in after if isinstance(e, TradeUpdate) and e.source is UpdateSource.REST
        ]
        assert any(f.order_id == missed.order_id for t in rest_trades for f in t.own_fills())
        # Trades already seen over the socket are not emitted again.
        assert failed_id not in {t.trade_id for t in rest_trades}
        assert user.resyncs >= 2
    finally:
        await user.stop()
    assert sum(user.malformed.values()) == 0, user.malformed
    downs = [e for e in events if isinstance(e, FeedStatus) and e.state is FeedState.DOWN]
    assert downs


@pytest.mark.asyncio
async def test_bad_credentials_never_crash(sim: ExchangeSimulator) -> None:
    rest = await make_rest(sim)
    events: list[Event] = []
    bad = ApiCredentials.of("nope", "bm9wZQ==", "nope")
    user = UserWsClient(sim.user_ws_url, bad, rest, events.append, LiveClock(), config=FAST_WS)
    user.start()
    try:
        await wait_for(
            lambda: (
                sum(isinstance(e, FeedStatus) and e.state is FeedState.DOWN for e in events) >= 2
            ),
            what="refused twice",
        )
    finally:
        await user.stop()
    assert not any(isinstance(e, OrderUpdate | TradeUpdate) for e in events)


class FlakyRecovery:
    """The REST catch-up fails a few times before it works (a 503 window, say)."""

    def __init__(self, inner: UserRecoveryPort, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    async def open_orders(self) -> list[OrderUpdate]:
        if self.failures > 0:
            self.failures -= 1
            raise BackOffError("503 cancel-only")
        return await self.inner.open_orders()

    async def trades(self, after_s: int | None = None) -> list[TradeUpdate]:
        return await self.inner.trades(after_s)


@pytest.mark.asyncio
async def test_catch_up_retries_until_it_succeeds(sim: ExchangeSimulator) -> None:
    rest = await make_rest(sim)
    creds = await rest.derive_creds()
    events: list[Event] = []
    flaky = FlakyRecovery(rest, failures=3)
    user = UserWsClient(sim.user_ws_url, creds, flaky, events.append, LiveClock(), config=FAST_WS)
    user.start()
    try:
        await wait_for(lambda: any(isinstance(e, UserResync) for e in events), what="resync")
    finally:
        await user.stop()
    states = [e.state for e in events if isinstance(e, FeedStatus)]
    assert states[:3] == [FeedState.OK, FeedState.STALE, FeedState.OK]
    assert user.resync_failures == 3
