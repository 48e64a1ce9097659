"""The report read from a real run's event log agrees with the execution ledger."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.backtest.report_log import START_NS

from polyloly.backtest.plots import render_report
from polyloly.backtest.report import report_from_log
from polyloly.domain.events import BookSnapshot, MarketResolved, Side
from polyloly.domain.intents import OrderType, PlaceOrderIntent, RiskDecision
from polyloly.domain.money import SCALE
from polyloly.execution.engine import ExecutionEngine, ExecutionPorts
from polyloly.execution.ports import TradeStatus
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.kernel import Kernel
from polyloly.storage.event_log import EventLogReader, EventLogWriter
from polyloly.testing.fakes import FakeSigner, FakeVenue, RecordingAlerts, VirtualSleep

MARKET, YES, NO = "0xmarket", "111", "222"


@pytest.mark.asyncio
async def test_report_pnl_matches_the_execution_ledger(tmp_path: Path) -> None:
    clock = VirtualClock(START_NS)
    writer = EventLogWriter(tmp_path / "events")
    kernel = Kernel(clock, writer)
    venue = FakeVenue({MARKET: (YES, NO)}, collateral=1_000 * SCALE, now_ns=clock.now_ns)
    venue.publish = kernel.publish
    ports = ExecutionPorts(
        signer=FakeSigner(),
        venue=venue,
        account=venue,
        alerts=RecordingAlerts(),
        cancel_all=venue,
        merger=venue,
    )
    engine = ExecutionEngine(kernel, ports, sleep=VirtualSleep(clock))
    engine.attach()
    engine.start()
    await engine.idle()
    start_equity = engine.state.equity()

    for token, bid, ask in ((YES, 600_000, 620_000), (NO, 380_000, 400_000)):
        now = clock.now_ns()
        kernel.publish(
            BookSnapshot(
                ts_event=now,
                ts_init=now,
                market=MARKET,
                token_id=token,
                bids=((bid, 1_000 * SCALE),),
                asks=((ask, 1_000 * SCALE),),
                tick=10_000,
            )
        )
    size = 50 * SCALE
    now = clock.now_ns()
    intent = PlaceOrderIntent(
        ts_event=now,
        ts_init=now,
        intent_id="temporal_arb:0xmarket:111:1",
        strategy="temporal_arb",
        market=MARKET,
        token_id=YES,
        side=Side.BUY,
        price=620_000,
        size=size,
        order_type=OrderType.GTC,
        notional=size * 620_000 // SCALE,
        match_id="lol:m1",
    )
    kernel.publish(intent)
    await engine.idle()
    record = engine.state.order_for_client(intent.intent_id)
    decisions = [e for e in writer_events(tmp_path, writer) if isinstance(e, RiskDecision)]
    assert record is not None, decisions
    clock.advance_ns(3 * NS_PER_S)
    venue.fill(record.order_hash, size, price=620_000, taker=True, fee_rate_bps=300)
    venue.settle_all(TradeStatus.CONFIRMED)
    await engine.idle()
    clock.advance_ns(60 * NS_PER_S)
    now = clock.now_ns()
    kernel.publish(MarketResolved(ts_event=now, ts_init=now, market=MARKET, winning_token_id=YES))
    await engine.stop()
    writer.close()

    data = report_from_log([tmp_path / "events"])
    assert data.summary.fills == 1
    assert data.summary.orders_submitted == 1
    assert data.summary.pnl == engine.state.equity() - start_equity
    assert data.summary.pnl > 0
    assert [r.name for r in data.per_strategy] == ["temporal_arb"]
    assert data.fills[0].status == "CONFIRMED"
    assert data.edges[0].delay_ns == 3 * NS_PER_S
    assert 'id="plot-equity"' in render_report(data)


def writer_events(tmp_path: Path, writer: EventLogWriter) -> list[object]:
    writer.flush()
    return list(EventLogReader([tmp_path / "events"]))
