"""The local feeds speak each provider's shape: auth, agents, sockets, windows."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest
import pytest_asyncio
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from polyloly.adapters.esports import FeedCore, MatchDirectory, load_esports_settings
from polyloly.adapters.esports.config import MatchBindingSettings
from polyloly.adapters.esports.pandascore import PandaScoreFeed
from polyloly.domain.events import Event, MatchEvent, MatchEventKind
from polyloly.domain.markets import TeamAliases
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.sleep import VirtualSleeper
from polyloly.sim.esports import EsportsFeedServer, ScenarioRuntime
from polyloly.sim.scenarios import load_scenario

KEYS = {"grid": "gk", "pandascore": "pk", "lolesports": "lk", "liquipedia": "lp"}
UA = {"User-Agent": "polyloly-tests/1.0 (ops@example.org)"}


class Feeds:
    def __init__(
        self,
        server: EsportsFeedServer,
        clock: VirtualClock,
        sleeper: VirtualSleeper,
        rt: ScenarioRuntime,
    ) -> None:
        self.server, self.clock, self.sleeper, self.rt = server, clock, sleeper, rt

    async def at(self, t_s: int) -> None:
        await self.sleeper.run_until(self.rt.wall_ns(t_s * 1000), loops=self.server.loops)


@pytest_asyncio.fixture
async def feeds() -> AsyncIterator[Feeds]:
    clock = VirtualClock(1_767_225_600 * NS_PER_S)
    sleeper = VirtualSleeper(clock)
    runtimes = [
        ScenarioRuntime(load_scenario("lol_bo3_pause"), clock),
        ScenarioRuntime(load_scenario("dota2_bo3_2_0"), clock),
    ]
    server = EsportsFeedServer(runtimes, clock=clock, sleeper=sleeper, api_keys=KEYS)
    await server.start()
    yield Feeds(server, clock, sleeper, runtimes[0])
    await server.stop()


@pytest.mark.asyncio
async def test_rest_shapes_and_auth(feeds: Feeds) -> None:
    urls = feeds.server.urls()
    await feeds.at(700)
    async with httpx.AsyncClient(headers=UA) as client:
        live = (await client.get(f"{urls['opendota']}/live")).json()
        assert isinstance(live[0]["match_id"], str)
        assert "team_name_radiant" in live[0]
        ours = [g for g in live if g["team_name_radiant"]]
        assert ours
        assert ours[0]["series_id"] == 8123456
        assert (await client.get(f"{urls['opendota']}/matches/81234561")).status_code == 404
        r = await client.get(f"{urls['pandascore']}/lol/matches/running")
        assert r.status_code == 401
        running = await client.get(
            f"{urls['pandascore']}/lol/matches/running", headers={"Authorization": "Bearer pk"}
        )
        (match,) = running.json()
        assert match["status"] == "running"
        assert match["games"][0]["status"] == "running"
        assert [o["opponent"]["name"] for o in match["opponents"]] == ["T1", "Gen.G"]
        q = {
            "query": "query($id: ID!) { seriesState(id: $id) { id } }",
            "variables": {"id": "2578928"},
        }
        state = await client.post(
            f"{urls['grid']}/live-data-feed/series-state/graphql",
            json=q,
            headers={"x-api-key": "gk"},
        )
        series = state.json()["data"]["seriesState"]
        assert series["format"] == "best-of-3"
        assert series["games"][0]["paused"] is False
        assert series["games"][0]["clock"]["currentSeconds"] == 519  # 1 s late, 120 s paused
        bad = await client.get(
            f"{urls['liquipedia']}/api/v3/match", headers={"User-Agent": "python-httpx/0.28"}
        )
        assert bad.status_code == 403
        lp = await client.get(
            f"{urls['liquipedia']}/api/v3/match",
            params={"wiki": "leagueoflegends", "conditions": "[[match2id::LCK25_R01-M001]]"},
            headers={"Authorization": "Apikey lp"},
        )
        record = lp.json()["result"][0]
        assert (record["winner"], record["finished"], record["bestof"]) == ("", 0, 3)
        le = {"x-api-key": "lk"}
        sched = (
            await client.get(
                f"{urls['lolesports']}/persisted/gw/getSchedule", params={"hl": "en-US"}, headers=le
            )
        ).json()
        assert sched["data"]["schedule"]["events"][0]["state"] == "inProgress"
        window = await client.get(
            f"{urls['lolesports']}/livestats/v1/window/110853167109116580",
            params={"startingTime": "2026-01-01T00:10:00.000Z"}, headers=le,
        )  # fmt: skip
        assert window.status_code == 204  # game 3 has no data yet
        window = await client.get(
            f"{urls['lolesports']}/livestats/v1/window/110853167109116578",
            params={"startingTime": "2026-01-01T00:05:30.000Z"}, headers=le,
        )  # fmt: skip
        frames = window.json()["frames"]
        assert len(frames) == 5
        assert frames[0]["gameState"] == "paused"
        assert (
            await client.get(f"{urls['lolesports']}/persisted/gw/getLive", headers={})
        ).status_code == 403


@pytest.mark.asyncio
async def test_pandascore_socket_hello_frames_and_token(feeds: Feeds) -> None:
    urls = feeds.server.urls()
    await feeds.at(100)
    async with connect(f"{urls['pandascore_ws']}/matches/1000450?token=nope") as ws:
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.close_code == 4001
    async with connect(f"{urls['pandascore_ws']}/matches/1000450?token=pk") as ws:
        assert msgspec.json.decode(await ws.recv()) == {"type": "hello", "payload": {}}
        frame = msgspec.json.decode(await ws.recv())
        assert frame["game"]["id"] == 10004501
        assert frame["paused"] is False
        assert {"blue", "red", "current_timestamp", "winner_id"} <= set(frame)
    await feeds.at(300)
    async with connect(f"{urls['pandascore_ws']}/matches/1000450/events?token=pk") as ws:
        assert msgspec.json.decode(await ws.recv())["type"] == "hello"
        await ws.send('{"type":"recover","payload":{"game_id":10004501}}')
        replay = [msgspec.json.decode(await ws.recv()) for _ in range(3)]  # 1 + 2 kills so far
        assert [e["type"] for e in replay] == ["player_kill"] * 3
        assert [e["payload"]["killer"]["object"]["team_id"] for e in replay] == [126061, 2882, 2882]
        assert replay[0]["ingame_timestamp"] == 120


@pytest.mark.asyncio
async def test_grid_socket_replays_from_a_sequence_number(feeds: Feeds) -> None:
    urls = feeds.server.urls()
    await feeds.at(900)
    url = f"{urls['grid_ws']}/live-data-feed/series/2578928?key=gk"
    async with connect(url + "&fromSequenceNumber=1") as ws:
        first = msgspec.json.decode(await ws.recv())
        assert first["sequenceNumber"] == 1
        assert first["events"][0]["type"] == "grid-started-feed"
        seen = [first]
        while seen[-1]["events"][0]["type"] != "team-won-game":
            seen.append(msgspec.json.decode(await ws.recv()))
        won = seen[-1]["events"][0]
        assert won["actor"] == {"type": "team", "id": "47351", "stateDelta": {}, "state": {}}
        assert won["seriesState"]["teams"][0]["score"] == 1
    async with connect(url + f"&fromSequenceNumber={seen[-1]['sequenceNumber']}") as ws:
        assert msgspec.json.decode(await ws.recv())["sequenceNumber"] == seen[-1]["sequenceNumber"]
    with pytest.raises(InvalidStatus):
        async with connect(f"{urls['grid_ws']}/live-data-feed/series/2578928?key=bad"):
            pass


@pytest.mark.asyncio
async def test_pandascore_adapter_stops_retrying_a_refused_token(feeds: Feeds) -> None:
    urls = feeds.server.urls()
    await feeds.at(100)
    directory = MatchDirectory(TeamAliases({"Gen.G": ["GEN"]}))
    binding = MatchBindingSettings(
        match_id="m", game="lol", team_a="T1", team_b="Gen.G", best_of=3,
        provider_ids={"pandascore": "1000450"},
    )  # fmt: skip
    directory.bind(binding)
    cfg = {
        "base_url": urls["pandascore"], "ws_url": urls["pandascore_ws"], "api_key": "pk",
        "games": ["lol"],
    }  # fmt: skip
    settings = load_esports_settings({"providers": {"pandascore": cfg}})
    out: list[Event] = []
    framed = asyncio.Event()

    def publish(event: Event) -> None:
        out.append(event)
        if isinstance(event, MatchEvent) and event.kind is MatchEventKind.GAME_STARTED:
            framed.set()  # the socket delivered a frame

    core = FeedCore(
        "pandascore", settings.provider("pandascore"), clock=feeds.clock,
        sleeper=feeds.sleeper, publish=publish, directory=directory, rng=random.Random(0),
    )  # fmt: skip
    feed = PandaScoreFeed(core)
    await feed.poll_once()
    state = feed._states[1000450]  # the test inspects the socket bookkeeping
    assert state.task is not None
    await asyncio.wait_for(framed.wait(), 5)
    # The token is revoked and the connection drops: the next socket is refused with 4001.
    feeds.server.ctx.api_keys["pandascore"] = "rotated"
    state.task.cancel()
    await asyncio.gather(state.task, return_exceptions=True)
    await feed.poll_once()  # REST now says 401 (a failed round); the socket is retried once
    assert state.task is not None
    await asyncio.wait_for(state.task, 5)
    assert state.socket_done
    await feed.poll_once()
    assert state.task.done()  # not reopened: retrying cannot fix a refused token
    assert core.stats.failures >= 1
    await feed.aclose()
