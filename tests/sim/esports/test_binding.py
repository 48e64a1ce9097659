"""GRID and Liquipedia bind a market's match by their own search, over loopback.

A market found through Gamma knows only its teams and start; the binder asks GRID's Central
Data listing and LPDB by date, matches the teams through the alias table, binds the ids in
the directory (a MatchBound event each) and the feeds then follow the match.
"""

from __future__ import annotations

import random

import pytest
from tests.sim.esports.conftest import API_KEYS, START_NS, provider_settings

from polyloly.adapters.esports import (
    MatchBindingSettings,
    build_directory,
    build_feed,
    load_esports_settings,
)
from polyloly.adapters.esports.resolver import Binder, WantedMatch, pick_match
from polyloly.domain.events import Event, MatchBound, MatchEvent
from polyloly.domain.markets import TeamAliases
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.sleep import VirtualSleeper
from polyloly.sim.esports import EsportsFeedServer, ScenarioRuntime
from polyloly.sim.scenarios import load_scenario

HOUR = 3_600 * NS_PER_S


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["lol_bo3_pause", "dota2_bo3_2_0"])
async def test_grid_and_liquipedia_find_a_gamma_market_by_teams_and_start(name: str) -> None:
    scenario = load_scenario(name)
    clock = VirtualClock(START_NS)
    sleeper = VirtualSleeper(clock)
    runtime = ScenarioRuntime(scenario, clock)
    server = EsportsFeedServer([runtime], clock=clock, sleeper=sleeper, api_keys=API_KEYS)
    await server.start()
    try:
        urls = provider_settings(server.urls(), scenario.game)
        settings = load_esports_settings(
            {
                "providers": {p: urls[p] for p in ("grid", "liquipedia")},
                "team_aliases": scenario.aliases(),
            }
        )
        directory = build_directory(settings)
        # As Gamma binds it: the market's own id and team names, a start, no provider id.
        start = runtime.wall_s(scenario.scheduled_ms) + 600  # Gamma's time is 10 min off
        directory.bind(
            MatchBindingSettings(
                match_id="gamma-event-slug", game=scenario.game, team_a=scenario.team_b.name,
                team_b=scenario.team_a.name, best_of=scenario.best_of, scheduled_at_s=start,
            )
        )  # fmt: skip
        events: list[Event] = []
        feeds = {
            p: build_feed(
                p,
                settings,
                clock=clock,
                sleeper=sleeper,
                publish=events.append,
                directory=directory,
                rng=random.Random(1),
            )
            for p in ("grid", "liquipedia")
        }
        binder = Binder(
            list(feeds.values()),  # type: ignore[arg-type]
            directory,
            publish=events.append,
            clock=clock,
            sleeper=sleeper,
        )
        binder.want(
            WantedMatch(
                "gamma-event-slug", scenario.game, scenario.team_b.name, scenario.team_a.name,
                start * NS_PER_S, scenario.best_of,
            )
        )  # fmt: skip
        assert await binder.bind_once() == 2
        assert binder.pending() == []
        bound = {
            (e.source, e.provider_match_id, e.how) for e in events if isinstance(e, MatchBound)
        }
        assert bound == {
            ("grid", scenario.providers["grid"].match_id, "search"),
            ("liquipedia", scenario.providers["liquipedia"].match_id, "search"),
        }
        assert directory.sources("gamma-event-slug") == ["grid", "liquipedia"]
        # The GRID feed now follows the market's match (its series state is polled).
        clock.set_ns(runtime.wall_ns(scenario.end_ms))
        await feeds["grid"].poll_once()
        reports = [e for e in events if isinstance(e, MatchEvent) and e.source == "grid"]
        assert reports
        assert {e.match_id for e in reports} == {"gamma-event-slug"}
        for feed in feeds.values():
            await feed.aclose()
    finally:
        await server.stop()


def test_pick_match_needs_both_teams_the_window_and_no_tie() -> None:
    aliases = TeamAliases({"T1": ["SKT"], "Gen.G": ["GEN"]})
    want = WantedMatch("m", "lol", "T1", "Gen.G", 10 * HOUR)
    c = aliases.canonical
    assert pick_match([("1", "SKT", "GEN", 11 * HOUR)], want, c, 6 * HOUR) == "1"
    assert pick_match([("1", "SKT", "DRX", 10 * HOUR)], want, c, 6 * HOUR) is None
    assert pick_match([("1", "SKT", "GEN", 17 * HOUR)], want, c, 6 * HOUR) is None
    near = [("1", "GEN", "T1", 9 * HOUR), ("2", "T1", "Gen.G", 10 * HOUR + 60)]
    assert pick_match(near, want, c, 6 * HOUR) == "2"  # the nearest start
    tie = [("1", "GEN", "T1", 9 * HOUR), ("2", "T1", "Gen.G", 11 * HOUR)]
    assert pick_match(tie, want, c, 6 * HOUR) is None  # ambiguous: bind neither
