"""The lead per source and per result, measured from an event log (``polyloly latency``)."""

from __future__ import annotations

from polyloly.backtest.lead import CONFIRMED, ORDER, format_lead_report, measure_leads
from polyloly.domain.events import (
    BookSnapshot,
    Event,
    LastTrade,
    MatchEvent,
    MatchEventKind,
    Side,
    TruthDelta,
    TruthFinal,
    TruthState,
)
from polyloly.domain.intents import OrderType, PlaceOrderIntent
from polyloly.domain.markets import MarketKind, MarketMapping
from polyloly.node.session import MarketDiscovered

K = MatchEventKind
S = 1_000_000_000
GAME1 = MarketMapping(
    match_id="m", market_id="0xG1", question="Game 1 Winner", kind=MarketKind.GAME,
    game_number=1, team_a="t1", team_b="geng", token_a="g1a", token_b="g1b",
)  # fmt: skip
MATCH = MarketMapping(
    match_id="m", market_id="0xM", question="T1 vs Gen.G", kind=MarketKind.MATCH,
    team_a="t1", team_b="geng", token_a="ma", token_b="mb",
)  # fmt: skip


def report(t: int, source: str, kind: K, game: int | None = None, winner: str = "") -> MatchEvent:
    return MatchEvent(
        ts_event=t * S, ts_init=t * S, source=source, match_id="m", provider_match_id="x",
        kind=kind, team_a="t1", team_b="geng", game_number=game, winner=winner or None,
    )  # fmt: skip


def intent(t: int, strategy: str, market: str, token: str) -> PlaceOrderIntent:
    return PlaceOrderIntent(
        ts_event=t * S, ts_init=t * S, intent_id=f"{strategy}:{market}:{token}:1",
        strategy=strategy, market=market, token_id=token, side=Side.BUY, price=950_000,
        size=10_000_000, order_type=OrderType.FAK, notional=6_000_000, match_id="m",
    )  # fmt: skip


def book(t: int, token: str, bid: int, ask: int) -> BookSnapshot:
    return BookSnapshot(
        ts_event=t * S, ts_init=t * S, market="x", token_id=token,
        bids=((bid, 10_000_000),), asks=((ask, 10_000_000),), tick=10_000,
    )  # fmt: skip


def log() -> list[Event]:
    discovered = [
        MarketDiscovered(ts_event=0, ts_init=0, mapping=m, game="lol", best_of=1)
        for m in (GAME1, MATCH)
    ]
    return [
        *discovered,
        book(1, "g1a", 500_000, 520_000),
        book(1, "ma", 500_000, 520_000),
        report(10, "grid", K.GAME_STARTED, 1),
        intent(50, "pair_arb", "0xG1", "g1a"),  # pair arbitrage never counts
        report(100, "grid", K.GAME_ENDED, 1, "t1"),
        report(102, "pandascore", K.GAME_ENDED, 1, "t1"),
        TruthDelta(
            ts_event=102 * S,
            ts_init=102 * S,
            match_id="m",
            state=TruthState.LIVE,
            change="game_result",
            score_a=1,
            score_b=0,
            team_a="t1",
            team_b="geng",
            confidence=0,
            game_number=1,
            game_winner="t1",
            game_confidence=9_850,
            game_sources=("grid", "pandascore"),
        ),
        intent(102, "temporal_arb", "0xG1", "g1a"),
        report(103, "grid", K.MATCH_ENDED, None, "t1"),
        TruthFinal(
            ts_event=103 * S,
            ts_init=113 * S,
            match_id="m",
            winner="t1",
            score_a=1,
            score_b=0,
            team_a="t1",
            team_b="geng",
            confidence=8_000,
            sources=("grid",),
            timed_out=True,
        ),
        LastTrade(
            ts_event=106 * S,
            ts_init=106 * S,
            market="0xG1",
            token_id="g1a",
            price=920_000,
            size=1,
            side=Side.BUY,
        ),
        report(120, "polymarket_sports", K.GAME_ENDED, 1, "t1"),
        report(121, "polymarket_sports", K.MATCH_ENDED, None, "t1"),
        book(130, "ma", 940_000, 960_000),  # the match token's mid crosses 0.90
    ]


def test_leads_per_source_and_result() -> None:
    rep = measure_leads(log())
    assert (rep.seen, rep.confirmed, rep.acted) == (2, 1, 1)  # the match: a one-source timeout
    game, match = rep.results
    assert game.label == "m map 1"
    assert game.reported_ns == {
        "grid": 100 * S,
        "pandascore": 102 * S,
        "polymarket_sports": 120 * S,
    }
    assert (game.confirmed_ns, game.order_ns) == (102 * S, 102 * S)
    assert (game.sports_ns, game.repriced_ns) == (120 * S, 106 * S)
    assert (match.confirmed_ns, match.order_ns, match.repriced_ns) == (None, None, 130 * S)
    by = {s.source: s for s in rep.sources}
    assert by["grid"].over_sports == (20 * S, 18 * S)
    assert by["grid"].over_reprice == (6 * S, 27 * S)
    assert by[CONFIRMED].over_sports == (18 * S,)
    assert by[ORDER].over_reprice == (4 * S,)
    assert "polymarket_sports" not in by  # the baseline is not a row of its own
    text = "\n".join(format_lead_report(rep))
    assert "2 seen, 1 confirmed, 1 acted on" in text
    assert "+18.00 s" in text
