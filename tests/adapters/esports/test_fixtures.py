"""Real recorded payloads (``tests/fixtures/real``) parse into the expected normalized values.

The adapter-level tests serve the recorded bodies through ``httpx.MockTransport`` (a fake
transport, not a mock of the code under test) so that the whole path — rate limiter,
decoding, identity, snapshot, differ — runs on the real field names.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from polyloly.adapters.esports import FeedCore, MatchDirectory, load_esports_settings
from polyloly.adapters.esports.base import FeedStats, decode
from polyloly.adapters.esports.config import MatchBindingSettings
from polyloly.adapters.esports.liquipedia import LiquipediaFeed, lpdb_snapshot, lpdb_teams
from polyloly.adapters.esports.opendota import OpenDotaFeed, best_of_from_series_type
from polyloly.adapters.esports.pandascore import PandaScoreFeed, match_snapshot
from polyloly.adapters.esports.schemas.liquipedia import LpMatch
from polyloly.adapters.esports.schemas.opendota import OdMatch, TopLiveGames
from polyloly.adapters.esports.schemas.pandascore import PsMatch
from polyloly.adapters.esports.tracker import GamePhase, MatchPhase
from polyloly.domain.events import Event, MatchEvent, MatchEventKind
from polyloly.domain.markets import TeamAliases
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.sleep import VirtualSleeper

K = MatchEventKind


def _read(folder: Path, name: str) -> bytes:
    return (folder / name).read_bytes()


def _core(
    source: str, directory: MatchDirectory, out: list[Event], extra: dict[str, Any] | None = None
) -> FeedCore:
    clock = VirtualClock(1_800_000_000 * NS_PER_S)
    settings = load_esports_settings(
        {"providers": {source: {"base_url": "http://feed.invalid", **(extra or {})}}}
    )
    return FeedCore(
        source,
        settings.provider(source),
        clock=clock,
        sleeper=VirtualSleeper(clock),
        publish=out.append,
        directory=directory,
        rng=random.Random(1),
    )


def _kinds(events: list[Event]) -> list[tuple[str, int | None, str | None, int | None, int | None]]:
    return [
        (e.kind.value, e.game_number, e.winner, e.score_a, e.score_b)
        for e in events
        if isinstance(e, MatchEvent)
    ]


# -- OpenDota ---------------------------------------------------------------------------------


def test_opendota_live_items_keep_string_ids(real_fixtures: Path) -> None:
    top = msgspec.json.decode(
        _read(real_fixtures / "opendota", "toplivegames_api.json"), type=TopLiveGames
    )
    assert len(top.game_list) == 10
    first = top.game_list[0]
    assert first.match_id == "8591964706"
    assert first.lobby_id == "29610055194542853"
    assert first.server_steam_id == "90277912349586453"
    assert first.last_update_time == 1764981500
    assert (first.radiant_score, first.dire_score, first.game_time, first.delay) == (8, 8, 752, 120)
    assert all(g.team_name_radiant == "" for g in top.game_list)  # all pub games


def test_opendota_match_result_fields(real_fixtures: Path) -> None:
    match = msgspec.json.decode(
        _read(real_fixtures / "opendota", "3254426673_output.json"), type=OdMatch
    )
    assert match.match_id == 3254426673
    assert match.radiant_win is False
    assert (match.radiant_name, match.dire_name) == ("Planet Odd", "Newbee")
    assert (match.radiant_team_id, match.dire_team_id) == (4251435, 1375614)
    assert match.series_id is None
    assert best_of_from_series_type(match.series_type) is None
    assert (match.radiant_score, match.dire_score, match.duration) == (15, 23, 1888)
    assert [best_of_from_series_type(t) for t in (0, 1, 2)] == [1, 3, 5]


@pytest.mark.asyncio
async def test_opendota_adapter_confirms_a_frozen_game_with_the_real_match(
    real_fixtures: Path,
) -> None:
    folder = real_fixtures / "opendota"
    live_items = json.loads(_read(folder, "toplivegames_api.json"))["game_list"]
    # The recorded /live games are pubs; make the first one the recorded pro match.
    pro = dict(live_items[0], match_id="3254426673", series_id=0)
    pro.update(team_name_radiant="Planet Odd", team_name_dire="Newbee", league_id=5399)
    live_body = json.dumps([pro, *live_items[1:], None]).encode()
    match_body = _read(folder, "3254426673_output.json")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/live":
            return httpx.Response(200, content=live_body)
        if request.url.path == "/matches/3254426673":
            return httpx.Response(200, content=match_body)
        return httpx.Response(404, json={"error": "Not Found"})

    directory = MatchDirectory(TeamAliases({"Newbee": ["NB"]}))
    directory.bind(
        MatchBindingSettings(
            match_id="ti-po-nb", game="dota2", team_a="Newbee", team_b="Planet Odd", best_of=1,
            provider_ids={"opendota": "match-3254426673"},
        )
    )  # fmt: skip
    out: list[Event] = []
    core = _core("opendota", directory, out, {"frozen_polls": 1})
    feed = OpenDotaFeed(core, httpx.MockTransport(handler))
    clock = core.clock
    assert isinstance(clock, VirtualClock)
    for _ in range(3):
        await feed.poll_once()
        clock.advance_ns(60 * NS_PER_S)  # /live is asked once per its 60 s refresh
    await feed.aclose()
    assert _kinds(out) == [
        ("match_started", None, None, None, None),
        ("game_started", 1, None, None, None),
        ("kill", 1, None, None, None),
        ("kill", 1, None, None, None),
        ("kill", 1, None, None, None),
        ("kill", 1, None, None, None),
        ("game_ended", 1, "newbee", 1, 0),
        ("match_ended", None, "newbee", 1, 0),
    ]
    ended = next(e for e in out if isinstance(e, MatchEvent) and e.kind is K.GAME_ENDED)
    assert ended.match_id == "ti-po-nb"
    assert ended.provider_match_id == "match-3254426673"
    assert ended.ts_event == (1497678766 + 1888) * NS_PER_S  # start_time + duration
    assert feed.core.stats.malformed == 0


# -- PandaScore -------------------------------------------------------------------------------


def test_pandascore_finished_match_snapshot(real_fixtures: Path) -> None:
    match = msgspec.json.decode(_read(real_fixtures / "pandascore", "match_get.json"), type=PsMatch)
    assert (match.id, match.status, match.number_of_games, match.winner_id) == (
        1000450,
        "finished",
        5,
        2883,
    )
    snap = match_snapshot(match, {2882: "a", 2883: "b"})
    assert snap.phase is MatchPhase.FINISHED
    assert (snap.winner, snap.score_a, snap.score_b) == ("b", 2, 3)
    assert [(g.number, g.phase, g.winner) for g in snap.games] == [
        (1, GamePhase.FINISHED, "b"),
        (2, GamePhase.FINISHED, "a"),
        (3, GamePhase.FINISHED, "a"),
        (4, GamePhase.FINISHED, "b"),
        (5, GamePhase.FINISHED, "b"),
    ]


@pytest.mark.asyncio
async def test_pandascore_adapter_on_real_match_and_list(real_fixtures: Path) -> None:
    folder = real_fixtures / "pandascore"
    match_body = _read(folder, "match_get.json")
    list_body = _read(folder, "lol_matches_list.json")

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer tok"
        if request.url.path == "/lol/matches/running":
            return httpx.Response(200, content=list_body)  # a TBD-vs-TBD match: skipped
        if request.url.path == "/matches/1000450":
            return httpx.Response(200, content=match_body)
        return httpx.Response(404)

    aliases = TeamAliases({"Gen.G": ["GEN"], "Hanwha Life Esports": ["HLE"]})
    directory = MatchDirectory(aliases)
    directory.bind(
        MatchBindingSettings(
            match_id="lck-final", game="lol", team_a="Gen.G", team_b="HLE", best_of=5,
            provider_ids={"pandascore": "1000450"},
        )
    )  # fmt: skip
    out: list[Event] = []
    core = _core("pandascore", directory, out, {"api_key": "tok", "games": ["lol"]})
    feed = PandaScoreFeed(core, httpx.MockTransport(handler))
    await feed.poll_once()
    await feed.poll_once()  # same data again: no duplicate events
    await feed.aclose()
    hle = "hanwha life esports"
    assert _kinds(out) == [
        ("match_started", None, None, None, None),
        ("game_ended", 1, hle, 0, 1),
        ("game_ended", 2, "geng", 1, 1),
        ("game_ended", 3, "geng", 2, 1),
        ("game_ended", 4, hle, 2, 2),
        ("game_ended", 5, hle, 2, 3),
        ("match_ended", None, hle, 2, 3),
    ]
    assert all(e.team_a == "geng" and e.team_b == hle for e in out if isinstance(e, MatchEvent))
    assert core.stats.malformed == 0


def test_pandascore_serie_object_is_not_a_match(real_fixtures: Path) -> None:
    stats = FeedStats()
    assert decode(_read(real_fixtures / "pandascore", "series_get.json"), PsMatch, stats) is None
    assert stats.malformed == 1


# -- Liquipedia -------------------------------------------------------------------------------


def test_lpdb_record_coerces_mixed_types(real_fixtures: Path) -> None:
    match = msgspec.json.decode(
        _read(real_fixtures / "liquipedia", "lpdb_match_sample.json"), type=LpMatch
    )
    assert match.match2id == "Wrd25KnOut_R03-M001"
    assert (match.winner, match.finished, match.bestof) == ("1", 1, 5)
    assert lpdb_teams(match) == ("T1", "KT Rolster")
    snap = lpdb_snapshot(match, ("a", "b"))
    assert snap.phase is MatchPhase.FINISHED
    assert (snap.winner, snap.score_a, snap.score_b) == ("a", 3, 2)
    assert [g.winner for g in snap.games] == ["a", "b", "b", "a", "a"]
    swapped = lpdb_snapshot(match, ("b", "a"))
    assert (swapped.winner, swapped.score_a, swapped.score_b) == ("b", 2, 3)


@pytest.mark.asyncio
async def test_liquipedia_adapter_confirms_only(real_fixtures: Path) -> None:
    record = json.loads(_read(real_fixtures / "liquipedia", "lpdb_match_sample.json"))
    body = json.dumps({"result": [record], "error": [], "warning": []}).encode()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=body)

    directory = MatchDirectory(TeamAliases({"KT Rolster": ["KT"]}))
    directory.bind(
        MatchBindingSettings(
            match_id="worlds-final", game="lol", team_a="KT", team_b="T1", best_of=5,
            provider_ids={"liquipedia": "Wrd25KnOut_R03-M001"},
        )
    )  # fmt: skip
    out: list[Event] = []
    feed = LiquipediaFeed(
        _core("liquipedia", directory, out, {"api_key": "k"}), httpx.MockTransport(handler)
    )
    await feed.poll_once()
    await feed.aclose()
    request = seen[0]
    assert request.headers["Authorization"] == "Apikey k"
    assert request.headers["User-Agent"].startswith("polyloly/")
    assert request.url.params["wiki"] == "leagueoflegends"
    assert request.url.params["conditions"] == "[[match2id::Wrd25KnOut_R03-M001]]"
    events = [e for e in out if isinstance(e, MatchEvent)]
    assert _kinds(out)[-1] == ("match_ended", None, "t1", 2, 3)  # team_a is KT here
    assert [e.winner for e in events if e.kind is K.GAME_ENDED] == [
        "t1",
        "kt rolster",
        "kt rolster",
        "t1",
        "t1",
    ]
    assert all(e.detail["confirm_only"] is True for e in events)
