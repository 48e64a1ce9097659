"""Hypothesis properties of the engine over random books, fills and truth events."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.domain.events import BookSnapshot, Side, TruthFinal
from polyloly.domain.fees import FeeModel, FlatPayoutFeeModel, PolymarketFeeModel
from polyloly.domain.intents import MergeIntent, PlaceOrderIntent
from polyloly.domain.orderbook import BookSet
from polyloly.domain.pairs import Leg, LegFill, PairPosition
from polyloly.strategies.pair_arb.engine import PairArbEngine
from polyloly.strategies.pair_arb.math import buy_fill, order_lot, sell_fill, should_buy_more
from polyloly.strategies.pair_arb.params import PairArbParams

SH = 1_000_000
C = 10_000
Y, N, M, MATCH = "y", "n", "m", "match"
REAL = PolymarketFeeModel()
Levels = tuple[tuple[int, int], ...]

asks = st.lists(
    st.tuples(st.integers(30, 70).map(lambda k: k * C), st.integers(1, 400).map(lambda k: k * SH)),
    min_size=0,
    max_size=4,
)
params = st.builds(
    PairArbParams,
    pair_cost_cap=st.integers(940, 1_000).map(lambda k: k * 1_000),
    max_total_cost_usdc=st.integers(30, 400).map(lambda k: k * SH),
    step_usdc=st.integers(5, 30).map(lambda k: k * SH),
    max_unpaired_usdc=st.integers(3, 40).map(lambda k: k * SH),
    merge_min_pairs_shares=st.sampled_from([0, 50 * SH]),
    stuck_leg_timeout_ns=st.sampled_from([0, 1, 30_000_000_000]),
    unwind_max_discount=st.integers(0, 20).map(lambda k: k * C),
)


@st.composite
def book_sides(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Asks, and bids within 15 cents under the best ask (so books never cross)."""
    a = draw(asks)
    top = min((p for p, _ in a), default=70 * C) // C
    b = draw(
        st.lists(
            st.tuples(
                st.integers(max(1, top - 15), top - 1).map(lambda k: k * C),
                st.integers(1, 400).map(lambda k: k * SH),
            ),
            max_size=3,
        )
    )
    return a, b


side = st.one_of(st.none(), book_sides())
# per step: new YES book or None (unchanged), new NO book or None, filled fraction in 1/4ths,
# and the time that passes (up to 20 s, so stuck legs time out now and then)
step = st.tuples(side, side, st.integers(0, 4), st.integers(1, 20_000_000_000))
Book = tuple[list[tuple[int, int]], list[tuple[int, int]]]


def snap(
    books: BookSet, token: str, levels: list[tuple[int, int]], ts: int, bid_levels: Levels = ()
) -> None:
    books.apply(
        BookSnapshot(
            ts_event=ts,
            ts_init=ts,
            market=M,
            token_id=token,
            bids=tuple(bid_levels),
            asks=tuple(levels),
            tick=C,
        )
    )


def fill_intent(
    eng: PairArbEngine, books: BookSet, intent: PlaceOrderIntent, quarters: int
) -> LegFill:
    """The venue fills a part (0..4 quarters) of the order at the walked levels."""
    book = books.book(intent.token_id)
    take = intent.size * quarters // 4
    if intent.side is Side.BUY:
        levels = book.ask_levels_for(take, intent.price)
        got = buy_fill(levels, eng.fee_model)
        for price, q in levels:
            book.set_ask(price, book.ask_size(price) - q)
    else:
        levels = book.bid_levels_for(take, intent.price)
        got = sell_fill(levels, eng.fee_model)
        for price, q in levels:
            book.set_bid(price, book.bid_size(price) - q)
    if got.shares:
        eng.on_fill(M, intent.token_id, got.shares, got.cost, got.fee, side=intent.side)
    eng.on_order_done(M)
    return got


