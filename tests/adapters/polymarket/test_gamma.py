"""Gamma discovery: titles, props, and the team ↔ token mapping against the local exchange."""

from __future__ import annotations

import httpx
import pytest

from polyloly.adapters.polymarket.gamma import (
    GammaClient,
    TitleInfo,
    discover_esports,
    parse_title,
)
from polyloly.domain.markets import MarketKind, MarketRegistry, TeamAliases
from polyloly.execution.retry import RetryPolicy
from polyloly.sim.exchange import ExchangeSimulator, SimMarket


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("LoL: T1 vs Gen.G (BO3) - LCK", TitleInfo("lol", "T1", "Gen.G", 3, None, "LCK")),
        (
            "LoL: T1 vs Gen.G (BO3) - LCK - Game 2 Winner",
            TitleInfo("lol", "T1", "Gen.G", 3, 2, "LCK"),
        ),
        ("LoL: T1 vs Gen.G - Game 3 Winner", TitleInfo("lol", "T1", "Gen.G", None, 3, "")),
        (
            "Dota 2: BetBoom Team vs Aurora (BO1) - BLAST Slam Group Stage",
            TitleInfo("dota2", "BetBoom Team", "Aurora", 1, None, "BLAST Slam Group Stage"),
        ),
        (
            "League of Legends: Team Liquid vs. FlyQuest",
            TitleInfo("lol", "Team Liquid", "FlyQuest", None, None, ""),
        ),
        ("Counter-Strike: FaZe vs illwill (BO3) - HLC", None),
        ("Will BTC close above $100k?", None),
        ("LoL: who wins worlds", None),
    ],
)
def test_parse_title(title: str, expected: TitleInfo | None) -> None:
    assert parse_title(title) == expected


def _add(sim: ExchangeSimulator, **kw: object) -> tuple[str, str]:
    listing = sim.add_market(SimMarket(**kw))  # type: ignore[arg-type]
    return listing.token_ids


@pytest.mark.asyncio
async def test_discovery_maps_teams_by_name(sim: ExchangeSimulator) -> None:
    event = "lol-t1-gen-2026-11-25"
    # Outcomes listed in the opposite order to the title.
    match_tokens = _add(
        sim,
        question="LoL: T1 vs Gen.G (BO3) - LCK",
        outcomes=("Gen.G", "T1"),
        game="lol",
        slug=event,
        event_slug=event,
        tick=1_000,
        min_size=10_000_000,
        fee_rate=30_000,
        seconds_delay=3,
        game_start_time="2026-11-25T08:00:00Z",
    )
    g2_tokens = _add(
        sim,
        question="LoL: T1 vs Gen.G (BO3) - LCK - Game 2 Winner",
        outcomes=("T1", "Gen.G"),
        game="lol",
        slug=f"{event}-game2",
        event_slug=event,
        game_number=2,
    )
    _add(
        sim,
        question="Map Handicap: T1 (-1.5) vs Gen.G (+1.5)",
        outcomes=("T1", "Gen.G"),
        game="lol",
        slug=f"{event}-map-handicap",
        event_slug=event,
    )
    dota = _add(
        sim,
        question="Dota 2: Team Spirit vs Tundra Esports (BO3) - TI",
        outcomes=("Tundra", "Spirit"),
        game="dota2",
        slug="dota2-ts-tun-2026-11-25",
        event_slug="dota2-ts-tun-2026-11-25",
    )
    _add(
        sim,
        question="Counter-Strike: FaZe vs G2 (BO3) - Major",
        outcomes=("FaZe", "G2"),
        game="cs2",
        slug="cs2-faze-g2-2026-11-25",
        event_slug="cs2-faze-g2-2026-11-25",
    )
    aliases = TeamAliases({"Team Spirit": ["Spirit"], "Tundra Esports": ["Tundra"]})
    registry = MarketRegistry()
    async with httpx.AsyncClient() as http:
        report = await discover_esports(
            GammaClient(sim.gamma_url, http, page_limit=2), registry, aliases
        )
    assert len(registry) == 3, report
    assert report.skipped["not_winner_market"] == 1
    match = registry.match_market(event)
    assert match is not None
    assert match.kind is MarketKind.MATCH
    assert match.token_for("T1") == match_tokens[1]
    assert match.token_for("Gen.G") == match_tokens[0]
    assert (match.team_a, match.team_b) == ("t1", "geng")
    assert match.tick == 1_000
    assert match.min_size == 10_000_000
    assert match.fee_rate == 30_000
    assert match.seconds_delay == 3
    game2 = registry.game_market(event, 2)
    assert game2 is not None
    assert game2.token_for("T1") == g2_tokens[0]
    d = registry.match_market("dota2-ts-tun-2026-11-25")
    assert d is not None
    assert d.token_for("Team Spirit") == dota[1]
    assert d.token_for("Tundra Esports") == dota[0]
    found = {m.mapping.market_id: m for m in report.added}
    assert found[match.market_id].game_start_ns == 1_795_593_600 * 10**9
    assert found[match.market_id].best_of == 3


@pytest.mark.asyncio
async def test_unmappable_outcomes_are_skipped(sim: ExchangeSimulator) -> None:
    _add(
        sim,
        question="LoL: T1 vs Gen.G (BO3) - LCK",
        outcomes=("Yes", "No"),
        game="lol",
        slug="lol-x-2026-11-25",
        event_slug="lol-x-2026-11-25",
    )
    registry = MarketRegistry()
    async with httpx.AsyncClient() as http:
        report = await discover_esports(GammaClient(sim.gamma_url, http), registry)
    assert len(registry) == 0
    assert report.skipped["team_mapping"] == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [500, 502, 503, 425, 429])
async def test_discovery_retries_a_venue_having_a_bad_moment(
    sim: ExchangeSimulator, status: int
) -> None:
    # A restarted node discovers its markets first: one bad reply must not stop it.
    _add(
        sim,
        question="LoL: T1 vs Gen.G (BO3) - LCK",
        outcomes=("T1", "Gen.G"),
        game="lol",
        slug="lol-t1-2026-11-25",
        event_slug="lol-t1-2026-11-25",
    )
    sim.faults.http_errors(status, 2, path_prefix="/gamma")
    fast = RetryPolicy(base_delay_ms=1, max_delay_ms=4, max_attempts=4)
    registry = MarketRegistry()
    async with httpx.AsyncClient() as http:
        await discover_esports(GammaClient(sim.gamma_url, http, retry=fast), registry)
    assert len(registry) == 1
