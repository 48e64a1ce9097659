"""Temporal-arb intent ids with a session namespace."""

from __future__ import annotations

import msgspec

from polyloly.domain.events import BookSnapshot, TruthFinal
from polyloly.domain.intents import PlaceOrderIntent
from polyloly.domain.markets import MarketKind, MarketMapping, MarketRegistry
from polyloly.domain.orderbook import BookSet
from polyloly.strategies.temporal_arb import TemporalArbEngine, TemporalArbParams

MATCH = MarketMapping(
    match_id="m1", market_id="0xM", question="LoL: T1 vs Gen.G (BO3)", kind=MarketKind.MATCH,
    team_a="t1", team_b="geng", token_a="ta", token_b="tb", seconds_delay=3,
)  # fmt: skip


def entry(namespace: str | None) -> PlaceOrderIntent:
    registry = MarketRegistry([MATCH])
    books = BookSet()
    params = TemporalArbParams(max_slippage_bps=10_000)
    if namespace is None:
        eng = TemporalArbEngine(params, registry, books.get)
    else:
        eng = TemporalArbEngine(params, registry, books.get, id_namespace=namespace)
    books.apply(
        BookSnapshot(
            ts_event=1,
            ts_init=1,
            market="0xM",
            token_id="tb",
            bids=(),
            asks=((600_000, 100_000_000),),
            tick=10_000,
        )
    )
    final = TruthFinal(
        ts_event=10, ts_init=11, match_id="m1", winner="geng", score_a=0, score_b=2,
        team_a="t1", team_b="geng", confidence=9_850, sources=("grid", "pandascore"),
    )  # fmt: skip
    (intent,) = eng.on_event(final)
    return intent


def test_namespace_prefixes_the_key() -> None:
    assert entry("s7").intent_id == "temporal_arb:s7:0xM:tb:1"


def test_sessions_differ_only_in_the_id_and_replays_repeat_it() -> None:
    a, b = entry("s1"), entry("s2")
    assert a.intent_id != b.intent_id
    assert entry("s1") == a
    assert msgspec.structs.replace(a, intent_id="") == msgspec.structs.replace(b, intent_id="")


def test_empty_namespace_keeps_todays_id() -> None:
    assert entry(None).intent_id == entry("").intent_id == "temporal_arb:0xM:tb:1"
