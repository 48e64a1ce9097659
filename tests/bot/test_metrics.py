"""Prometheus metrics: events move the instruments, and /metrics serves them over loopback."""

from __future__ import annotations

import aiohttp
import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from polyloly.bot.metrics import METRIC_NAMES, Metrics, MetricsServer
from polyloly.domain.events import (
    BookSnapshot,
    Event,
    FeedState,
    FeedStatus,
    MatchEvent,
    MatchEventKind,
    Side,
    TruthFinal,
)
from polyloly.domain.intents import OrderType, PlaceOrderIntent, RiskDecision
from polyloly.domain.money import SCALE
from polyloly.execution.events import (
    ExecutionAnomaly,
    KillSwitchFired,
    OrderAccepted,
    OrderRejected,
    OrderSubmitted,
    PositionChanged,
    TradeUpdate,
)
from polyloly.execution.ports import (
    OrderSpec,
    SignedOrder,
    TradeReport,
    TradeStatus,
    VenueOrderStatus,
)
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S, VirtualClock
from polyloly.runtime.kernel import Kernel

START = 1_800_000_000 * NS_PER_S
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class FakeLedger:
    """A PnlSource."""

    def equity(self) -> int:
        return 1_234_500_000

    def daily_pnl(self) -> int:
        return -12_500_000


class VenueTrade(Event, frozen=True, tag="test_venue_trade"):
    """An adapter's own trade event (not registered: never logged)."""

    report: TradeReport


