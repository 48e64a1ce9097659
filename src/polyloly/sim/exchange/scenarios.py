"""Built-in market sets for the standalone simulator (``--scenario NAME``).

``esports``: a LoL Bo3 (T1 vs Gen.G, LCK) and a Dota 2 Bo3 (Team Spirit vs Tundra Esports,
DreamLeague) — the teams of the ``lol_bo3_pause`` and ``dota2_bo3_2_0`` scenarios, named as
those scenarios name them —
each with its match market and its "Game 1..3 Winner" markets, the venue's esports
parameters (0.001 tick, 5-share minimum, 0.03 taker fee, 3 s taker delay on the match
markets while live) and synthetic traders on every market. Both series are dated from the
simulator's clock: they start at the current minute and end six hours later, as the
standalone esports feeds (``polyloly sim esports``) schedule the same matches from the
moment they start, so a bot pointed at both binds each match to its markets (matching
needs starts within 6 h). ``empty``: nothing listed.

Scenario timelines (scripted games driving the fair values) plug in through
:class:`~polyloly.sim.exchange.traders.FairValueSource`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Final

from polyloly.bot.clock import NS_PER_S
from polyloly.sim.exchange.config import Listing, SimMarket
from polyloly.sim.scenarios.loader import load_scenario

if TYPE_CHECKING:
    from polyloly.sim.exchange.server import ExchangeSimulator

__all__ = ["SCENARIOS", "bo3_markets", "esports_scenario"]

_SERIES_S: Final = 6 * 3_600
_SERIES: Final = (
    ("lol_bo3_pause", "LoL", "LCK", "lol-t1-gen"),
    ("dota2_bo3_2_0", "Dota 2", "DreamLeague", "dota2-ts-tundra"),
)
"""The scenarios whose matches the ``esports`` market set lists: title, league, slug."""


def bo3_markets(
    *,
    game: str,
    title: str,
    team_a: str,
    team_b: str,
    league: str,
    event_slug: str,
    start: str,
    end: str,
) -> list[SimMarket]:
    """A Bo3 series: its match market and its three "Game N Winner" markets."""
    match = SimMarket(
        question=f"{title}: {team_a} vs {team_b} (BO3) - {league}",
        outcomes=(team_a, team_b),
        tick=1_000,
        min_size=5_000_000,
        fee_rate=30_000,
        game=game,
        slug=event_slug,
        event_slug=event_slug,
        event_title=f"{title}: {team_a} vs {team_b} (BO3) - {league}",
        league=league,
        best_of=3,
        seconds_delay=3,
        game_start_time=start,
        end_date=end,
    )
    games = [
        replace(
            match,
            question=f"{title}: {team_a} vs {team_b} - Game {n} Winner",
            slug=f"{event_slug}-game{n}",
            game_number=n,
            seconds_delay=0,
        )
        for n in (1, 2, 3)
    ]
    return [match, *games]


def _iso(unix_s: int) -> str:
    return dt.datetime.fromtimestamp(unix_s, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def esports_scenario(sim: ExchangeSimulator) -> list[Listing]:
    """List a LoL Bo3 and a Dota 2 Bo3, starting now, with synthetic traders on every market."""
    now_s = sim.clock.now_ns() // NS_PER_S
    start_s = now_s - now_s % 60  # the current minute
    day = _iso(start_s)[:10]
    start, end = _iso(start_s), _iso(start_s + _SERIES_S)
    specs: list[SimMarket] = []
    for name, title, league, slug in _SERIES:
        scenario = load_scenario(name)
        specs += bo3_markets(
            game=scenario.game,
            title=title,
            team_a=scenario.team_a.name,
            team_b=scenario.team_b.name,
            league=league,
            event_slug=f"{slug}-{day}",
            start=start,
            end=end,
        )
    listings = [sim.add_market(spec) for spec in specs]
    for listing in listings:
        sim.add_traders(listing.condition_id)
    return listings


def empty_scenario(_sim: ExchangeSimulator) -> list[Listing]:
    """List nothing (tests and adapters add their own markets)."""
    return []


SCENARIOS: Final[dict[str, Callable[[ExchangeSimulator], list[Listing]]]] = {
    "esports": esports_scenario,
    "empty": empty_scenario,
}
