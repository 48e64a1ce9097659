"""Polymarket's Sports WebSocket: the local channel and the adapter, over loopback.

The channel (text ``ping`` every 5 s, ``pong`` within 10 s, ``sport_result`` messages) lags
the providers by its configured delay; the adapter answers the pings, reads the map score's
increments as map results and ``ended`` as the match result, and confirms (never leads).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

import pytest
from aiohttp import web
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from polyloly.adapters.esports import (
    MatchBindingSettings,
    build_directory,
    build_feed,
    load_esports_settings,
)
from polyloly.adapters.esports.sports_ws import parse_score
from polyloly.domain.events import Event, MatchEventKind, TruthFinal
from polyloly.domain.markets import normalize_team
from polyloly.runtime.clock import LiveClock
from polyloly.runtime.sleep import AsyncioSleeper
from polyloly.sim.esports import EsportsFeedServer, ScenarioRuntime
from polyloly.sim.scenarios import load_scenario

K = MatchEventKind


def test_parse_score() -> None:
    assert parse_score("000-000|2-0|Bo3") == (2, 0, 3)
    assert parse_score("012-007|1-1|BO5") == (1, 1, 5)
    assert parse_score("1-0") is None
    assert parse_score("x|a-b|Bo3") is None


@pytest.mark.asyncio
async def test_the_sports_feed_confirms_each_result_after_the_providers(play: Any) -> None:
    run = await play("lol_bo3_pause", ["grid", "polymarket_sports"], ticks=True)
    scenario = run.scenario
    truth = scenario.state(None, scenario.end_ms)
    sports = run.match_events("polymarket_sports")
    results = [
        (e.kind, e.game_number, e.winner) for e in sports if e.kind in (K.GAME_ENDED, K.MATCH_ENDED)
    ]
    team = {s: normalize_team(scenario.team(s).name) for s in ("a", "b")}
    expected = [(K.GAME_ENDED, g.number, team[g.winner or "a"]) for g in truth.games]
    assert results == [*expected, (K.MATCH_ENDED, None, team[truth.winner or "a"])]
    assert all(e.detail.get("confirm_only") for e in sports)
    assert run.feeds["polymarket_sports"].pongs > 0  # it answered the channel's pings
    grid = {(e.kind, e.game_number): e for e in run.match_events("grid")}
    for e in sports:
        if e.kind is K.GAME_ENDED:
            lag_s = run.t_s(e) - run.t_s(grid[(K.GAME_ENDED, e.game_number)])
            assert 15 <= lag_s <= 25  # the channel's 20 s delay behind GRID's ~1 s
    # GRID led (FINAL by the timeout: not tradable), the sports feed confirmed it.
    timeout, final = run.of(TruthFinal)
    assert timeout.timed_out
    assert (final.sources, final.timed_out) == (("grid", "polymarket_sports"), False)
    assert final.winner == team[truth.winner or "a"]
    sports_end = next(e for e in sports if e.kind is K.MATCH_ENDED)
    assert final.ts_init == sports_end.ts_init


@pytest.mark.asyncio
async def test_the_channel_drops_a_client_that_does_not_answer_ping() -> None:
    clock = LiveClock()
    runtime = ScenarioRuntime(load_scenario("lol_bo1_late_source"), clock)
    server = EsportsFeedServer([runtime], clock=clock, sleeper=AsyncioSleeper(), sports_ping_ms=50)
    await server.start()
    try:
        async with connect(server.urls()["polymarket_sports"]) as ws:
            pings = 0
            with contextlib.suppress(ConnectionClosedError):
                async with asyncio.timeout(5):
                    async for message in ws:  # never answered: the server closes the socket
                        pings += message == "ping"
            assert ws.close_code == 1008
            assert ws.close_reason == "pong timeout"
            assert pings >= 2
        assert server.sports.dropped == 1
    finally:
        await server.stop()


@pytest.mark.asyncio
async def test_the_adapter_closes_a_silent_socket_and_reconnects() -> None:
    accepted = 0
    third = asyncio.Event()

    async def silent(request: web.Request) -> web.WebSocketResponse:
        nonlocal accepted
        accepted += 1
        if accepted >= 3:
            third.set()
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/ws", silent)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    settings = load_esports_settings(
        {
            "providers": {
                "polymarket_sports": {
                    "ws_url": f"ws://127.0.0.1:{port}/ws",
                    "poll_interval_ms": 20,
                    "stale_after_ms": 150,
                    "backoff_base_ms": 10,
                    "backoff_max_ms": 20,
                }
            }
        }
    )
    clock = LiveClock()
    events: list[Event] = []
    directory = build_directory(settings)
    directory.bind(MatchBindingSettings(match_id="m", game="lol", team_a="T1", team_b="Gen.G"))
    feed = build_feed(
        "polymarket_sports", settings, clock=clock, sleeper=AsyncioSleeper(),
        publish=events.append, directory=directory, rng=random.Random(1),
    )  # fmt: skip
    task = asyncio.create_task(feed.run())
    try:
        async with asyncio.timeout(10):
            await third.wait()  # connected, went silent, closed by the guard, twice over
    finally:
        await feed.aclose()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.cleanup()
    assert feed.stale_closes >= 2  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_doctor_probes_the_sports_channel_by_its_first_message() -> None:
    from polyloly.bot.doctor import probe_feed
    from polyloly.bot.settings import PolymarketSportsSettings

    clock = LiveClock()
    runtime = ScenarioRuntime(load_scenario("lol_bo1_late_source"), clock)
    server = EsportsFeedServer([runtime], clock=clock, sleeper=AsyncioSleeper(), sports_ping_ms=50)
    await server.start()
    try:
        url = server.urls()["polymarket_sports"]
        settings = PolymarketSportsSettings(ws_url=url)
        detail = await probe_feed("polymarket_sports", settings, 2.0)
        assert detail == f"{url}: first message 'ping'"
    finally:
        await server.stop()
