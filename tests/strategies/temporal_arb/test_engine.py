"""Temporal arbitrage: entries on confirmed results, book walking, caps, blocks, delay."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.domain.events import (
    BookInvalidated,
    BookSnapshot,
    Level,
    LevelChange,
    MarketResolved,
    PriceChanges,
    Side,
    TruthAlert,
    TruthDelta,
    TruthFinal,
    TruthState,
)
from polyloly.domain.intents import OrderType, PlaceOrderIntent
from polyloly.domain.markets import MarketKind, MarketMapping, MarketRegistry
from polyloly.domain.money import SCALE
from polyloly.domain.orderbook import BookSet
from polyloly.domain.risk import Quote, RiskParams, TradingState, check_order
from polyloly.strategies.temporal_arb import AskBook, TemporalArbEngine, TemporalArbParams

MATCH = MarketMapping(
    match_id="m1", market_id="0xM", question="LoL: T1 vs Gen.G (BO3)", kind=MarketKind.MATCH,
    team_a="t1", team_b="geng", token_a="ta", token_b="tb", seconds_delay=3,
)  # fmt: skip
GAME1 = msgspec.structs.replace(
    MATCH, market_id="0xG1", kind=MarketKind.GAME, game_number=1, token_a="g1a", token_b="g1b",
    question="Game 1 Winner",
)  # fmt: skip
GAME2 = msgspec.structs.replace(
    GAME1, market_id="0xG2", game_number=2, token_a="g2a", token_b="g2b"
)
OTHER = msgspec.structs.replace(MATCH, match_id="m2", market_id="0xO", token_a="oa", token_b="ob")

WIDE = TemporalArbParams(max_slippage_bps=10_000)  # walk on price alone


def shares(n: float) -> int:
    return int(Decimal(str(n)) * SCALE)


def world(
    params: TemporalArbParams = WIDE,
) -> tuple[TemporalArbEngine, BookSet, MarketRegistry]:
    registry = MarketRegistry([MATCH, GAME1, GAME2, OTHER])
    books = BookSet()
    return TemporalArbEngine(params, registry, books.get), books, registry


def snap(
    books: BookSet,
    token: str,
    asks: list[Level],
    bids: list[Level] | None = None,
    t: int = 1,
) -> BookSnapshot:
    ev = BookSnapshot(
        ts_event=t, ts_init=t, market="x", token_id=token, bids=tuple(bids or []),
        asks=tuple(asks), tick=10_000,
    )  # fmt: skip
    books.apply(ev)
    return ev


def final(
    winner: str = "geng",
    match_id: str = "m1",
    confidence: int = 9_850,
    sources: tuple[str, ...] = ("grid", "pandascore"),
    *,
    timed_out: bool = False,
) -> TruthFinal:
    return TruthFinal(
        ts_event=10, ts_init=11, match_id=match_id, winner=winner, score_a=0, score_b=2,
        team_a="t1", team_b="geng", confidence=confidence, sources=sources, timed_out=timed_out,
    )  # fmt: skip


def game_result(
    game: int = 1,
    winner: str | None = "t1",
    confidence: int = 9_850,
    t: int = 20,
    sources: tuple[str, ...] = ("grid", "pandascore"),
) -> TruthDelta:
    return TruthDelta(
        ts_event=t, ts_init=t, match_id="m1", state=TruthState.LIVE, change="game_result",
        score_a=1, score_b=0, team_a="t1", team_b="geng", confidence=0, game_number=game,
        game_winner=winner, game_confidence=confidence, game_sources=sources,
    )  # fmt: skip


def alert(blocked: bool, match_id: str = "m1") -> TruthAlert:
    return TruthAlert(ts_event=30, ts_init=30, match_id=match_id, reason="x", blocked=blocked)


def check_intent_invariants(intent: PlaceOrderIntent, params: TemporalArbParams) -> None:
    assert intent.side is Side.BUY
    assert intent.order_type is OrderType.FAK
    assert intent.price <= params.max_entry_price
    assert intent.size % params.size_lot_shares == 0
    assert intent.size * intent.price % (params.amount_quantum_usdc * SCALE) == 0
    assert 0 < intent.notional <= params.fixed_size_usdc
    assert intent.notional <= intent.size * intent.price // SCALE


# -- entries ----------------------------------------------------------------------------------


def test_final_buys_the_winner_walking_the_book() -> None:
    eng, books, _ = world()
    snap(books, "tb", [(620_000, shares(100)), (600_000, shares(10)), (960_000, shares(500))])
    snap(books, "ta", [(420_000, shares(100))])
    (intent,) = eng.on_event(final("geng"))
    assert intent.intent_id == "temporal_arb:0xM:tb:1"
    assert (intent.market, intent.token_id, intent.match_id) == ("0xM", "tb", "m1")
    assert intent.price == 950_000  # FAK at the cap: the limit protects us during the delay
    # A FAK BUY spends up to size × limit: $50 / 0.95 = 52.63 -> 52.6 shares (0.2-share lots
    # so size × 0.95 has 2 dp), i.e. $49.97, which the venue spends at the asks (10 @ 0.60,
    # then ~70.9 @ 0.62). The notional is what 52.6 shares cost at them: 6 + 42.6 × 0.62.
    assert intent.size == shares(52.6)
    assert intent.notional == 32_412_000
    assert "taker delay 3 s" in intent.reason
    assert (intent.ts_event, intent.ts_init) == (10, 11)
    check_intent_invariants(intent, WIDE)
    assert eng.exposure == intent.size * 950_000 // SCALE  # worst case at the limit


def test_walk_stops_at_the_slippage_budget() -> None:
    params = TemporalArbParams()  # 50 bps, like the risk gate
    eng, books, _ = world(params)
    snap(books, "tb", [(600_000, shares(10)), (620_000, shares(100))])
    (intent,) = eng.on_event(final("geng"))
    # avg <= 0.603: 10 @ 0.60 + 1.6 @ 0.62 = 6.992 for 11.6 shares (0.60276).
    assert (intent.size, intent.notional) == (shares(11.6), 6_992_000)
    quote = Quote(best_bid=None, best_ask=600_000, tick=10_000, min_size=5_000_000)
    state = TradingState(quotes={"tb": quote})
    assert check_order(intent, state, RiskParams()) == []  # the gate accepts it as is


def test_game_result_trades_the_game_market() -> None:
    eng, books, _ = world()
    snap(books, "g1a", [(700_000, shares(30))])
    assert eng.on_event(game_result(confidence=8_000)) == []  # single source: not enough
    (intent,) = eng.on_event(game_result(confidence=9_850))
    assert (intent.market, intent.token_id, intent.size) == ("0xG1", "g1a", shares(30))
    assert intent.notional == 21_000_000


def test_signal_waits_for_the_ask_to_come_under_the_cap() -> None:
    eng, books, _ = world()
    snap(books, "tb", [(970_000, shares(100))])
    assert eng.on_event(final("geng")) == []
    assert [s.token_id for s in eng.armed()] == ["tb"]
    assert eng.on_event(snap(books, "ta", [(50_000, shares(100))])) == []  # other token
    (intent,) = eng.on_event(snap(books, "tb", [(940_000, shares(20)), (970_000, shares(100))]))
    assert (intent.size, intent.notional) == (shares(20), 18_800_000)
    assert eng.armed() == []


def test_price_changes_rearm_the_check() -> None:
    eng, books, _ = world()
    snap(books, "tb", [(990_000, shares(100))])
    assert eng.on_event(final("geng")) == []
    change = PriceChanges(
        ts_event=5, ts_init=5, market="x",
        changes=(LevelChange("ta", Side.SELL, 10_000, shares(1)),
                 LevelChange("tb", Side.SELL, 900_000, shares(10))),
    )  # fmt: skip
    books.apply(change)
    (intent,) = eng.on_event(change)
    assert (intent.token_id, intent.size, intent.ts_init) == ("tb", shares(10), 5)


def test_out_of_sync_book_is_never_traded() -> None:
    eng, books, _ = world()
    snap(books, "tb", [(600_000, shares(100))])
    books.apply(BookInvalidated(ts_event=2, ts_init=2, token_id="tb", reason="disconnect"))
    assert eng.on_event(final("geng")) == []
    assert eng.skipped == {"book missing or out of sync": 1}
    assert len(eng.on_event(snap(books, "tb", [(600_000, shares(100))]))) == 1


def test_missing_or_crossed_book_is_never_traded() -> None:
    eng, books, _ = world()
    assert eng.on_event(final("geng")) == []
    assert eng.on_event(snap(books, "tb", [(600_000, shares(100))], [(610_000, shares(5))])) == []
    # the book rules refuse the crossed snapshot: the book is out of sync, never read
    assert not books.book("tb").in_sync
    assert eng.skipped["book missing or out of sync"] == 2


def test_one_entry_per_market_and_result() -> None:
    eng, books, _ = world()
    snap(books, "g1a", [(500_000, shares(10))])
    assert len(eng.on_event(game_result())) == 1
    assert eng.on_event(game_result()) == []
    assert eng.on_event(snap(books, "g1a", [(500_000, shares(10))])) == []
    # A corrected result is a different result: the other token may be entered once.
    snap(books, "g1b", [(500_000, shares(10))])
    (intent,) = eng.on_event(game_result(winner="geng"))
    assert intent.token_id == "g1b"


def test_exposure_cap_counts_the_worst_case() -> None:
    eng, books, _ = world()
    for token in ("ta", "tb", "g1a", "g2a", "oa"):
        snap(books, token, [(500_000, shares(1_000))])
    intents = [
        *eng.on_event(game_result(game=1)),
        *eng.on_event(game_result(game=2)),
        *eng.on_event(final("t1")),
        *eng.on_event(final("t1", match_id="m2")),
    ]
    # Each entry may spend size × 0.95 <= $50: 52.6 shares ($49.97 worst case); four fit
    # the $200 cap.
    assert [i.size for i in intents] == [shares(52.6)] * 4
    assert eng.exposure == 4 * 49_970_000
    assert eng.exposure <= WIDE.max_exposure_usdc
    # Settling frees exposure: the FAK filled only $20 of the first entry.
    eng.settle_fill(intents[0].intent_id, 20_000_000)
    assert eng.exposure == 3 * 49_970_000 + 20_000_000
    eng.on_event(MarketResolved(ts_event=1, ts_init=1, market="0xG2", winning_token_id="g2a"))
    assert eng.exposure == 2 * 49_970_000 + 20_000_000


def test_a_full_exposure_cap_skips_entries_for_want_of_room() -> None:
    # Room for three $49.97 entries and $0.09 more: less than the $1 minimum order.
    eng, books, _ = world(replace(WIDE, max_exposure_usdc=150_000_000))
    for token in ("ta", "tb", "g1a", "g2a", "oa"):
        snap(books, token, [(500_000, shares(1_000))])
    entered = [
        *eng.on_event(game_result(game=1)),
        *eng.on_event(game_result(game=2)),
        *eng.on_event(final("t1")),
    ]
    assert len(entered) == 3
    assert eng.on_event(final("t1", match_id="m2")) == []
    assert eng.skipped == {"no exposure room for a minimum order": 1}
    # A market paid out: its exposure is released and the armed signal enters on the next
    # change of its book.
    eng.on_event(MarketResolved(ts_event=1, ts_init=1, market="0xG2", winning_token_id="g2a"))
    [late] = eng.on_book(("oa",), snap(books, "oa", [(500_000, shares(1_000))], t=2))
    assert late.token_id == "oa"


def test_too_small_entries_are_skipped() -> None:
    eng, books, _ = world()
    snap(books, "tb", [(600_000, shares(4))])  # below the 5-share market minimum
    assert eng.on_event(final("geng")) == []
    assert eng.skipped == {"too little depth, budget or exposure room for a minimum order": 1}


def test_an_entry_under_the_gates_minimum_is_not_proposed_and_stays_armed() -> None:
    # 6 shares at 0.60 is a $3.60 entry: above the strategy's own $1 minimum, below the
    # risk gate's $5. The gate would refuse it and the signal fires once: not proposed.
    registry = MarketRegistry([MATCH, GAME1, GAME2, OTHER])
    books = BookSet()
    eng = TemporalArbEngine(WIDE, registry, books.get, min_notional=5 * SCALE)
    snap(books, "tb", [(600_000, shares(6))])
    assert eng.on_event(final("geng")) == []
    assert eng.armed()  # still armed: more depth may come
    (intent,) = eng.on_event(snap(books, "tb", [(600_000, shares(20))], t=2))
    assert intent.notional >= 5 * SCALE
    assert world()[0].on_event(final("geng")) == []  # (no book there: nothing)
    loose, loose_books, _ = world()
    snap(loose_books, "tb", [(600_000, shares(6))])
    (small,) = loose.on_event(final("geng"))
    assert small.notional == 3_600_000  # what the gate used to refuse


# -- blocks and filters --------------------------------------------------------------------------


def test_alert_blocks_and_disarms_until_unblocked() -> None:
    eng, books, _ = world()
    snap(books, "tb", [(990_000, shares(100))])
    eng.on_event(final("geng"))
    assert eng.armed()
    eng.on_event(alert(blocked=True))
    assert eng.is_blocked("m1")
    assert eng.armed() == []
    assert eng.on_event(snap(books, "tb", [(600_000, shares(100))])) == []
    snap(books, "g1a", [(600_000, shares(100))])
    assert eng.on_event(game_result()) == []
    assert eng.skipped["match blocked by a truth alert"] == 1
    eng.on_event(alert(blocked=False))
    assert not eng.is_blocked("m1")
    assert len(eng.on_event(game_result())) == 1


def test_withdrawn_or_disputed_game_result_disarms() -> None:
    eng, books, _ = world()
    snap(books, "g1a", [(990_000, shares(100))])
    eng.on_event(game_result())
    assert eng.armed()
    eng.on_event(game_result(winner=None, confidence=0))
    assert eng.armed() == []


def test_filters() -> None:
    eng, books, _ = world(replace(WIDE, trade_game_markets=False))
    snap(books, "tb", [(600_000, shares(100))])
    snap(books, "g1a", [(600_000, shares(100))])
    timeout = final("geng", confidence=8_000, sources=("opendota",), timed_out=True)
    assert eng.on_event(timeout) == []  # FINAL by timeout at 0.80
    assert eng.on_event(game_result()) == []
    assert len(eng.on_event(final("geng", confidence=9_000))) == 1
    eng2, books2, _ = world(replace(WIDE, trade_match_markets=False))
    snap(books2, "tb", [(600_000, shares(100))])
    assert eng2.on_event(final("geng")) == []


def test_unknown_markets_and_teams() -> None:
    eng, books, registry = world()
    assert eng.on_event(final("geng", match_id="nope")) == []
    assert eng.on_event(game_result(game=3)) == []
    assert eng.on_event(final("drx")) == []
    assert eng.skipped == {"winner is not one of the market's teams": 1}
    snap(books, "tb", [(990_000, shares(100))])
    eng.on_event(final("geng"))
    registry.remove("0xM")
    assert eng.on_event(snap(books, "tb", [(600_000, shares(100))])) == []
    assert eng.on_event(msgspec.structs.replace(game_result(), change="paused")) == []


def test_same_events_same_intents() -> None:
    def run() -> list[bytes]:
        eng, books, _ = world()
        out = []
        for ev in (
            snap(books, "tb", [(970_000, shares(50))]),
            final("geng"),
            game_result(),
            snap(books, "g1a", [(550_000, shares(40))]),
            snap(books, "tb", [(700_000, shares(50))]),
        ):
            out += [i.intent_id.encode() + repr(i).encode() for i in eng.on_event(ev)]
        return out

    assert run() == run()
    assert len(run()) == 2


# -- a book that is not domain.orderbook.OrderBook ----------------------------------------------


@dataclass
class FakeBook:
    """The smallest book the Protocol accepts: one ask level, no bids."""

    price: int
    size: int
    in_sync: bool = True
    best_bid: tuple[int, int] | None = None

    @property
    def best_ask(self) -> tuple[int, int] | None:
        return (self.price, self.size) if self.size else None

    def cost_to_buy(self, shares: int, price_cap: int | None = None) -> tuple[int, int, int]:
        if price_cap is not None and self.price > price_cap:
            return (0, 0, 0)
        q = min(shares, self.size)
        return (q, -(-q * self.price // SCALE), self.price) if q else (0, 0, 0)


def test_protocol_with_a_fake_book() -> None:
    book: AskBook = FakeBook(price=900_000, size=shares(1_000))
    registry = MarketRegistry([MATCH])
    eng = TemporalArbEngine(TemporalArbParams(), registry, {"tb": book}.get)
    (intent,) = eng.on_event(final("geng"))
    # $50 / 0.95 (the limit: what a FAK BUY may spend) = 52.6 shares, costing 47.34 at 0.90.
    assert (intent.size, intent.notional) == (shares(52.6), 47_340_000)


def test_params_validation_and_config() -> None:
    p = TemporalArbParams.from_config(min_confidence="0.9", max_entry_price="0.95")
    assert p == TemporalArbParams()
    with pytest.raises(ValueError, match="basis point"):
        TemporalArbParams.from_config(min_confidence="0.90005")
    for kw in (
        {"max_entry_price": 1_000_000},
        {"fixed_size_usdc": 0},
        {"fixed_size_usdc": 300_000_000},
        {"min_confidence": 10_001},
        {"max_slippage_bps": -1},
        {"size_lot_shares": 0},
    ):
        with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
            TemporalArbParams(**kw)  # type: ignore[arg-type]


# -- properties ------------------------------------------------------------------------------------

levels = st.lists(
    st.tuples(st.integers(1, 99).map(lambda c: c * 10_000), st.integers(1, 5_000).map(shares)),
    min_size=1,
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(
    levels,
    st.integers(1, 99).map(lambda c: c * 10_000),
    st.integers(1, 200).map(lambda d: d * SCALE),
    st.integers(0, 500),
)
def test_any_book_gives_a_sound_intent(
    asks: list[Level], cap: int, budget: int, slippage: int
) -> None:
    params = TemporalArbParams(
        max_entry_price=cap,
        fixed_size_usdc=budget,
        max_exposure_usdc=max(budget, 200 * SCALE),
        max_slippage_bps=slippage,
    )
    eng, books, _ = world(params)
    snap(books, "tb", asks)
    intents = eng.on_event(final("geng"))
    book = books.get("tb")
    assert book is not None
    best = min(p for p, _ in asks)
    if best > cap:
        assert intents == []
    for intent in intents:
        check_intent_invariants(intent, params)
        filled, cost, _ = book.cost_to_buy(intent.size, intent.price)
        assert (filled, cost) == (intent.size, intent.notional)  # the book holds it under the cap
        avg = -(-intent.notional * SCALE // intent.size)
        assert avg * 10_000 <= best * (10_000 + slippage)
        assert eng.exposure <= params.max_exposure_usdc
