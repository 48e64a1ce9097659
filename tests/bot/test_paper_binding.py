"""``polyloly paper`` against the two standalone simulators binds GRID and Liquipedia.

No provider id is written anywhere: the markets come from the exchange simulator's Gamma
(teams and start time only), and the node's binder finds each match in GRID's series
listing and in LPDB by date, then follows it. Each binding is a ``MatchBound`` in the log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path

import pytest
import pytest_asyncio
from tests.bot.cli_process import run_cli, sim_args

from polyloly.domain.events import MatchBound, MatchEvent
from polyloly.node.session import SessionStarted
from polyloly.runtime.clock import LiveClock
from polyloly.runtime.sleep import AsyncioSleeper
from polyloly.sim.esports import EsportsFeedServer, ScenarioRuntime
from polyloly.sim.exchange import ExchangeSimulator, SimConfig
from polyloly.sim.exchange.scenarios import esports_scenario
from polyloly.sim.scenarios import load_scenario
from polyloly.storage.event_log import EventLogReader


@pytest_asyncio.fixture
async def simulators() -> AsyncIterator[tuple[ExchangeSimulator, dict[str, str]]]:
    exchange = ExchangeSimulator(SimConfig(seed=5))
    esports_scenario(exchange)
    clock = LiveClock()
    runtimes = [
        ScenarioRuntime(load_scenario(name), clock, speed=Fraction(30))
        for name in ("lol_bo3_pause", "dota2_bo3_2_0")
    ]
    feeds = EsportsFeedServer(runtimes, clock=clock, sleeper=AsyncioSleeper())
    await exchange.start()
    await feeds.start()
    yield exchange, feeds.urls()
    await feeds.stop()
    await exchange.stop()


@pytest.mark.asyncio
async def test_paper_binds_grid_and_liquipedia_with_no_hand_written_ids(
    simulators: tuple[ExchangeSimulator, dict[str, str]], tmp_path: Path
) -> None:
    exchange, urls = simulators
    feeds = [
        "--set", "adapters.esports.grid.enabled=true",
        "--set", f"adapters.esports.grid.base_url={urls['grid']}",
        "--set", f"adapters.esports.grid.ws_url={urls['grid_ws']}",
        "--set", "adapters.esports.grid.poll_interval_ms=500",
        "--set", "adapters.esports.liquipedia.enabled=true",
        "--set", f"adapters.esports.liquipedia.base_url={urls['liquipedia']}",
        "--set", "adapters.esports.liquipedia.poll_interval_ms=2000",
        "--set", 'teams.aliases={"Gen.G": ["Gen.G Esports"]}',
    ]  # fmt: skip
    data = tmp_path / "data"
    done = await run_cli(
        "paper", *sim_args(exchange, data), *feeds, "--duration", "6", cwd=tmp_path
    )
    assert done.code == 0, done.err
    events = list(EventLogReader([data / "paper" / "events"]))
    assert any(isinstance(e, SessionStarted) for e in events)  # (registers the node's events)
    bound = {(e.source, e.provider_match_id, e.how) for e in events if isinstance(e, MatchBound)}
    lol, dota = load_scenario("lol_bo3_pause"), load_scenario("dota2_bo3_2_0")
    for scenario in (lol, dota):
        for provider in ("grid", "liquipedia"):
            assert (provider, scenario.providers[provider].match_id, "search") in bound, bound
    grid_reports = {e.match_id for e in events if isinstance(e, MatchEvent) and e.source == "grid"}
    assert len(grid_reports) == 2  # GRID follows both markets' matches under their Gamma ids


@pytest.mark.asyncio
async def test_markets_shows_which_providers_found_each_match(
    simulators: tuple[ExchangeSimulator, dict[str, str]], tmp_path: Path
) -> None:
    exchange, urls = simulators
    feeds = [
        "--set", "adapters.esports.grid.enabled=true",
        "--set", f"adapters.esports.grid.base_url={urls['grid']}",
        "--set", f"adapters.esports.grid.ws_url={urls['grid_ws']}",
        "--set", "adapters.esports.liquipedia.enabled=true",
        "--set", f"adapters.esports.liquipedia.base_url={urls['liquipedia']}",
        "--set", "adapters.esports.pandascore.enabled=true",
        "--set", f"adapters.esports.pandascore.base_url={urls['pandascore']}",
        "--set", f"adapters.esports.pandascore.ws_url={urls['pandascore_ws']}",
        "--set", 'teams.aliases={"Gen.G": ["Gen.G Esports"], "Tundra Esports": ["Tundra"]}',
    ]  # fmt: skip
    args = [*sim_args(exchange, tmp_path / "data"), *feeds]
    done = await run_cli("markets", *args, cwd=tmp_path)
    assert done.code == 0, done.err
    rows = [line for line in done.out.splitlines() if "grid" in line]
    assert len(rows) >= 8, done.out  # every market of both matches (4 each)
    for row in rows:
        assert "liquipedia*" in row
        assert "pandascore" in row
    assert "warning" not in done.out
