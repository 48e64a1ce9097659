"""The fault matrix against the local exchange simulator over loopback.

The real Polymarket adapter (py-clob-client-v2, local signing) talks to the simulator on
127.0.0.1; the execution engine sees it only through its ports. After every scenario the
local positions equal the simulator's balances.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from tests.conftest import RecordingSink

from polyloly.adapters.polymarket import events as pm
from polyloly.adapters.polymarket.config import PolymarketConfig, Secret, WalletConfig
from polyloly.adapters.polymarket.execution import (
    SimControlMerger,
    attach_user_channel,
    execution_ports,
)
from polyloly.adapters.polymarket.factory import PolymarketAdapter, create_adapter
from polyloly.domain.events import FeedState, FeedStatus, OperatorCommand, Side
from polyloly.domain.intents import CancelIntent, MergeIntent, OrderType, PlaceOrderIntent
from polyloly.domain.money import SCALE
from polyloly.execution.engine import ExecutionConfig, ExecutionEngine
from polyloly.execution.events import (
    KillSwitchFired,
    MergeCompleted,
    OrderAccepted,
    ReconciliationCorrection,
)
from polyloly.execution.lifecycle import OrderState
from polyloly.execution.order_manager import OrderManagerConfig
from polyloly.execution.ports import TradeStatus
from polyloly.execution.reconciliation import ReconcileConfig
from polyloly.execution.retry import RetryPolicy
from polyloly.runtime.clock import LiveClock
from polyloly.runtime.kernel import Kernel
from polyloly.runtime.sleep import asyncio_sleep
from polyloly.sim.exchange import ExchangeSimulator, SimConfig, SimMarket
from polyloly.testing.fakes import RecordingAlerts

pytestmark = pytest.mark.asyncio

KEY = "0x" + "4c" * 32
FAST = RetryPolicy(base_delay_ms=5, max_delay_ms=50, max_attempts=6)


@dataclass
class Live:
    sim: ExchangeSimulator
    kernel: Kernel
    sink: RecordingSink
    adapter: PolymarketAdapter
    engine: ExecutionEngine
    market: str
    yes: str
    no: str
    funder: str
    n: int = 0

    async def until(self, cond: Callable[[], bool], limit_s: float = 10.0) -> None:
        """Wait for a condition the simulator makes true (settlement, socket frames)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        while not cond():
            if loop.time() > deadline:
                raise AssertionError("condition not reached")
            await asyncio.sleep(0.01)
        await self.engine.idle()

    async def place(
        self,
        token: str,
        side: Side,
        price: int,
        size: int,
        order_type: OrderType = OrderType.GTC,
    ) -> str:
        self.n += 1
        now = self.kernel.now_ns()
        intent = PlaceOrderIntent(
            ts_event=now,
            ts_init=now,
            intent_id=f"live:{self.n}",
            strategy="t",
            market=self.market,
            token_id=token,
            side=side,
            price=price,
            size=size,
            order_type=order_type,
            notional=size * price // SCALE,
        )
        self.kernel.publish(intent)
        await self.engine.idle()
        record = self.engine.state.order_for_client(intent.intent_id)
        assert record is not None
        return str(record.order_hash)

    def ours(self) -> list[Any]:
        return [
            r
            for r in self.sim.venue.orders.values()
            if r.maker_address.lower() == self.funder.lower()
        ]

    async def settle(self) -> None:
        """Wait until the venue's trades are final and local fills caught up."""
        await self.until(
            lambda: all(str(t.status) in ("CONFIRMED", "FAILED") for t in self.sim.trades())
        )
        await self.until(lambda: not self.engine.state.pending_fills())

    def assert_matches_sim(self) -> None:
        venue = self.sim.balances(self.funder)
        state = self.engine.state
        assert state.collateral() == venue["collateral"]
        for token in (self.yes, self.no):
            assert state.position(token).expected == venue.get(token, 0), token


