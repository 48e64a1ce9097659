"""The trading node against the local exchange simulator, over loopback.

Live mode signs with a test key through py-clob-client-v2; the control API, the kill-switch
alert, the metrics endpoint, paper mode and record mode (then a simulated backtest of the
recording) are each exercised on a running node.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiohttp import web
from rich.console import Console

from polyloly.adapters.esports import load_esports_settings
from polyloly.backtest.replay import replay_simulated
from polyloly.bot.app import TradingNode
from polyloly.bot.config_loader import load_settings
from polyloly.bot.control import ControlAuthError, ControlClient
from polyloly.bot.live_view import plain_line, render
from polyloly.bot.node_options import NodeMode, NodeOptions
from polyloly.bot.replay_core import core_factory
from polyloly.bot.settings import Settings
from polyloly.domain.events import BookSnapshot, Event, OperatorCommand, PriceChanges
from polyloly.domain.money import SCALE
from polyloly.execution.events import KillSwitchFired
from polyloly.node.session import MarketDiscovered, SessionStarted
from polyloly.runtime.errors import ConfigError
from polyloly.sim.exchange import ExchangeSimulator, SimConfig
from polyloly.sim.exchange.scenarios import bo3_markets
from polyloly.storage.event_log import EventLogReader

KEY = "0x" + "5a" * 32
TOKEN = "control-token-for-tests-0123"
pytestmark = pytest.mark.asyncio


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
        self.received.append(json.loads(await request.text()))
        self.arrived.set()
        return web.Response(text="ok")


@pytest_asyncio.fixture
async def sink() -> AsyncIterator[Sink]:
    found = Sink()
    app = web.Application()
    app.router.add_post("/hooks/polyloly", found.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    found.port = int(runner.addresses[0][1])
    yield found
    await runner.cleanup()


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[ExchangeSimulator]:
    exchange = ExchangeSimulator(
        SimConfig(seed=3, trade_mined_delay_ms=50, trade_confirmed_delay_ms=100)
    )
    for spec in bo3_markets(
        game="lol", title="LoL", team_a="T1", team_b="Gen.G", league="LCK",
        event_slug="lol-t1-geng-test", start="2026-11-25T10:00:00Z", end="2026-11-25T16:00:00Z",
    ):  # fmt: skip
        listing = exchange.add_market(replace(spec, tick=10_000))
        exchange.add_traders(listing.condition_id, refresh_ms=200)
    await exchange.start()
    yield exchange
    await exchange.stop()


def settings_for(
    sim: ExchangeSimulator, tmp: Path, *, key: str | None = KEY, **extra: Any
) -> Settings:
    overrides: dict[str, Any] = {
        "adapters.polymarket.host": sim.http_url,
        "adapters.polymarket.ws_market_url": sim.market_ws_url,
        "adapters.polymarket.ws_user_url": sim.user_ws_url,
        "adapters.polymarket.gamma_url": sim.gamma_url,
        "adapters.polymarket.private_key": key,
        "storage.event_log_dir": str(tmp / "events"),
        "storage.database_url": f"sqlite+aiosqlite:///{tmp / 'db.sqlite'}",
        **extra,
    }
    return load_settings(env="demo", environ={}, env_file=False, overrides=overrides)


def options(tmp: Path, mode: NodeMode = NodeMode.LIVE, **extra: Any) -> NodeOptions:
    return NodeOptions(
        mode=mode,
        event_log_dir=tmp / "events",
        tick_interval_s=0.2,
        metrics_port=0,
        control_port=0,
        control_token=TOKEN,
        esports=load_esports_settings({"providers": {}}),
        reconcile_timeout_s=10.0,
        **extra,
    )


async def until(cond: Callable[[], bool], limit_s: float = 10.0) -> None:
    """Poll a condition the sockets make true (no fixed sleeps)."""
    async with asyncio.timeout(limit_s):
        while True:
            if cond():
                return
            await asyncio.sleep(0.02)


def collect(node: TradingNode) -> list[Event]:
    assert node.kernel is not None
    seen: list[Event] = []
    node.kernel.subscribe_all(seen.append)
    return seen


async def test_control_api_drives_a_live_node_and_the_kill_switch_alerts(
    sim: ExchangeSimulator, sink: Sink, tmp_path: Path
) -> None:
    settings = settings_for(sim, tmp_path, **{"alerts.urls": [sink.url]})
    node = TradingNode(settings, options(tmp_path))
    await node.start()
    try:
        seen = collect(node)
        assert node.control is not None
        await until(lambda: node.control is not None and node.control.port != 0)
        client = ControlClient(node.control.url, TOKEN)
        status = await client.status()
        assert status["mode"] == "live"
        assert status["reconciled"] is True
        assert status["markets"] == 4
        for bad in ("", "not-the-right-token-at-all"):
            with pytest.raises(ControlAuthError):
                await ControlClient(node.control.url, bad).status()
        await client.halt("test halt")
        halted = await client.status()
        assert halted["halted"] == "manual_halt: manual halt (test halt)"
        assert halted["halt_reason"] == "manual halt (test halt)"  # the operator's words kept
        assert any(isinstance(e, KillSwitchFired) for e in seen)
        await asyncio.wait_for(sink.arrived.wait(), timeout=15)
        assert any("kill switch" in str(m.get("title", "")) for m in sink.received)
        await client.resume()
        assert (await client.status())["halted"] is None
        await client.cancel_all()
        commands = [e.command for e in seen if isinstance(e, OperatorCommand)]
        assert commands == ["halt", "resume", "cancel_all"]
    finally:
        await node.stop()


async def test_metrics_endpoint_and_live_view_of_a_running_node(
    sim: ExchangeSimulator, tmp_path: Path
) -> None:
    node = TradingNode(settings_for(sim, tmp_path), options(tmp_path))
    await node.start()
    try:
        assert node.metrics_server is not None
        await until(lambda: node.metrics_server is not None and node.metrics_server.port != 0)
        await until(lambda: node.core is not None and len(node.core.books) >= 8)

        async def scrape() -> str:
            async with httpx.AsyncClient() as http:
                assert node.metrics_server is not None
                return (await http.get(node.metrics_server.url)).text

        def messages(text: str) -> float:
            name = "polyloly_feed_messages_total"
            line = next(x for x in text.splitlines() if x.startswith(name))
            return float(line.rsplit(" ", 1)[1])

        # start() returns once reconciled, as the sockets open: the first frames follow
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        text = await scrape()
        while messages(text) == 0 and loop.time() < deadline:
            await asyncio.sleep(0.05)
            text = await scrape()
        assert messages(text) > 0
        assert "polyloly_equity_usd 10000" in text
        # the live view renders the same node
        console = Console(record=True, width=160)
        console.print(render(node, start_equity=10_000 * SCALE))
        view = console.export_text()
        assert "matches (truth engine)" in view
        assert "lol-t1-geng-test game 3" in view
        assert "equity 10000.00 pUSD" in plain_line(node, 10_000 * SCALE)
    finally:
        await node.stop()


async def test_live_mode_refuses_to_start_without_a_key(
    sim: ExchangeSimulator, tmp_path: Path
) -> None:
    node = TradingNode(settings_for(sim, tmp_path, key=None), options(tmp_path))
    with pytest.raises(ConfigError, match="private_key"):
        await node.start()
    await node.stop()


async def test_paper_node_mirrors_books_and_reconciles_with_its_paper_account(
    sim: ExchangeSimulator, tmp_path: Path
) -> None:
    node = TradingNode(
        settings_for(sim, tmp_path, key=None),
        options(tmp_path, NodeMode.PAPER, paper_collateral=500 * SCALE),
    )
    await node.start()
    try:
        assert gc.get_freeze_count() > 0  # the started node's long-lived heap is frozen
        status = node.status()
        assert status["mode"] == "paper"
        assert status["reconciled"] is True
        assert status["collateral"] == "500.00"
        assert node.paper is not None
        await until(lambda: node.core is not None and len(node.core.books) >= 8)
        # the market client, the strategies and the risk gate read one book set
        assert node.adapter is not None
        assert node.core is not None
        assert node.core.books is node.adapter.market_ws.books
        assert node.core.engine is not None
        assert node.core.engine.gate.books is node.core.books
        assert node.paper.books is node.core.books  # the paper venue fills against them too
    finally:
        await node.stop()
    assert gc.get_freeze_count() == 0


async def test_record_mode_logs_the_streams_and_a_simulated_backtest_replays_them(
    sim: ExchangeSimulator, tmp_path: Path
) -> None:
    node = TradingNode(
        settings_for(sim, tmp_path, key=None), options(tmp_path, NodeMode.RECORD, projection=False)
    )
    await node.start()
    try:
        seen = collect(node)
        await until(lambda: sum(isinstance(e, BookSnapshot | PriceChanges) for e in seen) >= 24)
    finally:
        await node.stop()
    assert node.core is None  # recording never trades
    events = list(EventLogReader([tmp_path / "events"]))
    assert isinstance(events[0], SessionStarted)
    assert events[0].mode == "record"
    assert sum(isinstance(e, MarketDiscovered) for e in events) == 4
    result = await replay_simulated([tmp_path / "events"], core_factory(), collateral=100 * SCALE)
    assert result.inputs == len(events)
    assert result.equity == 100 * SCALE  # the recorded session had both strategies' params


async def test_paper_node_runs_the_presigner_with_the_settings_ages(
    sim: ExchangeSimulator, tmp_path: Path
) -> None:
    settings = settings_for(
        sim,
        tmp_path,
        key=None,
        **{
            "strategies.temporal_arb.presign_refresh_s": 9,
            "strategies.temporal_arb.presign_max_age_s": 30,
        },
    )
    node = TradingNode(settings, replace(options(tmp_path, NodeMode.PAPER), tick_interval_s=None))
    assert node.tick_interval_s == settings.bot.tick_interval_s == 0.5  # demo.yaml
    await node.start()
    presigner = node.presigner
    try:
        assert presigner is not None
        assert presigner._task is not None  # started once the loop runs
        pool = node.engine.presign.config
        assert (pool.refresh_after_s, pool.max_age_s) == (9, 30)
        assert presigner.config == pool  # re-read after the session configured the core
        await presigner.idle()
        assert presigner.passes >= 1  # woken by the session and the start
    finally:
        await node.stop()
    assert presigner._task is None  # stopped with the node, before the engine


async def test_no_presigner_without_presigned_orders_or_in_record_mode(
    sim: ExchangeSimulator, tmp_path: Path
) -> None:
    off = settings_for(sim, tmp_path, key=None, **{"strategies.temporal_arb.presign_orders": False})
    node = TradingNode(off, options(tmp_path, NodeMode.PAPER, projection=False))
    await node.start()
    try:
        assert node.presigner is None
    finally:
        await node.stop()
    recording = TradingNode(
        settings_for(sim, tmp_path / "r", key=None),
        options(tmp_path / "r", NodeMode.RECORD, projection=False),
    )
    await recording.start()
    try:
        assert recording.presigner is None
        assert recording.tick_interval_s == 0.2  # the option wins over bot.tick_interval_s
    finally:
        await recording.stop()
