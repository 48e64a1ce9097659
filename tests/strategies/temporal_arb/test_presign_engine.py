"""Temporal arbitrage in presign mode: the standard entry and the presign targets."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.domain.events import (
    BookSnapshot,
    Level,
    MarketResolved,
    Side,
    TruthAlert,
    TruthDelta,
    TruthFinal,
    TruthState,
)
from polyloly.domain.intents import OrderType
from polyloly.domain.markets import MarketKind, MarketMapping, MarketRegistry
from polyloly.domain.money import SCALE, VALID_TICKS
from polyloly.domain.orderbook import BookSet
from polyloly.strategies.temporal_arb import TemporalArbEngine, TemporalArbParams
from polyloly.strategies.temporal_arb.engine import (
    PresignTarget,
    entry_limit,
    size_lot,
    standard_entry,
)
from polyloly.strategies.temporal_arb.params import TemporalArbParamsError

MATCH = MarketMapping(
    match_id="m1", market_id="0xM", question="LoL: T1 vs Gen.G (BO3)", kind=MarketKind.MATCH,
    team_a="t1", team_b="geng", token_a="ta", token_b="tb",
)  # fmt: skip
GAME1 = msgspec.structs.replace(
    MATCH, market_id="0xG1", kind=MarketKind.GAME, game_number=1, token_a="g1a", token_b="g1b",
    question="Game 1 Winner",
)  # fmt: skip
GAME2 = msgspec.structs.replace(
    GAME1, market_id="0xG2", game_number=2, token_a="g2a", token_b="g2b"
)
PRESIGN = TemporalArbParams(presign=True)


def world(params: TemporalArbParams = PRESIGN) -> tuple[TemporalArbEngine, BookSet]:
    books = BookSet()
    return TemporalArbEngine(params, MarketRegistry([MATCH, GAME1, GAME2]), books.get), books


def snap(books: BookSet, token: str, asks: list[Level]) -> BookSnapshot:
    ev = BookSnapshot(
        ts_event=1, ts_init=1, market="x", token_id=token, bids=((asks[0][0] - 50_000, SCALE),),
        asks=tuple(asks), tick=10_000,
    )  # fmt: skip
    books.apply(ev)
    return ev


def delta(
    change: str,
    state: TruthState = TruthState.LIVE,
    game: int | None = None,
    winner: str | None = None,
    confidence: int = 0,
) -> TruthDelta:
    return TruthDelta(
        ts_event=5, ts_init=5, match_id="m1", state=state, change=change, score_a=0, score_b=0,
        team_a="t1", team_b="geng", confidence=confidence, game_number=game,
        game_winner=winner, game_confidence=confidence, game_sources=("grid", "pandascore"),
    )  # fmt: skip


def final(winner: str = "geng") -> TruthFinal:
    return TruthFinal(
        ts_event=10, ts_init=11, match_id="m1", winner=winner, score_a=0, score_b=2,
        team_a="t1", team_b="geng", confidence=9_850, sources=("grid", "pandascore"),
    )  # fmt: skip


def tokens(engine: TemporalArbEngine) -> list[str]:
    return sorted(t.token_id for t in engine.presign_targets())


# ---------------------------------------------------------------------------------------------
# The standard entry
# ---------------------------------------------------------------------------------------------


def test_standard_entry_of_the_defaults() -> None:
    assert standard_entry(PRESIGN, MATCH) == (950_000, 52_600_000)  # 52.6 × 0.95 = 49.97


@settings(max_examples=150, deadline=None)
@given(
    cap=st.integers(1, 999_999),
    tick=st.sampled_from(sorted(VALID_TICKS)),
    budget_cents=st.integers(100, 100_000),
)
def test_standard_entry_never_spends_more_than_the_budget(
    cap: int, tick: int, budget_cents: int
) -> None:
    budget = budget_cents * 10_000
    params = TemporalArbParams(
        presign=True, max_entry_price=cap, fixed_size_usdc=budget, max_exposure_usdc=budget,
        min_order_usdc=0,
    )  # fmt: skip
    mapping = msgspec.structs.replace(MATCH, tick=tick, min_size=0)
    entry = standard_entry(params, mapping)
    limit = entry_limit(params, tick)
    if entry is None:
        assert limit <= 0 or budget * SCALE // limit < size_lot(params, limit)
        return
    price, size = entry
    assert price == limit
    assert price % tick == 0
    assert price <= cap
    assert size % 10_000 == 0  # whole hundredths of a share
    assert size * price % (10_000 * SCALE) == 0  # the cost has at most two decimals
    assert size * price <= budget * SCALE  # never more than the budget
    assert (size + size_lot(params, price)) * price > budget * SCALE  # and the largest such


def test_params_validate_the_order_type() -> None:
    with pytest.raises(TemporalArbParamsError, match="FAK or FOK"):
        TemporalArbParams(order_type=OrderType.GTC)
    assert TemporalArbParams.from_config(order_type="FOK", presign=True).order_type is OrderType.FOK
    with pytest.raises(TemporalArbParamsError, match="unknown order type"):
        TemporalArbParams.from_config(order_type="IOC")


# ---------------------------------------------------------------------------------------------
# Presign mode: the intent is the standard entry whenever the book allows it
# ---------------------------------------------------------------------------------------------


def test_presign_mode_sends_the_standard_entry() -> None:
    engine, books = world()
    snap(books, "tb", [(600_000, 1_000 * SCALE)])
    engine.on_event(delta("match_started"))
    target = next(t for t in engine.presign_targets() if t.token_id == "tb")
    [intent] = engine.on_event(final("geng"))
    assert (intent.token_id, intent.side, intent.price, intent.size, intent.order_type) == (
        target.token_id, target.side, target.price, target.size, target.order_type,
    )  # fmt: skip
    assert intent.notional == 52_600_000 * 600_000 // SCALE  # what the book is expected to cost


def test_normal_mode_still_walks_the_book() -> None:
    engine, books = world(TemporalArbParams())
    snap(books, "tb", [(600_000, 1_000 * SCALE)])
    [intent] = engine.on_event(final("geng"))
    # $50 / 0.95 = 52.6 shares: the FAK may spend 49.97, which buys ~83 shares at 0.60
    assert intent.size == 52_600_000
    assert intent.order_type is OrderType.FAK


def test_a_short_book_still_gets_the_standard_fak() -> None:
    engine, books = world()
    snap(books, "tb", [(600_000, 10 * SCALE)])  # 10 shares: the FAK fills those, kills the rest
    [intent] = engine.on_event(final("geng"))
    assert (intent.price, intent.size) == (950_000, 52_600_000)
    assert intent.notional == 6 * SCALE


@pytest.mark.parametrize(
    ("params", "asks", "size"),
    [
        # a ladder would average far above the best ask: the walked size, within slippage
        (PRESIGN, [(600_000, 10 * SCALE), (900_000, 1_000 * SCALE)], 10 * SCALE),
        # FOK on a short book would be killed: the walked, fully fillable size
        (
            TemporalArbParams(presign=True, order_type=OrderType.FOK),
            [(600_000, 10 * SCALE)],
            10 * SCALE,
        ),
    ],
)  # fmt: skip
def test_falls_back_to_the_walked_size(
    params: TemporalArbParams, asks: list[Level], size: int
) -> None:
    engine, books = world(params)
    snap(books, "tb", asks)
    [intent] = engine.on_event(final("geng"))
    assert intent.size == size
    assert intent.order_type is params.order_type


def test_falls_back_when_the_exposure_room_is_short() -> None:
    engine, books = world(TemporalArbParams(presign=True, max_exposure_usdc=60 * SCALE))
    snap(books, "g1b", [(600_000, 1_000 * SCALE)])
    snap(books, "tb", [(600_000, 1_000 * SCALE)])
    [first] = engine.on_event(delta("game_result", game=1, winner="geng", confidence=9_500))
    assert first.size == 52_600_000  # worst case 49.97: 10.03 of room left
    [second] = engine.on_event(final("geng"))
    assert second.size == 10_400_000  # 10.03 / 0.95 = 10.55, on the 0.2-share lot


# ---------------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------------


def test_targets_follow_the_series() -> None:
    engine, books = world()
    assert engine.presign_targets() == []
    engine.on_event(delta("scheduled", state=TruthState.PRE_MATCH))
    assert tokens(engine) == []
    engine.on_event(delta("match_started"))
    assert tokens(engine) == ["ta", "tb"]
    engine.on_event(delta("game_started", game=1))
    assert tokens(engine) == ["g1a", "g1b", "ta", "tb"]
    engine.on_event(delta("paused", state=TruthState.PAUSED, game=1))
    assert tokens(engine) == ["g1a", "g1b", "ta", "tb"]
    # a result not yet confident enough: only the winner's token stays
    engine.on_event(delta("game_result", game=1, winner="geng", confidence=8_000))
    assert tokens(engine) == ["g1b", "ta", "tb"]
    # confirmed but the book is above the cap: armed, still a target
    snap(books, "g1b", [(990_000, SCALE)])
    assert engine.on_event(delta("game_result", game=1, winner="geng", confidence=9_500)) == []
    assert tokens(engine) == ["g1b", "ta", "tb"]
    # the seller comes under the cap: it fires, and the target is gone
    assert engine.on_event(snap(books, "g1b", [(700_000, 100 * SCALE)]))
    assert tokens(engine) == ["ta", "tb"]
    engine.on_event(delta("game_started", game=2))
    engine.on_event(delta("match_ended", state=TruthState.POST_MATCH_PENDING))
    assert tokens(engine) == ["g2a", "g2b", "ta", "tb"]
    snap(books, "tb", [(990_000, SCALE)])
    engine.on_event(final("geng"))  # armed on the match market, nothing under the cap
    assert tokens(engine) == ["tb"]  # the series is over: only the armed winner is left
    engine.on_event(MarketResolved(ts_event=20, ts_init=20, market="0xM", winning_token_id="tb"))
    assert engine.presign_targets() == []


def test_targets_carry_the_standard_entry() -> None:
    engine, _ = world(TemporalArbParams(presign=True, order_type=OrderType.FOK))
    engine.on_event(delta("match_started"))
    assert engine.presign_targets()[0] == PresignTarget(
        match_id="m1", market_id="0xM", token_id="ta", side=Side.BUY, price=950_000,
        size=52_600_000, order_type=OrderType.FOK,
    )  # fmt: skip


def test_blocked_matches_and_disabled_market_kinds_have_no_targets() -> None:
    engine, _ = world(TemporalArbParams(presign=True, trade_game_markets=False))
    engine.on_event(delta("game_started", game=1))
    assert tokens(engine) == ["ta", "tb"]
    engine.on_event(TruthAlert(ts_event=6, ts_init=6, match_id="m1", reason="dispute"))
    assert tokens(engine) == []
    engine.on_event(TruthAlert(ts_event=7, ts_init=7, match_id="m1", reason="ok", blocked=False))
    assert tokens(engine) == ["ta", "tb"]
    engine, _ = world(TemporalArbParams(presign=True, trade_match_markets=False))
    engine.on_event(delta("game_started", game=1))
    assert tokens(engine) == ["g1a", "g1b"]


def test_a_withdrawn_game_result_wants_both_outcomes_again() -> None:
    engine, _ = world()
    engine.on_event(delta("game_started", game=1))
    engine.on_event(delta("game_result", game=1, winner="t1", confidence=8_000))
    assert "g1b" not in tokens(engine)
    engine.on_event(delta("game_result", game=1, winner=None))
    assert {"g1a", "g1b"} <= set(tokens(engine))


def test_markets_below_the_minimum_size_have_no_target() -> None:
    small = msgspec.structs.replace(MATCH, min_size=100 * SCALE)
    engine = TemporalArbEngine(PRESIGN, MarketRegistry([small]), BookSet().get)
    engine.on_event(delta("match_started"))
    assert engine.presign_targets() == []
