"""A live node's venue heartbeat: settings to the loop, outcomes to /metrics, and lost or
refused beats recovered on a running node without a kill (the local exchange, a 3 s window)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from polyloly.adapters.esports import load_esports_settings
from polyloly.bot.app import TradingNode
from polyloly.bot.config_loader import load_settings
from polyloly.bot.node_options import NodeMode, NodeOptions
from polyloly.execution.events import KillSwitchFired
from polyloly.runtime.clock import NS_PER_S
from polyloly.sim.exchange import ExchangeSimulator, SimConfig
from polyloly.sim.exchange.scenarios import bo3_markets

pytestmark = pytest.mark.asyncio

KEY = "0x" + "6b" * 32
WINDOW_S = 3.0


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[ExchangeSimulator]:
    exchange = ExchangeSimulator(SimConfig(seed=4, heartbeat_timeout_s=WINDOW_S))
    for spec in bo3_markets(
        game="lol", title="LoL", team_a="T1", team_b="Gen.G", league="LCK",
        event_slug="lol-t1-geng-hb", start="2026-11-25T10:00:00Z", end="2026-11-25T16:00:00Z",
    ):  # fmt: skip
        exchange.add_market(replace(spec, tick=10_000))
    await exchange.start()
    yield exchange
    await exchange.stop()


async def until(cond: Callable[[], bool], what: str, limit_s: float = 15.0) -> None:
    """Poll what the sockets make true (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_a_live_node_recovers_lost_and_refused_beats_and_exports_them(
    sim: ExchangeSimulator, tmp_path: Path
) -> None:
    settings = load_settings(
        env="demo",
        environ={},
        env_file=False,
        overrides={
            "adapters.polymarket.host": sim.http_url,
            "adapters.polymarket.ws_market_url": sim.market_ws_url,
            "adapters.polymarket.ws_user_url": sim.user_ws_url,
            "adapters.polymarket.gamma_url": sim.gamma_url,
            "adapters.polymarket.private_key": KEY,
            "adapters.polymarket.heartbeat_interval_s": 0.5,
            "adapters.polymarket.heartbeat_attempt_timeout_s": 0.5,
            "adapters.polymarket.heartbeat_window_s": WINDOW_S,
            "storage.event_log_dir": str(tmp_path / "events"),
            "storage.database_url": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        },
    )
    options = NodeOptions(
        mode=NodeMode.LIVE,
        event_log_dir=tmp_path / "events",
        tick_interval_s=0.2,
        metrics_port=0,
        esports=load_esports_settings({"providers": {}}),
        reconcile_timeout_s=10.0,
    )
    node = TradingNode(settings, options)
    await node.start()
    try:
        assert node.adapter is not None
        heartbeat = node.adapter.heartbeat
        assert heartbeat is not None
        assert heartbeat.timing.window_ns == int(WINDOW_S * NS_PER_S)
        assert node.kernel is not None
        fired: list[KillSwitchFired] = []
        node.kernel.subscribe(KillSwitchFired, fired.append)
        await until(lambda: heartbeat.stats.ok >= 1, "the chain")
        sim.faults.lose_next_heartbeat_reply(1)
        sim.faults.http_errors(503, 1, "/v1/heartbeats")
        await until(
            lambda: heartbeat.stats.id_adopted >= 1 and heartbeat.stats.retried >= 2,
            "a lost reply and a 503 recovered",
        )
        server = node.metrics_server
        assert server is not None
        await until(lambda: server.port != 0, "the metrics server")
        async with httpx.AsyncClient() as http:
            text = (await http.get(server.url)).text
        counted = {
            s.labels["outcome"]: s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "polyloly_heartbeats_total"
        }
        assert counted["ok"] >= 2
        assert counted["id_adopted"] >= 1
        assert counted["retried"] >= 2
        assert counted["window_missed"] == 0
        assert fired == []
        assert node.status()["feeds"]["polymarket.heartbeat"] == "ok"
        assert sim.venue.heartbeats.counts["expired"] == 0
    finally:
        await node.stop()
