"""The SQL projection: rebuilt from the log = applied incrementally, SQLite = PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from tests.conftest import RecordingSink

from polyloly.domain.events import BookSnapshot, Event, Side, TimerTick
from polyloly.domain.intents import OrderType, PlaceOrderIntent
from polyloly.domain.money import SCALE
from polyloly.execution.engine import ExecutionEngine, ExecutionPorts
from polyloly.execution.pnl import NS_PER_DAY
from polyloly.execution.ports import TradeStatus
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.kernel import Kernel
from polyloly.storage.db import Database
from polyloly.storage.projection import Projection
from polyloly.testing.fakes import FakeSigner, FakeVenue, RecordingAlerts, VirtualSleep

PG_ENV = "POLYLOLY_TEST_DATABASE_URL"
TABLES = ("orders", "trades", "positions", "daily_pnl", "projection_state")
M, YES, NO = "0xm", "11", "22"


async def _scenario() -> list[Event]:
    """A two-day trading log: fills, a failed trade, a cancel, fees, a day roll."""
    clock = VirtualClock(20_000 * NS_PER_DAY + 3_600 * NS_PER_S)
    sink = RecordingSink()
    kernel = Kernel(clock, sink)
    venue = FakeVenue({M: (YES, NO)}, now_ns=clock.now_ns)
    venue.publish = kernel.publish
    ports = ExecutionPorts(
        signer=FakeSigner(), venue=venue, account=venue, alerts=RecordingAlerts(), cancel_all=venue
    )
    engine = ExecutionEngine(kernel, ports, sleep=VirtualSleep(clock))
    engine.attach()
    seq = 0

    def tick() -> None:
        now = clock.now_ns()
        kernel.publish(TimerTick(ts_event=now, ts_init=now))
        for token, bid, ask in ((YES, 400_000, 420_000), (NO, 580_000, 600_000)):
            kernel.publish(
                BookSnapshot(
                    ts_event=now,
                    ts_init=now,
                    market=M,
                    token_id=token,
                    bids=((bid, 500 * SCALE),),
                    asks=((ask, 500 * SCALE),),
                    tick=10_000,
                )
            )

    async def order(token: str, side: Side, price: int, size: int) -> str:
        nonlocal seq
        seq += 1
        now = clock.now_ns()
        intent = PlaceOrderIntent(
            ts_event=now,
            ts_init=now,
            intent_id=f"p:{seq}",
            strategy="s",
            market=M,
            token_id=token,
            side=side,
            price=price,
            size=size,
            order_type=OrderType.GTC,
            notional=size * price // SCALE,
        )
        kernel.publish(intent)
        await engine.idle()
        record = engine.state.order_for_client(intent.intent_id)
        assert record is not None
        return str(record.order_hash)

    tick()
    engine.start()
    await engine.idle()
    a = await order(YES, Side.BUY, 400_000, 50 * SCALE)
    b = await order(NO, Side.BUY, 580_000, 40 * SCALE)
    c = await order(YES, Side.BUY, 390_000, 20 * SCALE)
    venue.fill(a, 30 * SCALE, taker=True, fee_rate_bps=300)
    t = venue.fill(b, 40 * SCALE)
    venue.fill(a, 20 * SCALE)
    venue.settle(t, TradeStatus.FAILED)
    await venue.cancel([c])
    venue.settle_all(TradeStatus.CONFIRMED)
    await engine.idle()
    clock.advance_ns(NS_PER_DAY)
    tick()
    d = await order(YES, Side.SELL, 420_000, 25 * SCALE)
    venue.fill(d, 25 * SCALE, price=430_000)
    venue.settle_all(TradeStatus.MINED)
    await engine.idle()
    return sink.events


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'projection.db'}")
    else:
        url = os.environ.get(PG_ENV)
        if not url:
            pytest.skip(f"{PG_ENV} is not set (PostgreSQL projection tests need a server)")
        db = Database(url, prefix=f"t{uuid.uuid4().hex[:10]}_")
    await db.migrate()
    try:
        yield db
    finally:
        await db.drop()
        await db.close()


async def _tables(projection: Projection) -> dict[str, list[tuple[Any, ...]]]:
    return {name: await projection.rows(name) for name in TABLES}


@pytest.mark.asyncio
async def test_rebuild_equals_incremental(database: Database) -> None:
    events = await _scenario()
    incremental = Projection(database)
    for i in range(0, len(events), 7):
        await incremental.apply(events[i : i + 7])
    first = await _tables(incremental)
    rebuilt = Projection(database)
    assert await rebuilt.rebuild(events) == incremental.applied
    assert await _tables(rebuilt) == first
    assert first["orders"]
    assert first["trades"]
    assert first["positions"]
    states = {row[9] for row in first["orders"]}
    assert states == {"MATCHED", "CANCELED"}
    days = first["daily_pnl"]
    assert len(days) == 2
    assert days[0][3] > 0  # fees paid on day one
    # Day two realizes 25 × 0.43 − 25/50 of the cost basis (20 + a 0.216 taker fee).
    assert days[1][2] == 10_750_000 - 10_108_000


@pytest.mark.asyncio
async def test_projection_matches_the_live_ledger(database: Database) -> None:
    events = await _scenario()
    projection = Projection(database)
    await projection.rebuild(events)
    positions = {row[0]: row for row in await projection.rows("positions")}
    state = projection.state
    assert positions[YES][2:4] == (state.position(YES).confirmed, state.position(YES).pending)
    assert positions[NO][2] == 0  # the NO trade failed


@pytest.mark.asyncio
@pytest.mark.postgres
async def test_sqlite_and_postgresql_agree(tmp_path: Path) -> None:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set (PostgreSQL projection tests need a server)")
    events = await _scenario()
    lite = Database(f"sqlite:///{tmp_path / 'a.db'}")
    pg = Database(url, prefix=f"t{uuid.uuid4().hex[:10]}_")
    try:
        results = []
        for db in (lite, pg):
            await db.migrate()
            projection = Projection(db)
            await projection.rebuild(events)
            results.append(await _tables(projection))
        assert results[0] == results[1]
    finally:
        for db in (lite, pg):
            await db.drop()
            await db.close()
