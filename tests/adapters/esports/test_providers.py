"""Provider-specific rules: lolesports winner attribution, GRID events, PandaScore frames."""

from __future__ import annotations

import random

import msgspec
import pytest

from polyloly.adapters.esports import FeedCore, MatchDirectory, load_esports_settings
from polyloly.adapters.esports.config import MatchBindingSettings
from polyloly.adapters.esports.grid import GridFeed, apply_event, series_snapshot
from polyloly.adapters.esports.liquipedia import check_user_agent
from polyloly.adapters.esports.lolesports import assign_game_winners, window_starting_time
from polyloly.adapters.esports.pandascore import frame_game
from polyloly.adapters.esports.parsing import best_of_from_format, coerce_int
from polyloly.adapters.esports.schemas.grid import (
    GridActor,
    GridEvent,
    GridGameTeam,
    GridSeriesState,
    GridTeamState,
)
from polyloly.adapters.esports.schemas.pandascore import PsFrame
from polyloly.adapters.esports.tracker import GamePhase
from polyloly.domain.events import Event, MatchEvent
from polyloly.domain.markets import TeamAliases
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.errors import ConfigError
from polyloly.runtime.sleep import VirtualSleeper
from polyloly.runtime.timefmt import iso_to_ns, ns_to_iso


@pytest.mark.parametrize(
    ("winners", "finished", "wins", "expected"),
    [
        ({}, [1], {"a": 1, "b": 0}, {1: "a"}),
        ({1: "a"}, [1, 2], {"a": 1, "b": 1}, {1: "a", 2: "b"}),
        ({1: "a"}, [1, 2], {"a": 1, "b": 0}, {1: "a"}),  # game 2 over, gameWins not yet moved
        ({1: "a", 2: "b", 3: "b"}, [1, 2, 3], {"a": 2, "b": 1}, {1: "a", 2: "b", 3: "a"}),  # fix
        ({}, [], {"a": 1, "b": 0}, {}),  # a win with no finished game: wait
    ],
)
def test_lolesports_game_wins_are_attributed(winners, finished, wins, expected) -> None:  # type: ignore[no-untyped-def]
    assert assign_game_winners(winners, finished, wins) == expected


def test_time_helpers() -> None:
    t = 1_767_225_637 * NS_PER_S + 123_000_000
    assert window_starting_time(t) == "2025-12-31T23:59:30.000Z"  # now - 60 s, floor 10 s
    assert ns_to_iso(t) == "2026-01-01T00:00:37Z"
    assert iso_to_ns("2026-01-01T00:00:00Z") == 1_767_225_600 * NS_PER_S
    assert iso_to_ns("2026-01-01 00:00:00") == 1_767_225_600 * NS_PER_S
    assert iso_to_ns("garbage") is None
    assert iso_to_ns(None) is None
    assert [coerce_int(v) for v in ("1", 2, True, "", None, "x", " 3 ")] == [
        1,
        2,
        1,
        None,
        None,
        None,
        3,
    ]
    assert best_of_from_format("best-of-3") == 3
    assert best_of_from_format("") is None


def test_liquipedia_refuses_generic_user_agents() -> None:
    with pytest.raises(ConfigError):
        check_user_agent("python-httpx/0.28")
    check_user_agent("polyloly/0.1 (ops@example.org)")


def _state() -> GridSeriesState:
    teams = [GridTeamState(id="1", name="T1"), GridTeamState(id="2", name="GEN")]
    return GridSeriesState(id="s", format="best-of-3", teams=teams)


