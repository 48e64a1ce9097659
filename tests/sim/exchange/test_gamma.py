"""Gamma discovery: esports markets and events in the recorded shapes, with filters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from tests.conftest import load_fixture

from polyloly.runtime.clock import VirtualClock
from polyloly.sim.exchange import ExchangeSimulator, SimConfig
from polyloly.sim.exchange.scenarios import esports_scenario

REQUIRED_MARKET_KEYS = {
    "id", "question", "conditionId", "slug", "outcomes", "outcomePrices", "clobTokenIds",
    "active", "closed", "acceptingOrders", "enableOrderBook", "negRisk", "orderMinSize",
    "orderPriceMinTickSize", "gameStartTime", "eventStartTime", "sportsMarketType",
    "groupItemTitle", "secondsDelay", "clearBookOnStart", "feesEnabled", "feeSchedule",
    "bestBid", "bestAsk", "lastTradePrice",
}  # fmt: skip


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


@pytest_asyncio.fixture
async def gamma() -> Any:
    sim = ExchangeSimulator(SimConfig(seed=5), clock=VirtualClock(1_800_000_000_000_000_000))
    esports_scenario(sim)
    await sim.start()
    try:
        async with httpx.AsyncClient(base_url=sim.gamma_url) as client:
            yield sim, client
    finally:
        await sim.stop()


@pytest.mark.asyncio
async def test_markets_have_the_recorded_shape(gamma: Any, real_fixtures: Path) -> None:
    _sim, client = gamma
    real = load_fixture(real_fixtures / "polymarket", "gamma_market_sports_market_money_line.json")
    markets = (await client.get("/markets", params={"tag_slug": "league-of-legends"})).json()
    assert len(markets) == 4
    for market in markets:
        assert market.keys() >= REQUIRED_MARKET_KEYS
        for key, value in market.items():
            if key in real and real[key] is not None and value is not None:
                assert _kind(value) == _kind(real[key]), key
        outcomes, tokens = json.loads(market["outcomes"]), json.loads(market["clobTokenIds"])
        assert outcomes == ["T1", "Gen.G"]
        assert len(tokens) == 2
        assert [float(p) for p in json.loads(market["outcomePrices"])]
        assert market["gameStartTime"] == "2027-01-15 08:00:00+00"  # the sim clock's minute
        assert market["feeSchedule"] == real["feeSchedule"]
    match, *games = markets
    assert (match["groupItemTitle"], match["sportsMarketType"], match["secondsDelay"]) == (
        "Match Winner",
        "moneyline",
        3,
    )
    assert [g["groupItemTitle"] for g in games] == [f"Game {n} Winner" for n in (1, 2, 3)]
    assert [g["slug"] for g in games] == [f"lol-t1-gen-2027-01-15-game{n}" for n in (1, 2, 3)]


@pytest.mark.asyncio
async def test_events_group_a_series(gamma: Any, real_fixtures: Path) -> None:
    _sim, client = gamma
    real = load_fixture(real_fixtures / "polymarket", "gamma_market_sports_market_money_line.json")
    real_event = real["events"][0]
    events = (await client.get("/events", params={"tag_slug": "dota-2"})).json()
    (event,) = events
    assert event["slug"] == "dota2-ts-tundra-2027-01-15"
    assert event["title"] == "Dota 2: Team Spirit vs Tundra Esports (BO3) - DreamLeague"
    assert len(event["markets"]) == 4
    for key, value in event.items():
        if key in real_event and real_event[key] is not None and key != "markets":
            assert _kind(value) == _kind(real_event[key]), key
    assert "dota-2" in {t["slug"] for t in event["tags"]}
    by_slug = (await client.get(f"/events/slug/{event['slug']}")).json()
    assert by_slug["id"] == event["id"]
    assert (await client.get(f"/events/{event['id']}")).json()["slug"] == event["slug"]


@pytest.mark.asyncio
async def test_filters_and_paging(gamma: Any) -> None:
    sim, client = gamma
    everything = (await client.get("/markets")).json()
    assert len(everything) == 8
    page = (await client.get("/markets", params={"offset": 2, "limit": 3})).json()
    assert [m["id"] for m in page] == [m["id"] for m in everything[2:5]]
    assert (await client.get("/markets", params={"offset": 10_001})).status_code == 422
    one = everything[0]
    by_id = (await client.get(f"/markets/{one['id']}")).json()
    assert by_id["conditionId"] == one["conditionId"]
    by_slug = (await client.get("/markets", params={"slug": one["slug"]})).json()
    assert [m["id"] for m in by_slug] == [one["id"]]
    sim.resolve(one["conditionId"], json.loads(one["clobTokenIds"])[0])
    closed = (await client.get("/markets", params={"closed": "true"})).json()
    assert [m["id"] for m in closed] == [one["id"]]
    assert json.loads(closed[0]["outcomePrices"]) == ["1.0", "0.0"]
    open_ = (await client.get("/markets", params={"closed": "false"})).json()
    assert len(open_) == 7
    assert (await client.get("/markets/nope")).status_code == 404
