"""Pre-signed orders against the local exchange simulator over loopback.

The real adapter signer (V2 EIP-712 signing, in a worker thread) signs both outcomes
ahead; a ``TruthFinal`` then costs exactly one HTTP request — ``POST /order``, on the
adapter's order connection — and no signature, and the simulator, which verifies the
signature and computes the order hash itself, accepts the order under the hash computed
locally.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest
import pytest_asyncio
from py_clob_client_v2.http_helpers import helpers as lib_http
from tests.conftest import RecordingSink

from polyloly.adapters.polymarket.config import PolymarketConfig, Secret, WalletConfig
from polyloly.adapters.polymarket.execution import attach_user_channel, execution_ports
from polyloly.adapters.polymarket.factory import PolymarketAdapter, create_adapter
from polyloly.domain.events import (
    BookSnapshot,
    Event,
    MarketResolved,
    PriceChanges,
    TruthAlert,
    TruthDelta,
    TruthFinal,
    TruthState,
)
from polyloly.domain.markets import MarketKind, MarketMapping, MarketRegistry
from polyloly.domain.money import SCALE
from polyloly.domain.orderbook import BookSet
from polyloly.execution.engine import ExecutionConfig, ExecutionEngine
from polyloly.execution.events import OrderAccepted, OrderRejected, OrderSubmitted
from polyloly.execution.order_manager import OrderManagerConfig
from polyloly.execution.presigner import Presigner
from polyloly.execution.reconciliation import ReconcileConfig
from polyloly.execution.retry import RetryPolicy
from polyloly.runtime.clock import LiveClock
from polyloly.runtime.kernel import Kernel
from polyloly.runtime.sleep import asyncio_sleep
from polyloly.sim.exchange import ExchangeSimulator, SimConfig, SimMarket
from polyloly.strategies.temporal_arb import TemporalArbEngine, TemporalArbParams
from polyloly.testing.fakes import RecordingAlerts

KEY = "0x" + "5d" * 32
FAST = RetryPolicy(base_delay_ms=5, max_delay_ms=50, max_attempts=6)


@dataclass
class Node:
    sim: ExchangeSimulator
    kernel: Kernel
    sink: RecordingSink
    adapter: PolymarketAdapter
    engine: ExecutionEngine
    presigner: Presigner
    market: str
    yes: str
    no: str
    requests: list[tuple[str, str]] = field(default_factory=list)

    async def until(self, cond: Callable[[], bool], limit_s: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        while not cond():
            if loop.time() > deadline:
                raise AssertionError("condition not reached")
            await asyncio.sleep(0.01)
        await self.engine.idle()

    def truth(self, event: Event) -> None:
        self.kernel.publish(event)

    def now(self) -> int:
        return self.kernel.now_ns()


async def _node(presign: bool) -> Node:
    sim = ExchangeSimulator(SimConfig(seed=5, tick_interval_ms=5))
    listing = sim.add_market(
        SimMarket(
            question="LoL: T1 vs Gen.G (BO3)",
            outcomes=("T1", "Gen.G"),
            tick=10_000,
            min_size=5 * SCALE,
            slug="lol-t1-gen",
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
    mapping = MarketMapping(
        match_id="m1", market_id=listing.condition_id, question="LoL: T1 vs Gen.G (BO3)",
        kind=MarketKind.MATCH, team_a="t1", team_b="geng", token_a=yes, token_b=no,
    )  # fmt: skip
    books = BookSet()
    temporal = TemporalArbEngine(
        TemporalArbParams(presign=presign, fixed_size_usdc=20 * SCALE),
        MarketRegistry([mapping]),
        books.get,
    )

    def on_book(e: Event) -> None:
        books.apply(e)
        for intent in temporal.on_event(e):
            kernel.emit(intent)

    def on_truth(e: Event) -> None:
        for intent in temporal.on_event(e):
            kernel.emit(intent)

    kernel.subscribe(BookSnapshot, on_book)
    kernel.subscribe(PriceChanges, on_book)
    for cls in (TruthDelta, TruthFinal, TruthAlert, MarketResolved):
        kernel.subscribe(cls, on_truth)
    presigner = Presigner(
        kernel, engine.presign, engine.signer, temporal.presign_targets, tick_of=lambda _t: 10_000
    )
    presigner.attach()
    sim.place_resting(yes, "SELL", 450_000, 500 * SCALE)
    sim.place_resting(yes, "BUY", 350_000, 500 * SCALE)
    sim.place_resting(no, "SELL", 650_000, 500 * SCALE)
    sim.place_resting(no, "BUY", 550_000, 500 * SCALE)
    adapter.start()
    await adapter.market_ws.subscribe([yes, no])
    node = Node(sim, kernel, sink, adapter, engine, presigner, listing.condition_id, yes, no)
    await node.until(lambda: all(adapter.market_ws.in_sync(t) for t in (yes, no)))
    await node.until(lambda: adapter.user_ws is not None and adapter.user_ws.socket is not None)
    engine.start()
    await node.until(lambda: engine.reconciler.last_ok is True)
    presigner.start()

    def on_request(request: httpx.Request) -> None:  # runs in the REST worker thread
        node.requests.append((request.method, request.url.path))

    lib_http._http_client.event_hooks = {"request": [on_request], "response": []}
    return node


@pytest_asyncio.fixture(params=[True, False], ids=["presigned", "on_demand"])
async def node(request: pytest.FixtureRequest) -> AsyncIterator[Node]:
    n = await _node(presign=bool(request.param))
    try:
        yield n
    finally:
        lib_http._http_client.event_hooks = {"request": [], "response": []}
        await n.presigner.stop()
        await n.engine.stop()
        await n.sim.stop()
        await n.adapter.stop()


@pytest.mark.asyncio
async def test_a_result_costs_one_post_and_the_venue_accepts_the_presigned_order(
    node: Node,
) -> None:
    now = node.now()
    node.truth(
        TruthDelta(
            ts_event=now, ts_init=now, match_id="m1", state=TruthState.LIVE,
            change="match_started", score_a=0, score_b=0, team_a="t1", team_b="geng",
            confidence=0,
        )
    )  # fmt: skip
    await node.presigner.idle()
    presign = node.engine.presign
    presigned = presign.get(node.yes)
    mode = node.engine.presign.active
    assert (presigned is not None) == mode
    assert (presign.get(node.no) is not None) == mode
    signatures = node.engine.signer.calls
    node.requests.clear()
    order_posts = node.adapter.rest.order_transport.requests
    now = node.now()
    node.truth(
        TruthFinal(
            ts_event=now, ts_init=now, match_id="m1", winner="T1", score_a=2, score_b=0,
            team_a="t1", team_b="geng", confidence=9_900, sources=("grid", "pandascore"),
        )
    )  # fmt: skip
    await node.until(lambda: bool(node.sink.of(OrderAccepted) or node.sink.of(OrderRejected)))
    assert node.sink.of(OrderRejected) == []
    [submitted] = node.sink.of(OrderSubmitted)
    [accepted] = node.sink.of(OrderAccepted)
    # the venue verified the signature and computed the same hash (the adapter halts if not)
    assert accepted.order_hash == submitted.order_hash
    record = node.sim.order(submitted.order_hash)
    assert record is not None
    assert record.id == submitted.order_hash
    assert accepted.status.value == "MATCHED"
    # One HTTP request, nothing else: on the order connection; none through the library.
    assert node.adapter.rest.order_transport.requests == order_posts + 1
    assert node.requests == []
    if mode:
        assert presigned is not None
        assert submitted.order_hash == presigned.order.order_hash
        assert node.engine.signer.calls == signatures  # and no signature
        assert presign.stats.hits == 1
    else:
        assert node.engine.signer.calls == signatures + 1  # signed on demand