def test_grid_events_without_state_are_applied_to_the_last_one() -> None:
    sides = {"1": "a", "2": "b"}
    state = _state()

    def ev(kind: str, actor: str = "", target: str = "g1") -> GridEvent:
        return GridEvent(
            type=kind,
            actor=GridActor(type="team", id=actor),
            target=GridActor(type="game", id=target),
        )

    state = apply_event(state, ev("series-started-game"))
    assert series_snapshot(state, sides).games[0].phase is GamePhase.RUNNING
    state = apply_event(state, ev("series-paused-game"))
    assert series_snapshot(state, sides).games[0].phase is GamePhase.PAUSED
    state = apply_event(state, ev("series-resumed-game"))
    game_teams = [GridGameTeam(id="1"), GridGameTeam(id="2")]
    state = msgspec.structs.replace(
        state, games=[msgspec.structs.replace(state.games[0], teams=game_teams)]
    )
    state = apply_event(state, ev("team-won-game", actor="2"))
    snap = series_snapshot(state, sides)
    assert (snap.games[0].phase, snap.games[0].winner) == (GamePhase.FINISHED, "b")
    state = apply_event(state, ev("team-won-series", actor="2", target="s"))
    assert series_snapshot(state, sides).winner == "b"
    assert apply_event(state, ev("player-killed-player")) == state
    assert apply_event(state, ev("grid-invalidated-series")).valid is False


def _grid_feed(out: list[Event]) -> GridFeed:
    clock = VirtualClock(0)
    directory = MatchDirectory(TeamAliases({"Gen.G": ["GEN"]}))
    directory.bind(
        MatchBindingSettings(match_id="m", game="lol", team_a="T1", team_b="Gen.G", best_of=3,
                             provider_ids={"grid": "s"})
    )  # fmt: skip
    settings = load_esports_settings({"providers": {"grid": {"base_url": "http://x.invalid"}}})
    core = FeedCore("grid", settings.provider("grid"), clock=clock, sleeper=VirtualSleeper(clock),
                    publish=out.append, directory=directory, rng=random.Random(0))  # fmt: skip
    return GridFeed(core)


def test_grid_envelopes_dedupe_by_sequence_number_and_skip_garbage() -> None:
    out: list[Event] = []
    feed = _grid_feed(out)
    state = msgspec.to_builtins(_state())
    state["started"] = True
    state["games"] = [
        {"id": "g1", "sequenceNumber": 1, "started": True, "teams": [{"id": "1"}, {"id": "2"}]}
    ]
    env = {"sequenceNumber": 2, "occurredAt": "2026-01-01T00:00:00.000Z", "events": [
        {"type": "series-started-game", "seriesState": state}]}  # fmt: skip
    feed.on_envelope("s", msgspec.json.encode(env))
    feed.on_envelope("s", msgspec.json.encode(env))  # duplicate
    feed.on_envelope("s", msgspec.json.encode({**env, "sequenceNumber": 1}))  # older
    feed.on_envelope("s", b"{not json")
    kinds = [e.kind.value for e in out if isinstance(e, MatchEvent)]
    assert kinds == ["match_started", "game_started"]
    assert feed.core.stats.malformed == 1
    assert feed.core.stats.frames == 4
    assert next(e.ts_event for e in out if isinstance(e, MatchEvent)) == 1_767_225_600 * NS_PER_S


def test_pandascore_frames_lol_and_dota() -> None:
    lol = msgspec.json.decode(
        msgspec.json.encode({
            "game": {"id": 7}, "match": {"id": 1}, "current_timestamp": 300, "paused": True,
            "finished": False, "winner_id": None,
            "blue": {"id": 20, "name": "GEN", "kills": 4, "towers": 1, "drakes": 2, "score": 1},
            "red": {"id": 10, "name": "T1", "kills": 2},
        }), type=PsFrame)  # fmt: skip
    fg = frame_game(lol, {10: "a", 20: "b"})
    assert fg is not None
    assert (fg.phase, fg.kills_a, fg.kills_b, fg.series_games_won) == (GamePhase.PAUSED, 2, 4, 1)
    assert ("b", "drakes", 2) in fg.objectives
    dota = msgspec.json.decode(
        msgspec.json.encode({
            "game": {"id": 8}, "match": {"id": 1}, "current_timestamp": 900, "finished": True,
            "winner_id": 10, "radiant": {"id": 10, "score": 30}, "dire": {"id": 20, "score": 12},
        }), type=PsFrame)  # fmt: skip
    fg2 = frame_game(dota, {10: "a", 20: "b"})
    assert fg2 is not None
    assert (fg2.phase, fg2.winner, fg2.kills_a) == (GamePhase.FINISHED, "a", 30)
    assert frame_game(dota, {10: "a"}) is None  # an unknown team: not attributable
