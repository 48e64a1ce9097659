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
needs starts within 6 h). ``empty``: nothing listed. ``pair_edge``: the LoL Bo3 (dated the
same way) on a 0.01 tick with no traders; only its "Game 1 Winner" market has a book:
static, deep house asks at 0.45 and 0.48 (0.93 a pair, 0.015 of fees at most), so pair
arbitrage trades it the same way every run (crash and soak tests of the whole bot).

Scenario timelines (scripted games driving the fair values) plug in through
:class:`~polyloly.sim.exchange.traders.FairValueSource`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Final

from polyloly.domain.money import SCALE
from polyloly.runtime.clock import NS_PER_S
from polyloly.sim.exchange.config import Listing, SimMarket
from polyloly.sim.scenarios.loader import load_scenario

if TYPE_CHECKING:
    from polyloly.sim.exchange.server import ExchangeSimulator

__all__ = ["PAIR_EDGE_ASKS", "SCENARIOS", "bo3_markets", "esports_scenario", "pair_edge_scenario"]

PAIR_EDGE_ASKS: Final = (450_000, 480_000)
"""The ``pair_edge`` scenario's asks on Game 1 (team a's token, team b's token)."""
_EDGE_DEPTH: Final = 100_000 * SCALE  # shares per level: no run of a test ever moves the price

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
    best_of: int = 3,
) -> list[SimMarket]:
    """A series (a Bo3 by default): its match market and one "Game N Winner" market a game."""
    match = SimMarket(
        question=f"{title}: {team_a} vs {team_b} (BO{best_of}) - {league}",
        outcomes=(team_a, team_b),
        tick=1_000,
        min_size=5_000_000,
        fee_rate=30_000,
        game=game,
        slug=event_slug,
        event_slug=event_slug,
        event_title=f"{title}: {team_a} vs {team_b} (BO{best_of}) - {league}",
        league=league,
        best_of=best_of,
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
        for n in range(1, best_of + 1)
    ]
    return [match, *games]


def _iso(unix_s: int) -> str:
    return dt.datetime.fromtimestamp(unix_s, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _series(
    sim: ExchangeSimulator, series: tuple[tuple[str, str, str, str], ...]
) -> list[SimMarket]:
    """The Bo3 markets of ``series``, starting at the simulator's current minute."""
    now_s = sim.clock.now_ns() // NS_PER_S
    start_s = now_s - now_s % 60  # the current minute
    day = _iso(start_s)[:10]
    start, end = _iso(start_s), _iso(start_s + _SERIES_S)
    specs: list[SimMarket] = []
    for name, title, league, slug in series:
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
    return specs


def esports_scenario(sim: ExchangeSimulator) -> list[Listing]:
    """List a LoL Bo3 and a Dota 2 Bo3, starting now, with synthetic traders on every market."""
    listings = [sim.add_market(spec) for spec in _series(sim, _SERIES)]
    for listing in listings:
        sim.add_traders(listing.condition_id)
    return listings


def pair_edge_scenario(sim: ExchangeSimulator) -> list[Listing]:
    """The LoL Bo3, no traders; Game 1 has static deep asks summing to 0.93 (see module)."""
    specs = _series(sim, _SERIES[:1])
    listings = [sim.add_market(replace(spec, tick=10_000)) for spec in specs]
    game1 = listings[1]
    for token, ask in zip(game1.token_ids, PAIR_EDGE_ASKS, strict=True):
        sim.place_resting(token, "SELL", ask, _EDGE_DEPTH, owner="house")
        sim.place_resting(token, "BUY", ask - 50_000, _EDGE_DEPTH, owner="house")
    return listings


def empty_scenario(_sim: ExchangeSimulator) -> list[Listing]:
    """List nothing (tests and adapters add their own markets)."""
    return []


SCENARIOS: Final[dict[str, Callable[[ExchangeSimulator], list[Listing]]]] = {
    "esports": esports_scenario,
    "empty": empty_scenario,
    "pair_edge": pair_edge_scenario,
}
