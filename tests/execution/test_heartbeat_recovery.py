"""Heartbeat faults end to end: the real adapter (heartbeat, user channel, REST) and the
execution engine against the local exchange over loopback, with a 3 s window.

Lost beats are recovered without a kill; a window really missed makes the exchange cancel
the resting orders and fires the kill switch; once the chain heals and a reconciliation
passes, the switch clears by itself and trading resumes, without a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
import pytest_asyncio
from tests.conftest import RecordingSink

from polyloly.adapters.polymarket.config import PolymarketConfig, Secret, WalletConfig
from polyloly.adapters.polymarket.execution import attach_user_channel, execution_ports
from polyloly.adapters.polymarket.factory import PolymarketAdapter, create_adapter
from polyloly.adapters.polymarket.heartbeat import HEARTBEAT_SOURCE, HeartbeatLoop
from polyloly.domain.events import FeedState, FeedStatus, Side
from polyloly.domain.intents import OrderType, PlaceOrderIntent, RiskDecision
from polyloly.domain.money import SCALE
from polyloly.execution.engine import ExecutionConfig, ExecutionEngine
from polyloly.execution.events import KillSwitchFired, KillSwitchResumed
from polyloly.execution.lifecycle import OrderState
from polyloly.execution.order_manager import OrderManagerConfig
from polyloly.execution.reconciliation import ReconcileConfig
from polyloly.execution.retry import RetryPolicy
from polyloly.runtime.clock import NS_PER_S, LiveClock
from polyloly.runtime.kernel import Kernel
from polyloly.runtime.sleep import asyncio_sleep
from polyloly.sim.exchange import ExchangeSimulator, SimConfig, SimMarket
from polyloly.testing.fakes import RecordingAlerts

pytestmark = pytest.mark.asyncio

KEY = "0x" + "4d" * 32
WINDOW_S = 3.0
INTERVAL_S = 0.5
FAST = RetryPolicy(base_delay_ms=5, max_delay_ms=50, max_attempts=6)
HEARTBEATS = "/v1/heartbeats"


@dataclass
class Bot:
    sim: ExchangeSimulator
    kernel: Kernel
    sink: RecordingSink
    adapter: PolymarketAdapter
    engine: ExecutionEngine
    market: str
    yes: str
    n: int = 0

    @property
    def heartbeat(self) -> HeartbeatLoop:
        assert self.adapter.heartbeat is not None
        return self.adapter.heartbeat

    async def until(self, cond: Callable[[], bool], what: str, limit_s: float = 15.0) -> None:
        """Wait for what the sockets make true (no fixed sleeps)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        while not cond():
            if loop.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.01)
        await self.engine.idle()

    async def place(self, price: int) -> tuple[PlaceOrderIntent, RiskDecision]:
        self.n += 1
        now = self.kernel.now_ns()
        size = 20 * SCALE
        intent = PlaceOrderIntent(
            ts_event=now,
            ts_init=now,
            intent_id=f"hb:{self.n}",
            strategy="t",
            market=self.market,
            token_id=self.yes,
            side=Side.BUY,
            price=price,
            size=size,
            order_type=OrderType.GTC,
            notional=size * price // SCALE,
        )
        self.kernel.publish(intent)
        await self.engine.idle()
        decision = [d for d in self.sink.of(RiskDecision) if d.intent_id == intent.intent_id][-1]
        return intent, decision

    def venue_status(self, intent: PlaceOrderIntent) -> str:
        record = self.engine.state.order_for_client(intent.intent_id)
        assert record is not None
        venue = self.sim.order(record.order_hash)
        assert venue is not None
        return venue.status

    def heartbeat_states(self) -> list[FeedState]:
        return [
            e.state
            for e in self.sink.of(FeedStatus)
            if isinstance(e, FeedStatus) and e.source == HEARTBEAT_SOURCE
        ]


@pytest_asyncio.fixture
async def bot() -> AsyncIterator[Bot]:
    sim = ExchangeSimulator(
        SimConfig(
            seed=13,
            heartbeat_timeout_s=WINDOW_S,
            trade_mined_delay_ms=20,
            trade_confirmed_delay_ms=40,
            tick_interval_ms=5,
        )
    )
    listing = sim.add_market(
        SimMarket(question="LoL: T1 vs Gen.G - Game 1 Winner", outcomes=("T1", "Gen.G"))
    )
    sim.faults.hang_s = 1.0
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
        heartbeat_interval_s=INTERVAL_S,
        heartbeat_attempt_timeout_s=0.5,
        heartbeat_window_s=WINDOW_S,
    )
    adapter = await create_adapter(config, kernel.publish, clock)
    ports = execution_ports(adapter, clock, tick_of=lambda _t: 10_000, alerts=RecordingAlerts())
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
    sim.place_resting(no, "SELL", 650_000, 500 * SCALE)
    adapter.start()
    await adapter.market_ws.subscribe([yes, no])
    b = Bot(sim, kernel, sink, adapter, engine, listing.condition_id, yes)
    await b.until(lambda: adapter.market_ws.in_sync(yes), "books")
    user = adapter.user_ws
    await b.until(lambda: user is not None and user.socket is not None, "the user channel")
    await b.until(lambda: b.heartbeat.stats.ok >= 1, "the chain")
    engine.start()
    await b.until(lambda: engine.reconciler.last_ok is True, "start-up reconciliation")
    try:
        yield b
    finally:
        await engine.stop()
        await sim.stop()
        await adapter.stop()