@settings(max_examples=150, deadline=None)
@given(
    params,
    st.sampled_from([REAL, FlatPayoutFeeModel()]),
    st.tuples(asks, asks),
    st.lists(step, min_size=3, max_size=30),
    st.one_of(st.none(), st.integers(0, 40)),
)
def test_engine_invariants(
    p: PairArbParams,
    fm: FeeModel,
    start: tuple[list[tuple[int, int]], list[tuple[int, int]]],
    steps: list[tuple[Book | None, Book | None, int, int]],
    final_at: int | None,
) -> None:
    """Random books, partial fills, time and a possible TruthFinal: every rule holds."""
    eng = PairArbEngine(p, fm)
    eng.add_market(M, Y, N, MATCH)
    books = BookSet()
    snap(books, Y, start[0], 0)
    snap(books, N, start[1], 0)
    stopped = False
    t = 0
    for i, (new_yes, new_no, quarters, dt) in enumerate(steps, start=1):
        t += dt
        if final_at is not None and i == final_at:
            eng.on_truth_final(
                TruthFinal(
                    ts_event=t,
                    ts_init=t,
                    match_id=MATCH,
                    winner="a",
                    score_a=1,
                    score_b=0,
                    team_a="a",
                    team_b="b",
                    confidence=9_900,
                )
            )
            stopped = True
        if new_yes is not None:
            snap(books, Y, new_yes[0], t, tuple(new_yes[1]))
        if new_no is not None:
            snap(books, N, new_no[0], t, tuple(new_no[1]))
        before = eng.position(M)
        out = eng.evaluate(M, books, t)
        assert len(out) <= 1
        if stopped:
            assert out == []
        if not out:
            continue
        intent = out[0]
        assert eng.evaluate(M, books, t) == []  # never stacks a second intent
        if isinstance(intent, MergeIntent):
            assert intent.size == before.q_min >= p.merge_min_pairs_shares > 0
            eng.on_merged(M, intent.size)
            eng.on_order_done(M)
            after = eng.position(M)
            # a merge pays 1 pUSD a pair: it keeps the real model's guaranteed PnL and
            # beats the seed model's payout (which loses 2 % at settlement)
            assert after.guaranteed_pnl(fm) >= before.guaranteed_pnl(fm)
            if fm is REAL:
                assert after.guaranteed_pnl(fm) == before.guaranteed_pnl(fm)
            continue
        assert isinstance(intent, PlaceOrderIntent)
        check_intent(eng, books, before, intent)
        got = fill_intent(eng, books, intent, quarters)
        after = eng.position(M)
        assert after.total_cost <= p.max_total_cost_usdc
        assert after.unpaired_usdc() <= max(p.max_unpaired_usdc, before.unpaired_usdc())
        if got.shares and intent.reason != "pair_open":
            assert after.guaranteed_pnl(fm) > before.guaranteed_pnl(fm)
        if intent.reason == "pair_close" and got.shares == intent.size:
            # the whole closing buy keeps the pair cost under the cap (a partial FAK fill
            # can stop short of that, but still lifts the guaranteed PnL)
            assert after.pair_cost_below(p.pair_cost_cap)
        if intent.reason == "unwind_stuck_leg" and got.shares:
            assert after.guaranteed_pnl(fm) == before.guaranteed_pnl(fm) + got.cost - got.fee
            assert after.unpaired_usdc() < before.unpaired_usdc()


def check_intent(
    eng: PairArbEngine, books: BookSet, before: PairPosition, intent: PlaceOrderIntent
) -> None:
    p, fm = eng.params, eng.fee_model
    leg = Leg.YES if intent.token_id == Y else Leg.NO
    book = books.book(intent.token_id)
    assert intent.size % order_lot(intent.price, p) == 0
    assert intent.size >= p.min_order_shares
    if intent.side is Side.SELL:
        assert intent.reason == "unwind_stuck_leg"
        assert leg is not before.lagging
        assert before.lagging is not None
        assert intent.size <= abs(before.gap)
        floor = before.basis(leg) * SH // before.shares(leg) - p.unwind_max_discount
        assert intent.price >= floor
        planned = sell_fill(book.bid_levels_for(intent.size, intent.price), fm)
        assert planned.shares == intent.size
        assert planned.cost == intent.notional
        return
    assert intent.notional <= p.step_usdc
    planned = buy_fill(book.ask_levels_for(intent.size, intent.price), fm)
    assert planned.shares == intent.size
    assert planned.cost == intent.notional
    if intent.reason == "pair_close":
        assert leg is before.lagging
        assert intent.size <= abs(before.gap)
        assert should_buy_more(before, leg, planned, p, fm)[0]
    else:
        assert intent.reason == "pair_open"
        assert before.lagging is None or leg is before.lagging  # a dust gap opens on its leg


@settings(max_examples=60, deadline=None)
@given(st.integers(30, 69), st.integers(1, 5_000).map(lambda k: k * SH), params)
def test_no_intent_ever_for_asks_summing_to_099_near_half(
    k: int, depth: int, p: PairArbParams
) -> None:
    eng = PairArbEngine(p, REAL)
    eng.add_market(M, Y, N, MATCH)
    books = BookSet()
    snap(books, Y, [(k * C, depth)], 0)
    snap(books, N, [((99 - k) * C, depth)], 0)
    assert eng.evaluate(M, books, 1) == []
