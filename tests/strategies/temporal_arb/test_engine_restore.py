"""Temporal-arbitrage entries across a restart: one entry per result, exposure remembered."""

from __future__ import annotations

from polyloly.domain.events import BookSnapshot, MarketResolved, TruthFinal
from polyloly.domain.intents import PlaceOrderIntent
from polyloly.domain.markets import MarketKind, MarketMapping, MarketRegistry
from polyloly.domain.orderbook import BookSet
from polyloly.strategies.temporal_arb import TemporalArbEngine, TemporalArbParams

MATCH = MarketMapping(
    match_id="m1", market_id="0xM", question="LoL: T1 vs Gen.G (BO3)", kind=MarketKind.MATCH,
    team_a="t1", team_b="geng", token_a="ta", token_b="tb", seconds_delay=3,
)  # fmt: skip
OTHER = MarketMapping(
    match_id="m2", market_id="0xO", question="LoL: DK vs KT (BO3)", kind=MarketKind.MATCH,
    team_a="dk", team_b="kt", token_a="oa", token_b="ob", seconds_delay=3,
)  # fmt: skip
PARAMS = TemporalArbParams(
    max_slippage_bps=10_000, fixed_size_usdc=20_000_000, max_exposure_usdc=30_000_000
)


def _world() -> tuple[TemporalArbEngine, BookSet]:
    books = BookSet()
    for token in ("tb", "ob"):
        books.apply(
            BookSnapshot(
                ts_event=1, ts_init=1, market="x", token_id=token, bids=(),
                asks=((600_000, 100_000_000),), tick=10_000,
            )
        )  # fmt: skip
    return TemporalArbEngine(PARAMS, MarketRegistry([MATCH, OTHER]), books.get), books


def _final(match_id: str = "m1", winner: str = "geng") -> TruthFinal:
    return TruthFinal(
        ts_event=10, ts_init=11, match_id=match_id, winner=winner, score_a=0, score_b=2,
        team_a="t1" if match_id == "m1" else "dk", team_b=winner, confidence=9_850,
        sources=("grid", "pandascore"),
    )  # fmt: skip


def test_the_id_is_the_result_and_the_same_after_a_restart() -> None:
    (a,) = _world()[0].on_event(_final())
    (b,) = _world()[0].on_event(_final())
    assert a.intent_id == b.intent_id == "temporal_arb:0xM:tb:1"
    assert a == b


def test_a_result_entered_before_the_restart_is_not_entered_again() -> None:
    eng, _books = _world()
    eng.restore([("temporal_arb:0xM:tb:1", "0xM", "tb", 20_000_000)])
    assert eng.on_event(_final()) == []  # the truth engine confirms it again: no new order
    assert eng.exposure == 20_000_000
    assert not [t for t in eng.presign_targets() if t.token_id == "tb"]


def test_what_recovered_entries_commit_bounds_new_ones() -> None:
    eng, _books = _world()
    eng.restore([("temporal_arb:0xM:tb:1", "0xM", "tb", 20_000_000)])
    (entry,) = eng.on_event(_final("m2", "kt"))
    assert isinstance(entry, PlaceOrderIntent)
    assert entry.size * entry.price // 1_000_000 <= 10_000_000  # 30 cap - 20 committed


def test_a_recovered_entry_settles_and_a_resolution_releases_it() -> None:
    eng, _books = _world()
    eng.restore([("temporal_arb:0xM:tb:1", "0xM", "tb", 20_000_000)])
    eng.settle_fill("temporal_arb:0xM:tb:1", 12_000_000)  # it filled for less
    assert eng.exposure == 12_000_000
    eng.on_event(MarketResolved(ts_event=20, ts_init=20, market="0xM", winning_token_id="tb"))
    assert eng.exposure == 0


def test_a_paid_out_market_commits_nothing() -> None:
    eng, _books = _world()
    eng.restore([("temporal_arb:0xM:tb:1", "0xM", "tb", 20_000_000)], resolved=["0xM"])
    assert eng.exposure == 0
    assert eng.on_event(_final()) == []