async def test_lost_beats_are_recovered_without_a_kill(bot: Bot) -> None:
    intent, decision = await bot.place(400_000)
    assert decision.approved
    faults = bot.sim.faults
    bursts: list[Callable[[], object]] = [  # each well inside the window
        lambda: (
            faults.http_errors(500, 1, HEARTBEATS),
            faults.http_errors(429, 1, HEARTBEATS),
            faults.http_timeouts(1, HEARTBEATS),
        ),
        lambda: (faults.lose_next_heartbeat_reply(2), faults.heartbeat_mismatch(1)),
    ]
    for arm in bursts:
        arm()
        ok_before = bot.heartbeat.stats.ok

        def recovered(ok_before: int = ok_before) -> bool:
            armed = faults.state()
            left = armed["http"] or armed["lose_heartbeat_replies"] or armed["heartbeat_mismatches"]
            return not left and bot.heartbeat.stats.ok >= ok_before + 2

        await bot.until(recovered, "the faults met and the chain beating")
    assert bot.sink.of(KillSwitchFired) == []
    assert bot.sim.venue.heartbeats.counts["expired"] == 0
    assert bot.venue_status(intent) == "LIVE"
    record = bot.engine.state.order_for_client(intent.intent_id)
    assert record is not None
    assert record.state is OrderState.LIVE
    assert bot.heartbeat_states() == [FeedState.OK]
    assert bot.heartbeat.stats.retried >= 5
    assert bot.heartbeat.stats.id_adopted >= 1


async def test_a_missed_window_kills_then_the_heal_clears_it_without_a_restart(bot: Bot) -> None:
    # A position (bought from the resting ask), so the switch has something to protect even
    # once the exchange has cancelled the resting order; and a resting order.
    _, decision = await bot.place(450_000)
    assert decision.approved
    await bot.until(lambda: bot.engine.state.position(bot.yes).expected > 0, "the fill")
    intent, decision = await bot.place(400_000)
    assert decision.approved
    armed_ns = bot.kernel.now_ns()
    bot.sim.faults.http_errors(503, 100_000, HEARTBEATS)  # no beat reaches the venue
    await bot.until(lambda: bool(bot.sink.of(KillSwitchFired)), "the kill switch")
    fired = bot.sink.of(KillSwitchFired)
    assert [f.condition for f in fired] == ["exchange_feed"]
    # Only once the window was really missed: never less than a window after the last
    # valid beat, which went out at most one interval before the faults were armed.
    assert fired[0].ts_init - armed_ns >= int((WINDOW_S - INTERVAL_S) * NS_PER_S)
    await bot.until(lambda: bot.sim.venue.heartbeats.counts["expired"] == 1, "venue expiry")
    assert bot.venue_status(intent) == "CANCELED"  # the exchange cancelled the resting order
    _, refused = await bot.place(390_000)
    assert not refused.approved
    assert "halted" in refused.reason

    bot.sim.faults.clear()  # the network is back
    await bot.until(lambda: bool(bot.sink.of(KillSwitchResumed)), "the switch clearing")
    resumed = bot.sink.of(KillSwitchResumed)
    assert resumed[0].reason.startswith("auto: ")
    assert bot.heartbeat_states() == [FeedState.OK, FeedState.DOWN, FeedState.OK]
    assert bot.heartbeat.stats.window_missed == 1
    assert bot.heartbeat.stats.chains_started == 2
    record = bot.engine.state.order_for_client(intent.intent_id)
    assert record is not None
    assert not record.is_open  # the ledger agrees: the venue cancelled it

    again, decision = await bot.place(380_000)  # trading resumes on the same process
    assert decision.approved
    ok = bot.heartbeat.stats.ok
    await bot.until(lambda: bot.heartbeat.stats.ok >= ok + int(WINDOW_S / INTERVAL_S), "beats")
    assert bot.venue_status(again) == "LIVE"  # the new chain protects it, nothing expires
    assert bot.sim.venue.heartbeats.counts["expired"] == 1
