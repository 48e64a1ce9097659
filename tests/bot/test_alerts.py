"""Alerts through apprise to a local HTTP sink: delivery, rules, redaction, failures counted."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from polyloly.bot.alerts import AlertRules, AppriseAlerts, DailySummary
from polyloly.bot.logging import register_secret
from polyloly.bot.settings import AlertsSettings
from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType
from polyloly.domain.money import SCALE
from polyloly.execution.events import (
    DayStarted,
    ExecutionAnomaly,
    KillSwitchFired,
    OrderSubmitted,
    OrderSubmitUnknown,
    TradeUpdate,
)
from polyloly.execution.ports import (
    Alert,
    AlertLevel,
    OrderSpec,
    SignedOrder,
    TradeReport,
    TradeStatus,
)
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.kernel import Kernel

START = 1_800_000_000 * NS_PER_S


@dataclass
class Sink:
    """A local HTTP endpoint that records what apprise's ``json://`` plugin posts."""

    port: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hooks/polyloly"

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append({"path": request.path, **json.loads(await request.text())})
        self.arrived.set()
        return web.Response(text="ok")

    def titles(self) -> list[str]:
        return [str(r["title"]) for r in self.received]


@pytest_asyncio.fixture
async def sink() -> AsyncIterator[Sink]:
    found = Sink()
    app = web.Application()
    app.router.add_post("/hooks/polyloly", found.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    found.port = int(runner.addresses[0][1])
    yield found
    await runner.cleanup()


def _closed_port_url() -> str:
    return "json://127.0.0.1:9/nothing-listens-here"  # discard port: connection refused


@pytest.mark.asyncio
async def test_a_kill_switch_alert_reaches_the_sink(sink: Sink) -> None:
    outcomes: list[str] = []
    alerts = AppriseAlerts([sink.url], on_outcome=outcomes.append)
    await alerts.kill_switch("daily_loss", "daily PnL -250 below -200", ts_ns=START)
    assert sink.received, "nothing arrived"
    (message,) = sink.received
    assert message["path"] == "/hooks/polyloly"
    assert message["title"] == "[polyloly] CRITICAL: kill switch: daily_loss"
    assert "daily PnL -250" in message["message"]
    assert message["type"] == "failure"
    assert outcomes == ["sent"]
    assert alerts.stats.sent == 1


@pytest.mark.asyncio
async def test_rules_on_a_kernel_alert_on_kill_switch_fills_errors_and_the_day(sink: Sink) -> None:
    clock = VirtualClock(START)
    kernel = Kernel(clock)
    alerts = AppriseAlerts([sink.url])
    alerts.start()
    rules = AlertRules(alerts, clock, kill_switch=True)
    rules.attach(kernel)
    now = START
    kernel.publish(DayStarted(ts_event=now, ts_init=now, day=20_833, equity=1_000 * SCALE))
    spec = OrderSpec(
        client_id="temporal_arb:0xm:111:1",
        market="0xm",
        token_id="111",
        side=Side.BUY,
        price=620_000,
        size=50 * SCALE,
        order_type=OrderType.FAK,
        salt=1,
        timestamp_ms=0,
    )
    signed = SignedOrder(order_hash="0xa", spec=spec)
    kernel.publish(OrderSubmitted(ts_event=now, ts_init=now, strategy="temporal_arb", order=signed))
    report = TradeReport(
        trade_id="t1",
        market="0xm",
        asset_id="111",
        side=Side.BUY,
        price=620_000,
        size=50 * SCALE,
        status=TradeStatus.MATCHED,
        taker_order_id="0xa",
        fee=353_400,
    )
    kernel.publish(TradeUpdate(ts_event=now, ts_init=now, report=report))
    kernel.publish(TradeUpdate(ts_event=now, ts_init=now, report=report))  # same fill again
    kernel.publish(
        KillSwitchFired(ts_event=now, ts_init=now, condition="manual_halt", reason="operator")
    )
    kernel.publish(
        OrderSubmitUnknown(
            ts_event=now, ts_init=now, client_id="c", order_hash="0xb", error="timeout", attempts=3
        )
    )
    kernel.publish(
        ExecutionAnomaly(ts_event=now, ts_init=now, kind="task_crashed", subject="x", detail="boom")
    )
    next_day = now + 86_400 * NS_PER_S
    kernel.publish(
        DayStarted(ts_event=next_day, ts_init=next_day, day=20_834, equity=1_010 * SCALE)
    )
    await alerts.drain()
    await alerts.aclose()
    titles = sink.titles()
    assert titles == [
        "[polyloly] INFO: fill (temporal_arb)",
        "[polyloly] CRITICAL: kill switch: manual_halt",
        "[polyloly] WARNING: execution error: OrderSubmitUnknown",
        "[polyloly] CRITICAL: execution anomaly: task_crashed",
        "[polyloly] INFO: daily summary (day 20833)",
    ]
    summary = sink.received[-1]["message"]
    assert "PnL 10.00 pUSD" in summary
    assert "1 fills" in summary
    assert "volume 31.00" in summary
    assert "kill switch fired 1x" in summary
    assert "2 execution errors" in summary
    assert "50.00 shares at 0.62" in sink.received[0]["message"]


@pytest.mark.asyncio
async def test_the_kill_switch_rule_is_off_by_default(sink: Sink) -> None:
    clock = VirtualClock(START)
    kernel = Kernel(clock)
    alerts = AppriseAlerts([sink.url])
    alerts.start()
    AlertRules(alerts, clock).attach(kernel)
    kernel.publish(KillSwitchFired(ts_event=START, ts_init=START, condition="risk", reason="r"))
    await alerts.drain()
    await alerts.aclose()
    assert sink.received == []  # the risk gate alerts through its AlertPort instead


@pytest.mark.asyncio
async def test_secrets_never_leave_the_process(sink: Sink) -> None:
    secret = "0x" + "ab" * 32  # shaped like a private key
    token = "tok-7f3a9c2e5d1b"  # a made-up secret, registered with the redactor
    register_secret(token)
    alerts = AppriseAlerts([sink.url])
    await alerts.error(f"signing failed with {token}", f"key={secret} Bearer abcdefghijkl")
    (message,) = sink.received
    text = json.dumps(message)
    assert token not in text
    assert secret not in text
    assert "abcdefghijkl" not in text
    assert "[redacted]" in text


@pytest.mark.asyncio
async def test_failures_are_counted_not_raised() -> None:
    outcomes: list[str] = []
    alerts = AppriseAlerts([_closed_port_url()], on_outcome=outcomes.append, timeout_s=10)
    await alerts.send(Alert(level=AlertLevel.WARNING, title="x", body="y"))
    assert outcomes == ["failed"]
    assert alerts.stats.failed == 1


@pytest.mark.asyncio
async def test_full_queue_drops_and_counts_and_levels_filter(sink: Sink) -> None:
    outcomes: list[str] = []
    alerts = AppriseAlerts(
        [sink.url], queue_size=2, on_outcome=outcomes.append, min_level=AlertLevel.WARNING
    )
    for i in range(3):  # the sender task is not started: the queue fills up
        alerts.notify(Alert(level=AlertLevel.CRITICAL, title=f"a{i}", body=""))
    assert outcomes == ["dropped"]
    assert alerts.queued == 2
    alerts.notify(Alert(level=AlertLevel.INFO, title="too low", body=""))
    alerts.start()
    await alerts.drain()
    await alerts.aclose()
    assert sink.titles() == ["[polyloly] CRITICAL: a0", "[polyloly] CRITICAL: a1"]
    assert alerts.stats.filtered == 0  # "too low" was dropped before it could be filtered
    await alerts.send(Alert(level=AlertLevel.INFO, title="info", body=""))
    assert alerts.stats.filtered == 1


@pytest.mark.asyncio
async def test_no_destination_means_nothing_is_sent() -> None:
    alerts = AppriseAlerts(["not a url"])
    assert alerts.invalid_urls == 1
    assert not alerts.enabled
    await alerts.send(Alert(level=AlertLevel.CRITICAL, title="x", body=""))
    assert alerts.stats.dropped == 1


def test_settings_build_every_destination() -> None:
    settings = AlertsSettings(
        urls=["json://127.0.0.1:9/a"],
        telegram_bot_token="123456:ABCDEF",
        telegram_chat_id="42",
    )
    alerts = AppriseAlerts.from_settings(settings)
    assert alerts.enabled
    assert alerts.invalid_urls == 0


def test_daily_summary_text() -> None:
    alert = DailySummary(day=3, fills=2, volume=10 * SCALE, fees=SCALE // 4, pnl=-SCALE).alert(7)
    assert alert.title == "daily summary (day 3)"
    assert alert.body.startswith("PnL -1.00 pUSD; 2 fills, volume 10.00 pUSD, fees 0.25 pUSD")
    assert alert.ts_ns == 7