@pytest_asyncio.fixture
async def live() -> AsyncIterator[Live]:
    sim = ExchangeSimulator(
        SimConfig(seed=11, trade_mined_delay_ms=20, trade_confirmed_delay_ms=40, tick_interval_ms=5)
    )
    listing = sim.add_market(
        SimMarket(
            question="LoL: T1 vs Gen.G - Game 1 Winner",
            outcomes=("T1", "Gen.G"),
            tick=10_000,
            min_size=5 * SCALE,
            fee_rate=30_000,
            slug="lol-t1-gen-game1",
        )
    )
    await sim.start()
    clock = LiveClock()
    sink = RecordingSink()
    kernel = Kernel(clock, sink)
    config = PolymarketConfig(
        clob_url=sim.http_url,
        market_ws_url=sim.market_ws_url,
        user_ws_url=sim.user_ws_url,
        gamma_url=sim.gamma_url,
        wallet=WalletConfig(private_key=Secret(KEY)),
    )
    adapter = await create_adapter(config, kernel.publish, clock, heartbeat=False)
    http = httpx.AsyncClient()
    funder = adapter.rest._signer.funder if adapter.rest._signer else ""
    ports = execution_ports(
        adapter,
        clock,
        tick_of=lambda _t: 10_000,
        alerts=RecordingAlerts(),
        merger=SimControlMerger(sim.http_url, funder, http),
    )
    engine = ExecutionEngine(
        kernel,
        ports,
        sleep=asyncio_sleep,
        config=ExecutionConfig(
            orders=OrderManagerConfig(submit_retry=FAST, cancel_retry=FAST),
            reconcile=ReconcileConfig(interval_s=0, retry=FAST),
        ),
    )
    engine.attach()
    attach_user_channel(engine)
    yes, no = listing.token_ids
    sim.place_resting(yes, "SELL", 450_000, 500 * SCALE)
    sim.place_resting(yes, "BUY", 350_000, 500 * SCALE)
    sim.place_resting(no, "SELL", 650_000, 500 * SCALE)
    sim.place_resting(no, "BUY", 550_000, 500 * SCALE)
    adapter.start()
    await adapter.market_ws.subscribe([yes, no])
    bot = Live(sim, kernel, sink, adapter, engine, listing.condition_id, yes, no, funder)
    await bot.until(lambda: all(adapter.market_ws.in_sync(t) for t in (yes, no)))
    await bot.until(lambda: adapter.user_ws is not None and adapter.user_ws.socket is not None)
    engine.start()
    await bot.until(lambda: engine.reconciler.last_ok is True)
    try:
        yield bot
    finally:
        await engine.stop()
        # The simulator first: it drops every socket, so the adapter's close is immediate
        # (closing against a live server waits out the WebSocket close timeouts).
        await sim.stop()
        await adapter.stop()
        await http.aclose()


async def test_happy_path_fill_and_settle(live: Live) -> None:
    order = await live.place(live.yes, Side.BUY, 450_000, 20 * SCALE)
    await live.until(lambda: live.engine.state.orders[order].state is OrderState.MATCHED)
    await live.settle()
    assert live.engine.state.position(live.yes).confirmed == 20 * SCALE
    assert live.engine.state.position(live.yes).fees > 0
    live.assert_matches_sim()


async def test_lost_submit_reply_gives_one_order(live: Live) -> None:
    live.sim.faults.lose_next_order_reply()
    order = await live.place(live.yes, Side.BUY, 400_000, 20 * SCALE)
    assert [r.id for r in live.ours()] == [order]
    assert live.engine.state.orders[order].state is OrderState.LIVE
    assert live.sink.of(OrderAccepted)[-1].found_by_lookup
    live.assert_matches_sim()


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_error_bursts_give_one_order(live: Live, status: int) -> None:
    live.sim.faults.http_errors(status, 3, path_prefix="/order")
    order = await live.place(live.yes, Side.BUY, 400_000, 20 * SCALE)
    assert [r.id for r in live.ours()] == [order]
    assert live.engine.state.orders[order].state is OrderState.LIVE
    live.assert_matches_sim()


async def test_trade_failed_after_matched(live: Live) -> None:
    before = live.engine.state.collateral()
    live.sim.faults.fail_next_trades(1)
    order = await live.place(live.yes, Side.BUY, 450_000, 20 * SCALE)
    await live.until(
        lambda: any(f.status is TradeStatus.FAILED for f in live.engine.state.fills.values())
    )
    await live.settle()
    assert live.engine.state.orders[order].size_matched == 20 * SCALE
    assert live.engine.state.position(live.yes).expected == 0
    assert live.engine.state.collateral() == before
    live.assert_matches_sim()


async def test_partial_fills_of_a_resting_order(live: Live) -> None:
    order = await live.place(live.yes, Side.BUY, 400_000, 30 * SCALE)
    live.sim.submit(live.yes, "SELL", 400_000, 10 * SCALE)
    await live.until(lambda: live.engine.state.orders[order].state is OrderState.PARTIALLY_MATCHED)
    live.sim.submit(live.yes, "SELL", 400_000, 20 * SCALE)
    await live.until(lambda: live.engine.state.orders[order].state is OrderState.MATCHED)
    await live.settle()
    assert live.engine.state.position(live.yes).confirmed == 30 * SCALE
    live.assert_matches_sim()


