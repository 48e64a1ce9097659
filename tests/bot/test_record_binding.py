"""``record`` against the two standalone simulators binds their matches, and says so.

The exchange simulator's ``esports`` markets are dated from its clock and the esports
feeds schedule their scenarios from theirs, so a recording started against both binds
each provider's reports to the markets; the end-of-run summary counts them. A feed whose
matches bind to no market is warned about (:func:`unbound_feeds`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path

import pytest
import pytest_asyncio
from tests.bot.cli_process import run_cli, sim_args

from polyloly.bot.node_report import FeedUse, RunTally, unbound_feeds
from polyloly.runtime.clock import LiveClock
from polyloly.runtime.sleep import AsyncioSleeper
from polyloly.sim.esports import EsportsFeedServer, ScenarioRuntime
from polyloly.sim.exchange import ExchangeSimulator, SimConfig
from polyloly.sim.exchange.scenarios import esports_scenario
from polyloly.sim.scenarios import load_scenario


@pytest_asyncio.fixture
async def simulators() -> AsyncIterator[tuple[ExchangeSimulator, dict[str, str]]]:
    exchange = ExchangeSimulator(SimConfig(seed=3))
    esports_scenario(exchange)  # as `polyloly sim exchange` lists them: starting now
    clock = LiveClock()
    runtime = ScenarioRuntime(load_scenario("lol_bo3_pause"), clock, speed=Fraction(30))
    feeds = EsportsFeedServer([runtime], clock=clock, sleeper=AsyncioSleeper())
    await exchange.start()
    await feeds.start()
    yield exchange, feeds.urls()
    await feeds.stop()
    await exchange.stop()


@pytest.mark.asyncio
async def test_record_against_both_simulators_binds_and_summarises(
    simulators: tuple[ExchangeSimulator, dict[str, str]], tmp_path: Path
) -> None:
    exchange, urls = simulators
    feeds = [
        "--set", "adapters.esports.pandascore.enabled=true",
        "--set", f"adapters.esports.pandascore.base_url={urls['pandascore']}",
        "--set", f"adapters.esports.pandascore.ws_url={urls['pandascore_ws']}",
        "--set", "adapters.esports.pandascore.poll_interval_ms=250",
    ]  # fmt: skip
    done = await run_cli(
        "record", *sim_args(exchange, tmp_path / "data"), *feeds, "--duration", "6", cwd=tmp_path
    )
    assert done.code == 0, done.err
    assert "record finished after" in done.out
    found = re.search(r"pandascore [\d,]+ replies, ([\d,]+) reports \(([\d,]+) bound\)", done.out)
    assert found, done.out
    assert int(found.group(2)) > 0, done.out  # reports reached the exchange's markets
    assert f"log      {tmp_path / 'data' / 'record' / 'events'}" in done.out
    assert "warning" not in done.err


def test_a_feed_that_answers_but_binds_nothing_is_named() -> None:
    tally = RunTally(reports=Counter({"grid": 4, "opendota": 2}), bound=Counter({"opendota": 2}))
    uses = [FeedUse("grid", 10, 0), FeedUse("opendota", 5, 0), FeedUse("liquipedia", 0, 3)]
    (warning,) = unbound_feeds(tally, uses, markets=8)
    assert warning.startswith("grid answers (10 replies) but none of its 4 reports concerns")
    assert "8 markets" in warning