def _samples(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _signed(order_hash: str, intent_id: str) -> SignedOrder:
    spec = OrderSpec(
        client_id=intent_id,
        market="0xm",
        token_id="111",
        side=Side.BUY,
        price=620_000,
        size=50 * SCALE,
        order_type=OrderType.FAK,
        salt=1,
        timestamp_ms=START // NS_PER_MS,
    )
    return SignedOrder(order_hash=order_hash, spec=spec)


def _report(trade_id: str, order_hash: str, status: TradeStatus) -> TradeReport:
    return TradeReport(
        trade_id=trade_id,
        market="0xm",
        asset_id="111",
        side=Side.BUY,
        price=620_000,
        size=50 * SCALE,
        status=status,
        taker_order_id=order_hash,
    )


def feed_events(clock: VirtualClock, kernel: Kernel) -> None:
    """One pass of a trading day through the kernel."""

    def now() -> int:
        return clock.now_ns()

    kernel.publish(
        BookSnapshot(
            ts_event=now() - 20 * NS_PER_MS,
            ts_init=now(),
            market="0xm",
            token_id="111",
            bids=((600_000, SCALE),),
            asks=((620_000, SCALE),),
        )
    )
    kernel.publish(
        MatchEvent(
            ts_event=now() - 300 * NS_PER_MS,
            ts_init=now(),
            source="grid",
            match_id="m1",
            provider_match_id="g1",
            kind=MatchEventKind.GAME_ENDED,
            team_a="T1",
            team_b="Gen.G",
            winner="T1",
        )
    )
    kernel.publish(FeedStatus(ts_event=now(), ts_init=now(), source="grid", state=FeedState.STALE))
    kernel.publish(
        TruthFinal(
            ts_event=now(),
            ts_init=now(),
            match_id="m1",
            winner="T1",
            score_a=1,
            score_b=0,
            team_a="T1",
            team_b="Gen.G",
            confidence=9_800,
        )
    )
    kernel.publish(
        PlaceOrderIntent(
            ts_event=now(),
            ts_init=now(),
            intent_id="temporal_arb:0xm:111:1",
            strategy="temporal_arb",
            market="0xm",
            token_id="111",
            side=Side.BUY,
            price=950_000,
            size=50 * SCALE,
            order_type=OrderType.FAK,
            notional=31 * SCALE,
        )
    )
    kernel.publish(
        RiskDecision(
            ts_event=now(),
            ts_init=now(),
            intent_id="temporal_arb:0xm:111:1",
            approved=True,
            reason="ok",
        )
    )
    for order_hash, intent_id in (
        ("0xa", "temporal_arb:0xm:111:1"),
        ("0xb", "temporal_arb:0xm:111:2"),
    ):
        kernel.publish(
            OrderSubmitted(
                ts_event=now(),
                ts_init=now(),
                strategy="temporal_arb",
                order=_signed(order_hash, intent_id),
            )
        )
    clock.advance_ns(50 * NS_PER_MS)
    kernel.publish(
        OrderAccepted(
            ts_event=now(),
            ts_init=now(),
            client_id="c",
            order_hash="0xa",
            status=VenueOrderStatus.DELAYED,
        )
    )
    kernel.publish(
        OrderRejected(
            ts_event=now(),
            ts_init=now(),
            client_id="c2",
            order_hash="0xb",
            reason="no",
            code="no_balance",
        )
    )
    clock.advance_ns(3 * NS_PER_S)
    kernel.publish(
        TradeUpdate(ts_event=now(), ts_init=now(), report=_report("t1", "0xa", TradeStatus.MATCHED))
    )
    kernel.publish(
        TradeUpdate(ts_event=now(), ts_init=now(), report=_report("t1", "0xa", TradeStatus.MINED))
    )
    kernel.publish(
        PositionChanged(
            ts_event=now(),
            ts_init=now(),
            market="0xm",
            token_id="111",
            confirmed=0,
            pending=50 * SCALE,
            cost=31_353_400,
            realized=0,
        )
    )
    kernel.publish(
        ExecutionAnomaly(
            ts_event=now(), ts_init=now(), kind="unknown_order", subject="0xz", detail="?"
        )
    )
    kernel.publish(
        KillSwitchFired(ts_event=now(), ts_init=now(), condition="daily_loss", reason="-250")
    )


@pytest.mark.asyncio
async def test_scrape_over_loopback_after_feeding_events() -> None:
    clock = VirtualClock(START)
    kernel = Kernel(clock)
    metrics = Metrics(clock)
    metrics.attach(kernel)
    queue = [1, 2, 3]
    metrics.watch_queue("alerts", lambda: len(queue))
    metrics.watch_feed("grid", lambda: {"malformed": 2, "reconnects": 1})
    metrics.watch_pnl(FakeLedger())
    metrics.malformed_frame("polymarket")
    feed_events(clock, kernel)
    clock.advance_ns(2 * NS_PER_S)

    server = MetricsServer(metrics, "127.0.0.1", 0)
    await server.start()
    try:
        assert server.port != 0
        async with aiohttp.ClientSession() as session, session.get(server.url) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            text = await response.text()
        async with aiohttp.ClientSession() as session:
            health = await session.get(f"http://127.0.0.1:{server.port}/healthz")
            assert health.status == 200
    finally:
        await server.stop()

    s = _samples(text)
    assert s[("polyloly_feed_messages_total", (("feed", "polymarket"),))] == 1
    assert s[("polyloly_feed_messages_total", (("feed", "grid"),))] == 1
    assert s[("polyloly_feed_messages_total", (("feed", "polymarket_user"),))] == 2
    assert s[("polyloly_malformed_frames_total", (("feed", "grid"),))] == 2
    assert s[("polyloly_malformed_frames_total", (("feed", "polymarket"),))] == 1
    assert s[("polyloly_reconnects_total", (("feed", "grid"),))] == 1
    assert s[("polyloly_book_latency_seconds_count", (("feed", "polymarket"),))] == 1
    assert s[("polyloly_book_latency_seconds_sum", (("feed", "polymarket"),))] == pytest.approx(
        0.02
    )
    assert s[("polyloly_feed_latency_seconds_sum", (("feed", "grid"),))] == pytest.approx(0.3)
    assert s[("polyloly_decision_latency_seconds_count", (("strategy", "temporal_arb"),))] == 1
    assert s[("polyloly_order_latency_seconds_sum", (("outcome", "accepted"),))] == pytest.approx(
        0.05
    )
    assert s[("polyloly_order_latency_seconds_count", (("outcome", "rejected"),))] == 1
    assert s[("polyloly_intents_total", (("strategy", "temporal_arb"),))] == 1
    assert s[("polyloly_risk_decisions_total", (("approved", "true"),))] == 1
    assert s[("polyloly_orders_placed_total", (("strategy", "temporal_arb"),))] == 2
    rejected = (("code", "no_balance"), ("strategy", "temporal_arb"))
    assert s[("polyloly_orders_rejected_total", rejected)] == 1
    assert (
        s[("polyloly_orders_filled_total", (("strategy", "temporal_arb"),))] == 1
    )  # once per fill
    assert s[("polyloly_trade_status_total", (("status", "MATCHED"),))] == 1
    assert s[("polyloly_trade_status_total", (("status", "MINED"),))] == 1
    assert s[("polyloly_exposure_usd", ())] == pytest.approx(31.3534)
    assert s[("polyloly_market_exposure_usd", (("market", "0xm"),))] == pytest.approx(31.3534)
    assert s[("polyloly_kill_switch", ())] == 1
    assert s[("polyloly_kill_switch_fired_total", (("condition", "daily_loss"),))] == 1
    assert s[("polyloly_execution_anomalies_total", (("kind", "unknown_order"),))] == 1
    assert s[("polyloly_truth_finals_total", ())] == 1
    assert s[("polyloly_feed_state", (("feed", "grid"), ("state", "stale")))] == 1
    assert s[("polyloly_feed_state", (("feed", "grid"), ("state", "ok")))] == 0
    assert s[("polyloly_feed_staleness_seconds", (("feed", "grid"),))] == pytest.approx(5.05)
    assert s[("polyloly_queue_depth", (("queue", "alerts"),))] == 3
    assert s[("polyloly_equity_usd", ())] == pytest.approx(1234.5)
    assert s[("polyloly_daily_pnl_usd", ())] == pytest.approx(-12.5)


def test_translated_venue_events_count_as_trades() -> None:
    clock = VirtualClock(START)
    kernel = Kernel(clock)
    metrics = Metrics(clock)

    def translate(event: Event) -> TradeUpdate | None:
        if isinstance(event, VenueTrade):
            return TradeUpdate(ts_event=event.ts_event, ts_init=event.ts_init, report=event.report)
        return None

    metrics.attach(kernel, translators={VenueTrade: translate})
    kernel.publish(
        VenueTrade(
            ts_event=START, ts_init=START, report=_report("t9", "0xq", TradeStatus.CONFIRMED)
        )
    )
    s = _samples(metrics.render().decode())
    assert s[("polyloly_trade_status_total", (("status", "CONFIRMED"),))] == 1


def test_resume_clears_the_kill_switch_and_alerts_are_counted() -> None:
    clock = VirtualClock(START)
    metrics = Metrics(clock)
    metrics.set_kill_switch(True)
    metrics.set_kill_switch(False)
    metrics.alert_outcome("sent")
    metrics.alert_outcome("failed")
    metrics.reconnect("polymarket")
    s = _samples(metrics.render().decode())
    assert s[("polyloly_kill_switch", ())] == 0
    assert s[("polyloly_alerts_total", (("outcome", "failed"),))] == 1
    assert s[("polyloly_reconnects_total", (("feed", "polymarket"),))] == 1


def test_every_exported_family_is_declared_and_the_global_registry_is_untouched() -> None:
    clock = VirtualClock(START)
    metrics = Metrics(clock)
    metrics.watch_pnl(FakeLedger())
    exported = set()
    for family in metrics.registry.collect():
        exported.add(f"{family.name}_total" if family.type == "counter" else family.name)
    assert exported == METRIC_NAMES
    Metrics(clock)  # a second instance does not collide: each has its own registry
    global_names = {f.name for f in prometheus_client.REGISTRY.collect()}
    assert not any(name.startswith("polyloly") for name in global_names)


def test_a_broken_watched_source_does_not_break_the_scrape() -> None:
    clock = VirtualClock(START)
    metrics = Metrics(clock)

    def broken() -> int:
        raise RuntimeError("queue gone")

    metrics.watch_queue("bad", broken)
    metrics.watch_queue("good", lambda: 4)
    s = _samples(metrics.render().decode())
    assert s[("polyloly_queue_depth", (("queue", "bad"),))] == 0
    assert s[("polyloly_queue_depth", (("queue", "good"),))] == 4
