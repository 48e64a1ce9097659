"""A harness for execution tests: kernel + virtual clock + fake venue + engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from tests.conftest import RecordingSink

from polyloly.domain.events import BookSnapshot, Event, Side
from polyloly.domain.intents import OrderType, PlaceOrderIntent, RiskDecision
from polyloly.domain.money import SCALE
from polyloly.execution.engine import ExecutionConfig, ExecutionEngine, ExecutionPorts
from polyloly.execution.events import OrderSubmitted
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.kernel import Kernel
from polyloly.testing.fakes import FakeSigner, FakeVenue, RecordingAlerts, VirtualSleep

START_NS = 1_800_000_000 * NS_PER_S
MARKET = "0xmarket"
YES = "111"
NO = "222"


@dataclass
class Harness:
    clock: VirtualClock
    kernel: Kernel
    sink: RecordingSink
    venue: FakeVenue
    alerts: RecordingAlerts
    engine: ExecutionEngine
    sleep: VirtualSleep
    seq: int = 0
    intents: list[PlaceOrderIntent] = field(default_factory=list)

    @property
    def state(self) -> Any:
        return self.engine.state

    def now(self) -> int:
        return self.clock.now_ns()

    def publish(self, event: Event) -> None:
        self.kernel.publish(event)

    def books(self, yes_bid: int = 400_000, yes_ask: int = 420_000) -> None:
        """Publish in-sync books for both tokens (the NO book mirrors the YES one)."""
        now = self.now()
        size = 1_000 * SCALE
        for token, bid, ask in ((YES, yes_bid, yes_ask), (NO, SCALE - yes_ask, SCALE - yes_bid)):
            self.publish(
                BookSnapshot(
                    ts_event=now,
                    ts_init=now,
                    market=MARKET,
                    token_id=token,
                    bids=((bid, size),),
                    asks=((ask, size),),
                    tick=10_000,
                )
            )

    def intent(
        self,
        *,
        token: str = YES,
        side: Side = Side.BUY,
        price: int = 400_000,
        size: int = 20 * SCALE,
        order_type: OrderType = OrderType.GTC,
        intent_id: str | None = None,
    ) -> PlaceOrderIntent:
        self.seq += 1
        now = self.now()
        intent = PlaceOrderIntent(
            ts_event=now,
            ts_init=now,
            intent_id=intent_id or f"test:{self.seq}",
            strategy="test",
            market=MARKET,
            token_id=token,
            side=side,
            price=price,
            size=size,
            order_type=order_type,
            notional=size * price // SCALE,
        )
        self.intents.append(intent)
        return intent

    async def place(self, **kwargs: Any) -> str:
        """Publish an intent, let the venue calls finish, return the order hash."""
        intent = self.intent(**kwargs)
        self.publish(intent)
        await self.engine.idle()
        record = self.state.order_for_client(intent.intent_id)
        reasons = [d.reason for d in self.sink.of(RiskDecision) if d.intent_id == intent.intent_id]
        assert record is not None, f"intent was not turned into an order: {reasons}"
        return str(record.order_hash)

    async def settle(self) -> None:
        await self.engine.idle()

    def assert_positions_match_venue(self) -> None:
        venue = self.venue.balances_map
        assert self.state.collateral() == venue["collateral"]
        for token in {YES, NO} | set(self.state.positions):
            assert self.state.position(token).expected == venue.get(token, 0), token

    def submitted(self) -> list[OrderSubmitted]:
        return self.sink.of(OrderSubmitted)


async def restart(old: Harness, *, config: ExecutionConfig | None = None) -> Harness:
    """Kill ``old`` (its tasks die, unflushed events are lost) and start a new process.

    The new engine recovers from what ``old`` made durable, then reconciles with the same
    venue.
    """
    await old.engine.stop()
    old.venue.publish = None
    log = old.sink.durable_events()
    sink = RecordingSink()
    for event in log:
        sink.append(event)
    sink.flush()
    kernel = Kernel(old.clock, sink)
    old.venue.publish = kernel.publish
    engine = ExecutionEngine(kernel, old.engine.ports, sleep=old.sleep, config=config)
    engine.attach()
    applied = engine.recover(log)
    assert applied > 0
    h = Harness(old.clock, kernel, sink, old.venue, old.alerts, engine, old.sleep, seq=old.seq)
    h.intents = list(old.intents)
    h.books()
    engine.start()
    await engine.idle()
    return h


@pytest.fixture
def make_harness() -> Callable[..., Any]:
    async def build(
        *,
        config: ExecutionConfig | None = None,
        collateral: int = 1_000 * SCALE,
        reconcile: bool = True,
        books: bool = True,
    ) -> Harness:
        clock = VirtualClock(START_NS)
        sink = RecordingSink()
        kernel = Kernel(clock, sink)
        venue = FakeVenue({MARKET: (YES, NO)}, collateral=collateral, now_ns=clock.now_ns)
        venue.publish = kernel.publish
        alerts = RecordingAlerts()
        sleep = VirtualSleep(clock)
        ports = ExecutionPorts(
            signer=FakeSigner(),
            venue=venue,
            account=venue,
            alerts=alerts,
            cancel_all=venue,
            merger=venue,
        )
        engine = ExecutionEngine(kernel, ports, sleep=sleep, config=config)
        engine.attach()
        h = Harness(clock, kernel, sink, venue, alerts, engine, sleep)
        if books:
            h.books()
        if reconcile:
            engine.start()
            await engine.idle()
        return h

    return build
