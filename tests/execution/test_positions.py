"""Positions and PnL: exact folds, FAILED reversal, merges, pair guaranteed PnL."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.domain.events import Side
from polyloly.domain.money import SCALE
from polyloly.execution.lifecycle import Fill
from polyloly.execution.pnl import NS_PER_DAY, DailyPnl, equity, pair_guaranteed_pnl, unrealized
from polyloly.execution.ports import TraderSide, TradeStatus
from polyloly.execution.positions import (
    MergeEntry,
    PositionView,
    fold_position,
    merge_proceeds_share,
)

T = TradeStatus


def _fill(
    seq: int, side: Side, size: int, price: int, status: T = T.CONFIRMED, *, fee: int = 0
) -> Fill:
    return Fill(
        trade_id=f"t{seq}",
        order_hash=f"o{seq}",
        market="m",
        token_id="yes",
        side=side,
        price=price,
        size=size,
        fee=fee,
        liquidity=TraderSide.TAKER,
        status=status,
        seq=seq,
    )


def test_buy_sell_average_cost() -> None:
    fills = [
        _fill(1, Side.BUY, 10 * SCALE, 400_000, fee=10_000),
        _fill(2, Side.BUY, 10 * SCALE, 500_000),
        _fill(3, Side.SELL, 5 * SCALE, 600_000, fee=20_000),
    ]
    view = fold_position("m", "yes", fills)
    assert view.confirmed == 15 * SCALE
    # cost 4.01 + 5.00 = 9.01 for 20; selling 5 removes 9.01 × 5/20 = 2.2525
    assert view.cost == 9_010_000 - 2_252_500
    assert view.realized == 3_000_000 - 20_000 - 2_252_500
    assert view.fees == 30_000


def test_pending_and_failed() -> None:
    fills = [
        _fill(1, Side.BUY, 10 * SCALE, 400_000, T.CONFIRMED),
        _fill(2, Side.BUY, 5 * SCALE, 400_000, T.MINED),
        _fill(3, Side.BUY, 7 * SCALE, 400_000, T.FAILED),
    ]
    view = fold_position("m", "yes", fills)
    assert (view.confirmed, view.pending, view.expected) == (10 * SCALE, 5 * SCALE, 15 * SCALE)
    assert view.cost == 6 * SCALE


sides = st.sampled_from([Side.BUY, Side.SELL])
statuses = st.sampled_from(list(T))
fill_st = st.tuples(
    sides,
    st.integers(1, 500).map(lambda n: n * 10_000),
    st.integers(1, 99).map(lambda p: p * 10_000),
    statuses,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(fill_st, max_size=15), st.integers(0, 14))
def test_failing_a_trade_equals_never_having_it(
    raw: list[tuple[Side, int, int, T]], pick: int
) -> None:
    fills = [_fill(i + 1, s, q, p, st_) for i, (s, q, p, st_) in enumerate(raw)]
    if not fills:
        return
    victim = fills[pick % len(fills)]
    victim.status = T.FAILED
    with_failed = fold_position("m", "yes", fills)
    without = fold_position("m", "yes", [f for f in fills if f is not victim])
    assert with_failed == without


@settings(max_examples=150, deadline=None)
@given(st.lists(fill_st, max_size=15))
def test_quantities_are_sums(raw: list[tuple[Side, int, int, T]]) -> None:
    fills = [_fill(i + 1, s, q, p, st_) for i, (s, q, p, st_) in enumerate(raw)]
    view = fold_position("m", "yes", fills)
    signed = [f.signed_qty() for f in fills if f.counts]
    assert view.expected == sum(signed)
    assert view.confirmed == sum(f.signed_qty() for f in fills if f.confirmed)


def test_merge_proceeds_split_exactly() -> None:
    tokens = ("a", "b")
    for size in (1, 2, 3, 1_000_001):
        assert (
            merge_proceeds_share(size, "a", tokens) + merge_proceeds_share(size, "b", tokens)
            == size
        )


def test_merge_realizes_pair_edge() -> None:
    yes = fold_position(
        "m",
        "yes",
        [_fill(1, Side.BUY, 10 * SCALE, 450_000)],
        [MergeEntry(2, 10 * SCALE, 5 * SCALE)],
    )
    no_fill = _fill(1, Side.BUY, 10 * SCALE, 500_000)
    no_fill.token_id = "no"
    no = fold_position("m", "no", [no_fill], [MergeEntry(2, 10 * SCALE, 5 * SCALE)])
    assert yes.expected == no.expected == 0
    assert yes.realized + no.realized == 10 * SCALE - 4_500_000 - 5_000_000


def test_pair_guaranteed_pnl() -> None:
    yes = PositionView(market="m", token_id="yes", confirmed=10 * SCALE, cost=4_500_000)
    no = PositionView(market="m", token_id="no", confirmed=12 * SCALE, cost=6_000_000)
    assert pair_guaranteed_pnl(yes, no) == 10 * SCALE - 10_500_000


def test_unrealized_and_equity() -> None:
    view = PositionView(market="m", token_id="yes", confirmed=10 * SCALE, cost=4 * SCALE)
    assert unrealized(view, 500_000) == SCALE
    assert unrealized(view, None) == 0
    assert equity(100 * SCALE, [view], {"yes": 500_000}) == 105 * SCALE


def test_daily_pnl_rolls_per_utc_day() -> None:
    daily = DailyPnl()
    assert daily.roll(5, 100)
    assert not daily.roll(NS_PER_DAY - 1, 90)
    assert daily.pnl(80) == -20
    assert daily.roll(NS_PER_DAY, 80)
    assert daily.pnl(80) == 0


@pytest.mark.parametrize("status", [T.MATCHED, T.MINED, T.RETRYING])
def test_pending_statuses(status: T) -> None:
    view = fold_position("m", "yes", [_fill(1, Side.BUY, SCALE, 500_000, status)])
    assert (view.confirmed, view.pending) == (0, SCALE)
