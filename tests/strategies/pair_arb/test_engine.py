"""Table and scenario tests for the pair-arbitrage engine."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.domain.events import BookSnapshot, Side, TruthAlert, TruthFinal
from polyloly.domain.fees import FeeModel, FlatPayoutFeeModel, PolymarketFeeModel
from polyloly.domain.intents import MergeIntent, OrderType, PlaceOrderIntent
from polyloly.domain.orderbook import BookSet
from polyloly.domain.pairs import Leg, PairPosition
from polyloly.strategies.pair_arb.engine import PairArbEngine, PairArbError, PairIntent
from polyloly.strategies.pair_arb.math import buy_fill, order_lot, should_buy_more, should_buy_pair
from polyloly.strategies.pair_arb.params import PairArbParams

SH = 1_000_000
C = 10_000
REAL = PolymarketFeeModel()
Y, N, M, MATCH = "tok-yes", "tok-no", "0xmarket", "lol-t1-geng"
Levels = tuple[tuple[int, int], ...]


def snapshot(books: BookSet, token: str, asks: Levels, bids: Levels = (), ts: int = 1) -> None:
    books.apply(
        BookSnapshot(
            ts_event=ts, ts_init=ts, market=M, token_id=token, bids=bids, asks=asks, tick=C
        )
    )


def setup(
    yes_asks: Levels,
    no_asks: Levels,
    params: PairArbParams | None = None,
    fee_model: FeeModel = REAL,
) -> tuple[PairArbEngine, BookSet]:
    eng = PairArbEngine(params or PairArbParams(), fee_model)
    eng.add_market(M, Y, N, MATCH)
    books = BookSet()
    snapshot(books, Y, yes_asks)
    snapshot(books, N, no_asks)
    return eng, books


def execute(eng: PairArbEngine, books: BookSet, intent: PairIntent) -> None:
    """A venue in miniature: a FAK BUY takes asks up to its limit; a merge just merges."""
    if isinstance(intent, MergeIntent):
        eng.on_merged(intent.market, intent.size)
        eng.on_order_done(intent.market)
        return
    book = books.book(intent.token_id)
    levels = book.ask_levels_for(intent.size, intent.price)
    f = buy_fill(levels, eng.fee_model)
    for p, q in levels:
        book.set_ask(p, book.ask_size(p) - q)
    if f.shares:
        eng.on_fill(intent.market, intent.token_id, f.shares, f.cost, f.fee)
    eng.on_order_done(intent.market)


def run(eng: PairArbEngine, books: BookSet, steps: int = 50) -> list[PairIntent]:
    done: list[PairIntent] = []
    for t in range(steps):
        out = eng.evaluate(M, books, 1_000 + t)
        if not out:
            break
        assert len(out) == 1
        done.append(out[0])
        execute(eng, books, out[0])
    return done


# -- the acceptance examples -----------------------------------------------------------------------


def test_asks_049_050_are_never_bought_the_fee_eats_the_edge() -> None:
    deep = 10_000 * SH
    eng, books = setup(((49 * C, deep),), ((50 * C, deep),))
    assert eng.evaluate(M, books, 1) == []
    # not even with the cap at break-even ...
    eng2, books2 = setup(((49 * C, deep),), ((50 * C, deep),), PairArbParams(pair_cost_cap=SH))
    assert eng2.evaluate(M, books2, 1) == []
    # ... while without the fee the same books would trade
    eng3, books3 = setup(
        ((49 * C, deep),),
        ((50 * C, deep),),
        PairArbParams(pair_cost_cap=SH),
        PolymarketFeeModel(rate=0),
    )
    assert len(eng3.evaluate(M, books3, 1)) == 1


def test_asks_045_048_are_bought_in_steps_sized_by_depth() -> None:
    # YES: 20 @ 0.45 then 100 @ 0.47 ; NO: 15 @ 0.48 then 100 @ 0.49
    eng, books = setup(
        ((45 * C, 20 * SH), (47 * C, 100 * SH)), ((48 * C, 15 * SH), (49 * C, 100 * SH))
    )
    first = eng.evaluate(M, books, 10)
    assert len(first) == 1
    o = first[0]
    assert isinstance(o, PlaceOrderIntent)
    assert (o.side, o.order_type, o.reason, o.match_id) == (
        Side.BUY,
        OrderType.FAK,
        "pair_open",
        MATCH,
    )
    # NO is the scarcer leg under its cap, so it goes first; $25 buys 15 @ .48 + ~36 @ .49
    assert o.token_id == N
    assert o.price == 49 * C  # the walked limit: the deepest level needed
    assert o.notional <= 25 * SH
    assert o.size * o.price % (C * SH) == 0  # FAK amount has 2 decimals
    execute(eng, books, o)
    pos = eng.position(M)
    assert pos.q_no == o.size
    assert pos.q_yes == 0
    # the next step completes the pair on the lagging YES leg, exactly the gap
    second = eng.evaluate(M, books, 11)
    assert len(second) == 1
    c = second[0]
    assert isinstance(c, PlaceOrderIntent)
    assert (c.token_id, c.reason) == (Y, "pair_close")
    assert c.size == pos.gap * -1
    execute(eng, books, c)
    pos = eng.position(M)
    assert pos.q_yes == pos.q_no
    assert pos.pair_cost_below(975_000)
    assert pos.guaranteed_pnl(REAL) > 0


def test_whole_run_keeps_every_invariant() -> None:
    eng, books = setup(
        ((44 * C, 30 * SH), (45 * C, 80 * SH), (47 * C, 200 * SH), (52 * C, 500 * SH)),
        ((47 * C, 10 * SH), (48 * C, 60 * SH), (49 * C, 300 * SH), (55 * C, 500 * SH)),
        PairArbParams(merge_min_pairs_shares=0),
    )
    pnl = eng.position(M).guaranteed_pnl(REAL)
    intents = run(eng, books)
    assert len(intents) >= 4
    pos = eng.position(M)
    assert pos.q_yes == pos.q_no
    assert pos.guaranteed_pnl(REAL) > pnl
    assert pos.pair_cost_below(975_000)
    assert pos.total_cost <= 1_500 * SH
    for i in intents:
        assert isinstance(i, PlaceOrderIntent)
        assert i.notional <= 25 * SH
        assert i.size % order_lot(i.price, eng.params) == 0
    # stopped because the remaining books have no edge left under the cap
    assert eng.evaluate(M, books, 99) == []


def test_flat_model_trades_the_seed_way() -> None:
    eng, books = setup(((47 * C, 50 * SH),), ((50 * C, 50 * SH),), fee_model=FlatPayoutFeeModel())
    intents = run(eng, books)
    pos = eng.position(M)
    assert intents
    assert pos.q_yes == pos.q_no == 50 * SH
    assert pos.fees_yes == pos.fees_no == 0
    assert pos.guaranteed_pnl(FlatPayoutFeeModel()) == 49 * SH - 48_500_000


# -- legs, leg risk, capital -----------------------------------------------------------------------


def test_lagging_leg_is_preferred_and_leading_leg_not_bought_alone() -> None:
    eng, books = setup(((30 * C, 1_000 * SH),), ((60 * C, 1_000 * SH),))
    # we hold 40 YES @ 0.45 and 10 NO @ 0.48: NO lags by 30
    eng.set_position(
        M,
        PairPosition()
        .with_fill(Leg.YES, buy_fill([(45 * C, 40 * SH)], REAL))
        .with_fill(Leg.NO, buy_fill([(48 * C, 10 * SH)], REAL)),
    )
    # NO at 0.60 would take the pair over the cap; YES at 0.30 is cheap but leads: nothing
    assert eng.evaluate(M, books, 1) == []
    snapshot(books, N, ((50 * C, 1_000 * SH),), ts=2)
    out = eng.evaluate(M, books, 3)
    assert len(out) == 1
    o = out[0]
    assert isinstance(o, PlaceOrderIntent)
    assert o.token_id == N
    assert o.reason == "pair_close"
    assert o.size <= 30 * SH  # never past the gap


def test_unpaired_exposure_cap_bounds_the_opening_leg() -> None:
    params = PairArbParams(max_unpaired_usdc=10 * SH, merge_min_pairs_shares=0)
    eng, books = setup(((45 * C, 1_000 * SH),), ((48 * C, 1_000 * SH),), params)
    out = eng.evaluate(M, books, 1)
    assert len(out) == 1
    o = out[0]
    assert isinstance(o, PlaceOrderIntent)
    # the opening leg was halved from a $25 step until its cost + fee fit under $10
    assert o.notional + REAL.taker_fee(o.size, o.price) <= 10 * SH
    execute(eng, books, o)
    assert eng.position(M).unpaired_usdc() <= 10 * SH
    run(eng, books, 20)
    assert eng.position(M).unpaired_usdc() <= 10 * SH


def test_capital_cap_stops_buying() -> None:
    params = PairArbParams(max_total_cost_usdc=60 * SH, merge_min_pairs_shares=0)
    eng, books = setup(((45 * C, 1_000 * SH),), ((48 * C, 1_000 * SH),), params)
    run(eng, books)
    pos = eng.position(M)
    assert pos.total_cost <= 60 * SH
    assert pos.q_yes == pos.q_no
    assert pos.total_cost > 50 * SH  # it did use most of the room


def test_dust_gap_is_closed_by_the_next_pair_step() -> None:
    eng, books = setup(((45 * C, 1_000 * SH),), ((48 * C, 1_000 * SH),))
    # 2 shares of YES too many: below the 5-share minimum, no order can close it alone
    eng.set_position(
        M, PairPosition(q_yes=12 * SH, q_no=10 * SH, cost_yes=5_400_000, cost_no=4_800_000)
    )
    out = eng.evaluate(M, books, 1)
    assert len(out) == 1
    o = out[0]
    assert isinstance(o, PlaceOrderIntent)
    assert (o.token_id, o.reason) == (N, "pair_open")  # the lagging leg opens the step


# -- gating ----------------------------------------------------------------------------------------


def test_pending_intent_blocks_until_done() -> None:
    eng, books = setup(((45 * C, 1_000 * SH),), ((48 * C, 1_000 * SH),))
    first = eng.evaluate(M, books, 1)
    assert len(first) == 1
    assert eng.pending(M) == first[0].intent_id
    assert eng.evaluate(M, books, 2) == []
    eng.on_order_done(M)  # killed, nothing filled
    assert eng.pending(M) == ""
    again = eng.evaluate(M, books, 3)
    assert len(again) == 1
    assert again[0].intent_id != first[0].intent_id


def test_truth_final_stops_the_match_for_good() -> None:
    eng, books = setup(((45 * C, 1_000 * SH),), ((48 * C, 1_000 * SH),))
    eng.add_market("other", "o-y", "o-n", "another-match")
    eng.add_market("game-1", "g-y", "g-n", MATCH)  # the same match's map market
    eng.add_market("loose", "l-y", "l-n")  # a market not tied to a match
    snapshot(books, "o-y", ((45 * C, 1_000 * SH),))
    snapshot(books, "o-n", ((48 * C, 1_000 * SH),))
    final = TruthFinal(
        ts_event=1,
        ts_init=1,
        match_id=MATCH,
        winner="T1",
        score_a=2,
        score_b=0,
        team_a="T1",
        team_b="GEN",
        confidence=9_500,
    )
    eng.on_truth_final(final)
    assert eng.stop_reason(M) == "truth_final"
    assert eng.stop_reason("game-1") == "truth_final"
    assert not eng.stop_reason("other")
    assert not eng.stop_reason("loose")
    assert eng.evaluate(M, books, 2) == []
    assert len(eng.evaluate("other", books, 2)) == 1  # other matches keep trading
    eng.on_fill(M, Y, SH, 450_000, 0)  # late fills are still accounted
    assert eng.position(M).q_yes == SH


def test_truth_alert_blocks_until_unblocked() -> None:
    eng, books = setup(((45 * C, 1_000 * SH),), ((48 * C, 1_000 * SH),))
    eng.on_truth_alert(TruthAlert(ts_event=1, ts_init=1, match_id=MATCH, reason="x", blocked=False))
    assert not eng.blocked(MATCH)
    eng.on_truth_alert(TruthAlert(ts_event=1, ts_init=1, match_id=MATCH, reason="sources disagree"))
    assert eng.blocked(MATCH)
    assert eng.evaluate(M, books, 2) == []
    eng.unblock_match(MATCH)
    assert len(eng.evaluate(M, books, 3)) == 1


def test_out_of_sync_or_crossed_book_is_not_traded() -> None:
    eng, books = setup(((45 * C, 1_000 * SH),), ((48 * C, 1_000 * SH),))
    no_book = books.get(N)
    assert no_book is not None
    no_book.invalidate()
    assert eng.evaluate(M, books, 1) == []
    snapshot(books, N, ((48 * C, 1_000 * SH),), bids=((49 * C, SH),), ts=2)  # crossed
    assert eng.evaluate(M, books, 3) == []
    snapshot(books, N, ((48 * C, 1_000 * SH),), ts=4)
    assert len(eng.evaluate(M, books, 5)) == 1
    empty = BookSet()
    assert eng.evaluate(M, empty, 6) == []


def test_stop_market() -> None:
    eng, books = setup(((45 * C, 1_000 * SH),), ((48 * C, 1_000 * SH),))
    eng.stop_market(M, "market_resolved")
    assert eng.stop_reason(M) == "market_resolved"
    assert eng.evaluate(M, books, 1) == []


# -- merge -----------------------------------------------------------------------------------------


def test_merge_after_threshold_recycles_capital() -> None:
    params = PairArbParams(merge_min_pairs_shares=50 * SH)
    eng, books = setup(((45 * C, 1_000 * SH),), ((48 * C, 1_000 * SH),), params)
    merges: list[MergeIntent] = []
    for t in range(20):
        out = eng.evaluate(M, books, t)
        if not out:
            break
        if isinstance(out[0], MergeIntent):
            merges.append(out[0])
            before = eng.position(M)
            execute(eng, books, out[0])
            after = eng.position(M)
            assert after.q_min == before.q_min - out[0].size
            assert after.guaranteed_pnl(REAL) == before.guaranteed_pnl(REAL)
            assert after.total_cost < before.total_cost
            break
        execute(eng, books, out[0])
    assert merges
    m = merges[0]
    assert (m.market, m.strategy, m.reason) == (M, "pair_arb", "merge_pairs")
    assert m.size >= 50 * SH
    assert eng.position(M).realized > 0


# -- wiring ----------------------------------------------------------------------------------------


def test_intent_ids_are_deterministic() -> None:
    def session() -> list[PairIntent]:
        eng, books = setup(((45 * C, 200 * SH),), ((48 * C, 200 * SH),))
        return run(eng, books)

    a, b = session(), session()
    assert a == b
    assert [i.intent_id for i in a][:3] == [
        "pair_arb:0xmarket:1",
        "pair_arb:0xmarket:2",
        "pair_arb:0xmarket:3",
    ]


def test_on_book_change_evaluates_each_market_once() -> None:
    eng, books = setup(((45 * C, 1_000 * SH),), ((48 * C, 1_000 * SH),))
    assert eng.market_of(Y) == M
    assert eng.market_of("unknown") is None
    out = eng.on_book_change([Y, N, "unknown", Y], books, 7)
    assert len(out) == 1
    assert out[0].ts_init == 7


def test_registry_errors() -> None:
    eng, _ = setup(((45 * C, SH),), ((48 * C, SH),))
    with pytest.raises(PairArbError):
        eng.add_market(M, "a", "b")
    with pytest.raises(PairArbError):
        eng.add_market("m2", Y, "b")
    with pytest.raises(PairArbError):
        eng.add_market("m3", "a", "a")
    with pytest.raises(PairArbError):
        eng.on_fill(M, "not-ours", SH, 1, 0)
    with pytest.raises(PairArbError):
        eng.position("nope")


def test_approved_intents_pass_the_public_rules() -> None:
    """What the engine sends is exactly what the math approves."""
    eng, books = setup(
        ((45 * C, 30 * SH), (46 * C, 500 * SH)),
        ((48 * C, 500 * SH),),
        PairArbParams(merge_min_pairs_shares=0),
    )
    for t in range(10):
        pos = eng.position(M)
        out = eng.evaluate(M, books, t)
        if not out:
            break
        o = out[0]
        assert isinstance(o, PlaceOrderIntent)
        leg = Leg.YES if o.token_id == Y else Leg.NO
        f = buy_fill(books.book(o.token_id).ask_levels_for(o.size, o.price), REAL)
        if o.reason == "pair_close":
            assert should_buy_more(pos, leg, f, eng.params, REAL)[0]
        else:
            assert pos.gap == 0 or leg is pos.lagging
            other = books.book(Y if leg is Leg.NO else N)
            assert other.best_ask_price is not None
            g = buy_fill(other.ask_levels_for(o.size), REAL)
            fy, fn = (f, g) if leg is Leg.YES else (g, f)
            assert should_buy_pair(pos, fy, fn, first=leg, params=eng.params, fee_model=REAL)[0]
        execute(eng, books, o)


# -- stuck leg ------------------------------------------------------------------------------------


def test_stuck_leg_is_unwound_after_the_timeout() -> None:
    params = PairArbParams(stuck_leg_timeout_ns=30 * 10**9, unwind_max_discount=5 * C)
    eng, books = setup(((45 * C, 1_000 * SH),), ((60 * C, 1_000 * SH),), params)
    # 40 YES @ 0.45 bought, the NO leg then ran away to 0.60: it can't be bought under the cap
    eng.set_position(M, PairPosition().with_fill(Leg.YES, buy_fill([(45 * C, 40 * SH)], REAL)))
    snapshot(books, Y, ((46 * C, 1_000 * SH),), bids=((43 * C, 25 * SH), (41 * C, 100 * SH)), ts=2)
    t0 = 10**12
    assert eng.evaluate(M, books, t0) == []  # the clock starts
    assert eng.on_timer(books, t0 + 29 * 10**9) == []
    out = eng.on_timer(books, t0 + 30 * 10**9)
    assert len(out) == 1
    o = out[0]
    assert isinstance(o, PlaceOrderIntent)
    assert (o.side, o.token_id, o.reason) == (Side.SELL, Y, "unwind_stuck_leg")
    # floor = avg 0.45 + fee ≈ 0.457 - 0.05 = 0.407: 0.43 and 0.41 bids qualify, 40 shares
    assert (o.size, o.price) == (40 * SH, 41 * C)
    assert o.notional == 25 * 430_000 + 15 * 410_000
    before = eng.position(M)
    eng.on_fill(M, Y, o.size, o.notional, 0, side=Side.SELL)
    eng.on_order_done(M)
    after = eng.position(M)
    assert after.q_yes == 0
    assert after.unpaired_usdc() == 0
    assert after.guaranteed_pnl(REAL) == before.guaranteed_pnl(REAL) + o.notional


def test_stuck_leg_not_dumped_under_the_floor_or_when_disabled() -> None:
    start = PairPosition().with_fill(Leg.YES, buy_fill([(45 * C, 40 * SH)], REAL))
    for params, bids in (
        (PairArbParams(unwind_max_discount=5 * C), ((30 * C, 1_000 * SH),)),  # under the floor
        (PairArbParams(stuck_leg_timeout_ns=0), ((44 * C, 1_000 * SH),)),  # unwinding off
    ):
        eng, books = setup(((45 * C, 1_000 * SH),), ((60 * C, 1_000 * SH),), params)
        eng.set_position(M, start)
        snapshot(books, Y, ((46 * C, 1_000 * SH),), bids=bids, ts=2)
        assert eng.evaluate(M, books, 0) == []
        assert eng.on_timer(books, 10**15) == []


def test_stuck_clock_resets_when_the_leg_can_be_closed() -> None:
    params = PairArbParams(stuck_leg_timeout_ns=10)
    eng, books = setup(((45 * C, 1_000 * SH),), ((60 * C, 1_000 * SH),), params)
    eng.set_position(M, PairPosition().with_fill(Leg.YES, buy_fill([(45 * C, 40 * SH)], REAL)))
    snapshot(books, Y, ((46 * C, 1_000 * SH),), bids=((44 * C, 1_000 * SH),), ts=2)
    assert eng.evaluate(M, books, 100) == []  # stuck since 100
    snapshot(books, N, ((50 * C, 1_000 * SH),), ts=3)  # NO comes back: close it
    out = eng.evaluate(M, books, 105)
    assert len(out) == 1
    assert out[0].reason == "pair_close"
    eng.on_order_done(M)  # killed: nothing filled
    snapshot(books, N, ((60 * C, 1_000 * SH),), ts=4)  # gone again
    assert eng.evaluate(M, books, 112) == []  # a fresh clock: 112 - 100 > 10 would unwind
    sell = eng.evaluate(M, books, 122)
    assert len(sell) == 1
    assert sell[0].reason == "unwind_stuck_leg"


# -- the gate's minimum ---------------------------------------------------------------------------


def test_a_gap_under_the_gates_minimum_is_closed_by_a_pair_step_not_refused() -> None:
    # 8 NO shares short at 0.48 is a $3.84 order: above the venue's $1 minimum, below the
    # risk gate's $5. It used to be proposed alone on every book change and refused every
    # time; now the engine reads the gate's limit and closes the gap with a pair step.
    eng = PairArbEngine(PairArbParams(merge_min_pairs_shares=0), REAL, min_notional=5 * SH)
    eng.add_market(M, Y, N, MATCH)
    books = BookSet()
    snapshot(books, Y, ((45 * C, 1_000 * SH),))
    snapshot(books, N, ((48 * C, 1_000 * SH),))
    eng.set_position(
        M, PairPosition(q_yes=18 * SH, q_no=10 * SH, cost_yes=8_100_000, cost_no=4_800_000)
    )
    out = eng.evaluate(M, books, 1)
    assert len(out) == 1
    o = out[0]
    assert isinstance(o, PlaceOrderIntent)
    assert (o.token_id, o.reason) == (N, "pair_open")
    assert o.notional >= 5 * SH
    # Without the gate's limit the same books give the $3.84 close the gate refuses.
    loose, _ = setup(((45 * C, 1_000 * SH),), ((48 * C, 1_000 * SH),))
    loose.set_position(M, eng.position(M))
    (small,) = loose.evaluate(M, books, 1)
    assert isinstance(small, PlaceOrderIntent)
    assert (small.reason, small.notional) == ("pair_close", 3_840_000)


def test_the_markets_minimum_size_is_respected() -> None:
    eng = PairArbEngine(PairArbParams(merge_min_pairs_shares=0), REAL)
    eng.add_market(M, Y, N, MATCH, min_size=15 * SH)
    books = BookSet()
    snapshot(books, Y, ((45 * C, 1_000 * SH),))
    snapshot(books, N, ((48 * C, 1_000 * SH),))
    # a 10-share gap: an order for the venue's usual 5, not for this market's 15
    eng.set_position(
        M, PairPosition(q_yes=20 * SH, q_no=10 * SH, cost_yes=9_000_000, cost_no=4_800_000)
    )
    (o,) = eng.evaluate(M, books, 1)
    assert isinstance(o, PlaceOrderIntent)
    assert o.reason == "pair_open"
    assert o.size >= 15 * SH


@settings(max_examples=200, deadline=None)
@given(
    gap=st.integers(0, 40 * SH),
    ask_yes=st.integers(30, 60),
    ask_no=st.integers(30, 60),
    depth=st.integers(1, 400),
    min_usdc=st.integers(1, 20),
    min_shares=st.integers(0, 20),
)
def test_no_intent_is_ever_below_the_gates_or_the_markets_minimum(
    *, gap: int, ask_yes: int, ask_no: int, depth: int, min_usdc: int, min_shares: int
) -> None:
    eng = PairArbEngine(
        PairArbParams(merge_min_pairs_shares=0, stuck_leg_timeout_ns=1),
        REAL,
        min_notional=min_usdc * SH,
    )
    eng.add_market(M, Y, N, MATCH, min_size=min_shares * SH)
    books = BookSet()
    snapshot(books, Y, ((ask_yes * C, depth * SH),), bids=(((ask_yes - 2) * C, depth * SH),))
    snapshot(books, N, ((ask_no * C, depth * SH),), bids=(((ask_no - 2) * C, depth * SH),))
    base = 10 * SH
    eng.set_position(
        M,
        PairPosition(
            q_yes=base + gap, q_no=base, cost_yes=(base + gap) * 45 // 100, cost_no=base * 48 // 100
        ),
    )
    for t in (1, 10**12):  # a fresh evaluation, then one past the stuck-leg timeout
        for intent in eng.evaluate(M, books, t):
            if isinstance(intent, PlaceOrderIntent):
                assert intent.notional >= min_usdc * SH
                assert intent.size >= max(min_shares * SH, eng.params.min_order_shares)
            eng.on_order_done(M)
