"""A node starts through a venue's bad moment: every start-up read is retried, none is fatal.

A soak against the simulators once saw one restart in five fail (exit 1): the API key
derivation and the Gamma discovery were not retried, and a start-up reconciliation that
could not read the venue was never asked again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio

from polyloly.adapters.esports import load_esports_settings
from polyloly.bot.app import TradingNode
from polyloly.bot.config_loader import load_settings
from polyloly.bot.node_options import NodeMode, NodeOptions
from polyloly.sim.exchange import ExchangeSimulator, SimConfig
from polyloly.sim.exchange.scenarios import bo3_markets

KEY = "0x" + "3b" * 32  # a throwaway test key for the local exchange
pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[ExchangeSimulator]:
    exchange = ExchangeSimulator(SimConfig(seed=5))
    for spec in bo3_markets(
        game="lol", title="LoL", team_a="T1", team_b="Gen.G", league="LCK",
        event_slug="lol-t1-geng-restart", start="2026-11-25T10:00:00Z", end="2026-11-25T16:00:00Z",
    ):  # fmt: skip
        exchange.add_market(replace(spec, tick=10_000))
    await exchange.start()
    yield exchange
    await exchange.stop()


def _node(sim: ExchangeSimulator, tmp: Path, reconcile_timeout_s: float = 30.0) -> TradingNode:
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
            "storage.event_log_dir": str(tmp / "events"),
            "storage.database_url": f"sqlite+aiosqlite:///{tmp / 'db.sqlite'}",
            "metrics.enabled": False,
            "control.enabled": False,
        },
    )
    options = NodeOptions(
        mode=NodeMode.LIVE,
        event_log_dir=tmp / "events",
        esports=load_esports_settings({"providers": {}}),
        reconcile_timeout_s=reconcile_timeout_s,
    )
    return TradingNode(settings, options)


@pytest.mark.parametrize("status", [500, 425])  # each status's class: tests/adapters/polymarket
async def test_a_restart_starts_through_transient_failures(
    sim: ExchangeSimulator, tmp_path: Path, status: int
) -> None:
    first = _node(sim, tmp_path)
    await first.start()
    await first.stop()
    # The restart meets a venue having a bad moment on every start-up read.
    for path in ("/auth", "/gamma", "/data/orders", "/data/trades", "/balance-allowance"):
        sim.faults.http_errors(status, 2, path_prefix=path)
    sim.faults.http_errors(status, 4, path_prefix="/data/trades")  # past one pass's retries
    again = _node(sim, tmp_path)
    try:
        await again.start()
        assert again.engine.reconciler.last_ok is True
        assert len(again.discovered) == 4
    finally:
        await again.stop()
    assert sim.faults.state()["http"] == []  # every injected failure was met and retried


async def test_a_start_outlasts_a_venue_that_fails_reads_past_the_reconcile_period(
    sim: ExchangeSimulator, tmp_path: Path
) -> None:
    """The soak once saw a restart exit 3 while hung reads at the venue outlasted the
    reconcile period: nothing may be traded before a pass completes, but waiting is no reason
    to exit. The node keeps trying, says so each period, and starts when the venue answers."""
    first = _node(sim, tmp_path)
    await first.start()
    await first.stop()
    sim.faults.http_errors(500, 12, path_prefix="/data/trades")  # several passes' retries
    again = _node(sim, tmp_path, reconcile_timeout_s=0.5)
    try:
        await again.start()
        assert again.engine.reconciler.last_ok is True
    finally:
        await again.stop()
    assert sim.faults.state()["http"] == []
