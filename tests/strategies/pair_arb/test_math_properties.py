"""Hypothesis properties of the pair-arbitrage math."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.domain.fees import FeeModel, FlatPayoutFeeModel, PolymarketFeeModel
from polyloly.domain.pairs import Leg, LegFill, PairPosition
from polyloly.strategies.pair_arb.math import (
    buy_fill,
    fee_per_share,
    max_price_under,
    pair_edge,
    sell_fill,
    should_buy_more,
    should_buy_pair,
)
from polyloly.strategies.pair_arb.params import PairArbParams

SH = 1_000_000
C = 10_000
REAL = PolymarketFeeModel()

fee_models = st.sampled_from([REAL, FlatPayoutFeeModel(), PolymarketFeeModel(rate=0)])
legs = st.sampled_from([Leg.YES, Leg.NO])
cent_prices = st.integers(1, 99).map(lambda k: k * C)
share_qty = st.integers(1, 200_000).map(lambda k: k * 10_000)  # 0.01 .. 2,000 shares
params = st.builds(
    PairArbParams,
    pair_cost_cap=st.integers(900_000, 1_000_000),
    max_total_cost_usdc=st.integers(50, 3_000).map(lambda k: k * SH),
    step_usdc=st.just(SH),
    max_unpaired_usdc=st.integers(1, 500).map(lambda k: k * SH),
)


def leg_fill(fee_model: FeeModel) -> st.SearchStrategy[LegFill]:
    """A fill over 1-3 levels of a book (so cost and fee are priced as the engine does)."""
    lv = st.lists(st.tuples(cent_prices, share_qty), min_size=1, max_size=3)
    return lv.map(lambda levels: buy_fill(levels, fee_model))


@st.composite
def positions(draw: st.DrawFn, fee_model: FeeModel) -> PairPosition:
    pos = PairPosition()
    for _ in range(draw(st.integers(0, 4))):
        pos = pos.with_fill(draw(legs), draw(leg_fill(fee_model)))
    if pos.q_min and draw(st.booleans()):
        pos = pos.merged(draw(st.integers(0, pos.q_min)))
    return pos


@st.composite
def scenario(draw: st.DrawFn) -> tuple[FeeModel, PairPosition, Leg, LegFill, PairArbParams]:
    fm = draw(fee_models)
    return fm, draw(positions(fm)), draw(legs), draw(leg_fill(fm)), draw(params)


@settings(max_examples=400, deadline=None)
@given(scenario())
def test_every_approved_single_buy_stays_under_cap_and_raises_pnl(
    s: tuple[FeeModel, PairPosition, Leg, LegFill, PairArbParams],
) -> None:
    fm, pos, leg, f, p = s
    ok, reason = should_buy_more(pos, leg, f, p, fm)
    new = pos.with_fill(leg, f)
    if ok:
        assert new.pair_cost_below(p.pair_cost_cap)
        avg = new.pair_cost_avg()
        assert avg is not None
        assert avg < Fraction(p.pair_cost_cap, SH)
        assert new.guaranteed_pnl(fm) > pos.guaranteed_pnl(fm)
        assert new.total_cost <= p.max_total_cost_usdc
        assert new.unpaired_usdc() <= max(p.max_unpaired_usdc, pos.unpaired_usdc())
        assert leg is pos.lagging  # a lone buy can only help by lifting q_min
    else:
        assert reason != "ok"


@settings(max_examples=400, deadline=None)
@given(scenario(), st.data())
def test_every_approved_pair_step_stays_under_cap_and_raises_pnl(
    s: tuple[FeeModel, PairPosition, Leg, LegFill, PairArbParams], data: st.DataObject
) -> None:
    fm, pos, first, fy, p = s
    fn = data.draw(leg_fill(fm))
    ok, _ = should_buy_pair(pos, fy, fn, first=first, params=p, fee_model=fm)
    if ok:
        new = pos.with_fill(Leg.YES, fy).with_fill(Leg.NO, fn)
        mid = pos.with_fill(first, fy if first is Leg.YES else fn)
        avg = new.pair_cost_avg()
        assert avg is not None
        assert avg < Fraction(p.pair_cost_cap, SH)
        assert new.guaranteed_pnl(fm) > pos.guaranteed_pnl(fm)
        assert new.total_cost <= p.max_total_cost_usdc
        limit = max(p.max_unpaired_usdc, pos.unpaired_usdc())
        assert mid.unpaired_usdc() <= limit
        assert new.unpaired_usdc() <= limit


@settings(max_examples=300, deadline=None)
@given(
    fee_models,
    st.lists(
        st.one_of(
            st.tuples(
                st.just("buy"), legs, st.lists(st.tuples(cent_prices, share_qty), max_size=3)
            ),
            st.tuples(st.just("merge"), st.integers(0, 1000)),
            st.tuples(st.just("sell"), legs, st.integers(0, 1000), cent_prices),
        ),
        max_size=12,
    ),
)
def test_guaranteed_pnl_is_payout_minus_everything_paid(
    fm: FeeModel, ops: list[tuple[object, ...]]
) -> None:
    """Integer equality, through any buys, sells and merges: nothing is lost to rounding."""
    pos = PairPosition()
    paid = 0  # every cost and fee ever paid
    merged_back = 0  # pUSD that merges and sells returned, net of fees
    for o in ops:
        if o[0] == "sell":
            _, leg, share, price = o
            assert isinstance(leg, Leg)
            assert isinstance(share, int)
            assert isinstance(price, int)
            f = sell_fill([(price, pos.shares(leg) * share // 1000)], fm)
            pos = pos.hypo_sell(leg, f.shares, f.cost, f.fee)
            merged_back += f.cost - f.fee
        elif o[0] == "buy":
            _, leg, levels = o
            assert isinstance(leg, Leg)
            assert isinstance(levels, list)
            f = buy_fill(levels, fm)
            pos = pos.with_fill(leg, f)
            paid += f.cost + f.fee
        else:
            share = o[1]
            assert isinstance(share, int)
            n = pos.q_min * share // 1000
            pos = pos.merged(n)
            merged_back += n
        assert pos.guaranteed_pnl(fm) == merged_back + fm.payout(pos.q_min) - paid
        # the pair cost in micros is the exact average rounded up
        exact = pos.pair_cost_avg()
        if exact is not None:
            micros = pos.pair_cost_avg_micros()
            assert micros is not None
            assert micros - 1 < exact * SH <= micros


@settings(max_examples=300, deadline=None)
@given(st.integers(30, 69), share_qty, share_qty, st.sampled_from([Leg.YES, Leg.NO]))
def test_asks_summing_to_099_near_half_are_never_bought(
    k: int, qy: int, qn: int, first: Leg
) -> None:
    """0.99 of asks near p = 0.5: the 0.03 esports fee (≥ 0.0127 a pair here) eats the cent."""
    p_yes, p_no = k * C, (99 - k) * C
    assert pair_edge(p_yes, p_no, REAL, 100 * SH) < 0
    at_par = PairArbParams(pair_cost_cap=1_000_000)  # even with the cap at break-even
    fy, fn = buy_fill([(p_yes, qy)], REAL), buy_fill([(p_no, qn)], REAL)
    for p in (PairArbParams(), at_par):
        assert not should_buy_pair(PairPosition(), fy, fn, first=first, params=p, fee_model=REAL)[0]
        # nor, once a pair is held at those prices, any single leg at them
        held = PairPosition().with_fill(Leg.YES, fy).with_fill(Leg.NO, fn)
        assert not should_buy_more(held, Leg.YES, fy, p, REAL)[0]
        assert not should_buy_more(held, Leg.NO, fn, p, REAL)[0]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 1_200_000), fee_models, st.sampled_from([1, 100, 1_000, 10_000]))
def test_max_price_under_is_the_highest_grid_price(target: int, fm: FeeModel, tick: int) -> None:
    p = max_price_under(target, fm, tick)
    if p is None:
        assert tick + fee_per_share(fm, tick) > target
    else:
        assert p % tick == 0
        assert p + fee_per_share(fm, p) <= target
        nxt = p + tick
        assert nxt >= 1_000_000 or nxt + fee_per_share(fm, nxt) > target