async def test_cancel_racing_a_fill(live: Live) -> None:
    order = await live.place(live.yes, Side.BUY, 400_000, 20 * SCALE)
    intent_id = live.engine.state.orders[order].client_id
    live.sim.submit(live.yes, "SELL", 400_000, 15 * SCALE)  # lands before the cancel
    now = live.kernel.now_ns()
    live.kernel.publish(
        CancelIntent(
            ts_event=now, ts_init=now, intent_id="c", strategy="t", target_intent_id=intent_id
        )
    )
    await live.until(lambda: not live.engine.state.orders[order].is_open)
    await live.settle()
    record = live.engine.state.orders[order]
    assert record.state is OrderState.CANCELED
    assert live.engine.state.position(live.yes).expected == 15 * SCALE
    live.assert_matches_sim()


async def test_ws_drop_during_a_fill_is_recovered_from_rest(live: Live) -> None:
    order = await live.place(live.yes, Side.BUY, 400_000, 20 * SCALE)
    live.sim.faults.drop_ws_connections()
    live.sim.submit(live.yes, "SELL", 400_000, 20 * SCALE)  # filled while we are away
    await live.until(lambda: live.engine.state.orders[order].state is OrderState.MATCHED)
    await live.settle()
    assert live.engine.state.position(live.yes).confirmed == 20 * SCALE
    heard = [
        e
        for e in live.sink.of(pm.TradeUpdate)
        if e.source is pm.UpdateSource.WS and e.status is pm.TradeStatus.MATCHED
    ]
    assert heard == []  # the MATCHED trade frame was lost: state came back from REST
    assert any(
        e.state is FeedState.DOWN for e in live.sink.of(FeedStatus) if e.source.endswith("user_ws")
    )
    live.assert_matches_sim()


async def test_kill_switch_cancels_everything_at_the_venue(live: Live) -> None:
    for price in (380_000, 390_000, 400_000):
        await live.place(live.yes, Side.BUY, price, 20 * SCALE)
    now = live.kernel.now_ns()
    live.kernel.publish(OperatorCommand(ts_event=now, ts_init=now, command="halt"))
    await live.until(lambda: not any(r.open for r in live.ours()))
    await live.until(lambda: not live.engine.state.open_orders())
    assert live.sink.of(KillSwitchFired)
    live.assert_matches_sim()


async def test_merge_through_the_simulator(live: Live) -> None:
    await live.place(live.yes, Side.BUY, 450_000, 20 * SCALE)
    await live.place(live.no, Side.BUY, 650_000, 20 * SCALE)
    await live.settle()
    now = live.kernel.now_ns()
    live.kernel.publish(
        MergeIntent(
            ts_event=now,
            ts_init=now,
            intent_id="m",
            strategy="t",
            market=live.market,
            size=20 * SCALE,
        )
    )
    await live.until(lambda: bool(live.sink.of(MergeCompleted)))
    assert live.engine.state.position(live.yes).expected == 0
    live.assert_matches_sim()


async def test_many_small_fills_round_as_the_exchange(live: Live) -> None:
    # 40 small asks of odd sizes under our limit, at two prices: one FAK BUY takes them all
    # in two trades of 20 fills each. The exchange rounds each fill's cash half up and
    # floors each fill's fee; the ledger must do the same, or collateral drifts by micros
    # and every later reconciliation pass fails (a 1-micro difference once stopped the bot).
    for k in range(40):
        live.sim.place_resting(live.yes, "SELL", 360_000 + (k % 2) * 10_000, 510_001 + 7_919 * k)
    order = await live.place(live.yes, Side.BUY, 380_000, 30 * SCALE, OrderType.FAK)
    await live.until(lambda: live.engine.state.orders[order].state is OrderState.MATCHED)
    await live.settle()
    fills = [f for f in live.engine.state.fills.values() if f.order_hash == order]
    assert len(fills) == 2
    assert len({leg for t in live.sim.trades() for leg in t.maker_orders}) >= 40
    # Our resting bid, hit by many small sells of odd sizes (one trade each).
    bid = await live.place(live.yes, Side.BUY, 370_000, 30 * SCALE)
    for k in range(25):
        live.sim.submit(live.yes, "SELL", 370_000, 1_000_003 + 3_331 * k, order_type=OrderType.FAK)
    await live.until(lambda: live.engine.state.orders[bid].size_matched > 25 * SCALE)
    await live.settle()
    live.assert_matches_sim()
    live.engine.reconciler.request()
    await live.until(lambda: not live.engine.reconciler.running)
    assert live.engine.reconciler.last_ok is True
    assert not [
        c
        for c in live.sink.of(ReconciliationCorrection)
        if c.kind in ("balance_mismatch", "collateral_rounding")
    ]
