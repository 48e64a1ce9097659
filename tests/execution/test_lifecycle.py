"""Order and trade state tables: every pair is OK, STALE or illegal, as documented."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.domain.events import Side
from polyloly.domain.fees import PolymarketFeeModel
from polyloly.domain.intents import OrderType
from polyloly.domain.matching import MatchingEngine, OrderRequest
from polyloly.domain.money import SCALE
from polyloly.execution.lifecycle import (
    OPEN_ORDER_STATES,
    Edge,
    IllegalTransitionError,
    OrderRecord,
    OrderState,
    fills_from_report,
    order_edge,
    state_for_venue,
    trade_edge,
)
from polyloly.execution.ports import MakerLeg, TradeReport, TraderSide, TradeStatus, VenueOrder
from polyloly.execution.ports import VenueOrderStatus as V

S = OrderState
T = TradeStatus

ORDER_OK = [
    (S.SUBMITTING, S.LIVE),
    (S.SUBMITTING, S.MATCHED),
    (S.SUBMITTING, S.REJECTED),
    (S.SUBMITTING, S.UNKNOWN),
    (S.UNKNOWN, S.LIVE),
    (S.LIVE, S.PARTIALLY_MATCHED),
    (S.LIVE, S.CANCELED),
    (S.DELAYED, S.LIVE),
    (S.PARTIALLY_MATCHED, S.MATCHED),
    (S.CANCELED, S.MATCHED),  # cancel raced the rest of the fill
]
ORDER_STALE = [
    (S.LIVE, S.UNKNOWN),
    (S.PARTIALLY_MATCHED, S.LIVE),
    (S.MATCHED, S.LIVE),
    (S.MATCHED, S.CANCELED),  # the cancel lost the race
    (S.CANCELED, S.PARTIALLY_MATCHED),
    (S.REJECTED, S.REJECTED),
    (S.CANCELED, S.REJECTED),  # a killed FAK: the CANCELED frame beat the refusal
]
ORDER_ILLEGAL = [
    (S.LIVE, S.REJECTED),
    (S.MATCHED, S.REJECTED),
    (S.REJECTED, S.LIVE),
    (S.LIVE, S.DELAYED),
    # SUBMITTING is a first state only: a resend is a lookup, never a second submit state
    (S.SUBMITTING, S.SUBMITTING),
    (S.UNKNOWN, S.SUBMITTING),
    (S.LIVE, S.SUBMITTING),
    (S.MATCHED, S.SUBMITTING),
]


@pytest.mark.parametrize(("src", "dst"), ORDER_OK)
def test_order_ok_edges(src: OrderState, dst: OrderState) -> None:
    assert order_edge(src, dst) is Edge.OK


@pytest.mark.parametrize(("src", "dst"), ORDER_STALE)
def test_order_stale_edges(src: OrderState, dst: OrderState) -> None:
    assert order_edge(src, dst) is Edge.STALE


@pytest.mark.parametrize(("src", "dst"), ORDER_ILLEGAL)
def test_order_illegal_edges(src: OrderState, dst: OrderState) -> None:
    with pytest.raises(IllegalTransitionError):
        order_edge(src, dst)


def test_terminal_states_never_reopen() -> None:
    for src, dst in itertools.product(S, S):
        if src in OPEN_ORDER_STATES or dst not in OPEN_ORDER_STATES:
            continue
        try:
            edge = order_edge(src, dst)
        except IllegalTransitionError:
            continue
        assert edge is Edge.STALE, (src, dst)


@pytest.mark.parametrize(
    ("status", "matched", "state"),
    [
        (V.LIVE, 0, S.LIVE),
        (V.LIVE, 1, S.PARTIALLY_MATCHED),
        (V.DELAYED, 0, S.DELAYED),
        (V.MATCHED, 5, S.MATCHED),
        (V.UNMATCHED, 0, S.CANCELED),
        (V.CANCELED, 3, S.CANCELED),
        (V.INVALID, 0, S.CANCELED),
        (V.EXPIRED, 0, S.EXPIRED),
    ],
)
def test_state_for_venue(status: V, matched: int, state: OrderState) -> None:
    assert state_for_venue(status, matched) is state


TRADE_OK = [
    (T.MATCHED, T.MINED),
    (T.MINED, T.CONFIRMED),
    (T.MATCHED, T.FAILED),
    (T.RETRYING, T.MINED),
]
TRADE_STALE = [
    (T.MINED, T.MATCHED),
    (T.CONFIRMED, T.MINED),
    (T.FAILED, T.MATCHED),
    (T.MATCHED, T.MATCHED),
]
TRADE_ILLEGAL = [(T.CONFIRMED, T.FAILED), (T.FAILED, T.CONFIRMED)]


@pytest.mark.parametrize(("src", "dst"), TRADE_OK)
def test_trade_ok(src: TradeStatus, dst: TradeStatus) -> None:
    assert trade_edge(src, dst) is Edge.OK


@pytest.mark.parametrize(("src", "dst"), TRADE_STALE)
def test_trade_stale(src: TradeStatus, dst: TradeStatus) -> None:
    assert trade_edge(src, dst) is Edge.STALE


@pytest.mark.parametrize(("src", "dst"), TRADE_ILLEGAL)
def test_trade_illegal(src: TradeStatus, dst: TradeStatus) -> None:
    with pytest.raises(IllegalTransitionError):
        trade_edge(src, dst)


def _record(state: OrderState = S.LIVE, size: int = 10) -> OrderRecord:
    return OrderRecord(
        order_hash="h",
        client_id="c",
        strategy="s",
        market="m",
        token_id="yes",
        side=Side.BUY,
        price=400_000,
        size=size,
        order_type=OrderType.GTC,
        state=state,
        created_ns=0,
    )


def _venue(status: V, matched: int) -> VenueOrder:
    return VenueOrder(
        order_hash="h",
        market="m",
        token_id="yes",
        side=Side.BUY,
        price=400_000,
        original_size=10,
        size_matched=matched,
        status=status,
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(V)), st.integers(0, 10)), max_size=12))
def test_reordered_venue_frames_never_undo_a_fill(frames: list[tuple[V, int]]) -> None:
    record = _record()
    high = 0
    for status, matched in frames:
        try:
            record.apply_venue(_venue(status, matched), 1)
        except IllegalTransitionError:
            continue
        high = max(high, matched)
        assert record.size_matched == high
        if record.state in (S.MATCHED, S.CANCELED, S.EXPIRED):
            assert not record.is_open


def test_forced_update_resolves_a_contradiction() -> None:
    record = _record(S.REJECTED)
    with pytest.raises(IllegalTransitionError):
        record.apply_venue(_venue(V.LIVE, 0), 1)
    assert record.apply_venue(_venue(V.LIVE, 0), 1, force=True)
    assert record.state is S.LIVE


def test_maker_leg_on_the_other_token_fills_our_order_token() -> None:
    ours = _record()
    report = TradeReport(
        trade_id="t",
        market="m",
        asset_id="no",  # the taker bought NO: a mint against our resting BUY of YES
        side=Side.BUY,
        price=600_000,
        size=10,
        status=T.MATCHED,
        taker_order_id="theirs",
        trader_side=TraderSide.MAKER,
        maker_legs=(
            MakerLeg(
                order_id="h", asset_id="yes", price=400_000, matched_amount=10, side=Side.SELL
            ),
        ),
    )
    fills, unknown = fills_from_report(report, {"h": ours}, 1)
    assert unknown == []
    (fill,) = fills
    # The wire's maker side was inverted; our own order is the authority.
    assert (fill.token_id, fill.side, fill.price, fill.size, fill.fee) == (
        "yes",
        Side.BUY,
        400_000,
        10,
        0,
    )
    assert fill.liquidity is TraderSide.MAKER


def test_report_of_unknown_orders_is_parked() -> None:
    report = TradeReport(
        trade_id="t",
        market="m",
        asset_id="yes",
        side=Side.BUY,
        price=400_000,
        size=10,
        status=T.MATCHED,
        taker_order_id="x",
        maker_legs=(MakerLeg(order_id="y", asset_id="yes", price=400_000, matched_amount=10),),
    )
    fills, unknown = fills_from_report(report, {}, 1)
    assert fills == []
    assert unknown == ["x", "y"]


@settings(max_examples=150, deadline=None)
@given(
    makers=st.lists(
        st.tuples(
            st.booleans(),  # on the other token (a mint match)
            st.integers(30, 60),  # price in cents
            st.integers(1, 3_000_000),  # size in share-micros (odd sizes: FAK BUYs by amount)
        ),
        min_size=1,
        max_size=30,
    ).filter(lambda ms: sum(size for _, _, size in ms) >= 2 * SCALE),  # a marketable BUY >= $1
)
def test_a_trades_cash_and_fee_are_the_exchanges_sum_over_its_fills(
    makers: list[tuple[bool, int, int]],
) -> None:
    # The exchange settles each fill on its own (cash half up, or the rest of the pair in a
    # mint; each fee floored): the ledger must add up the same roundings, not round a
    # trade's total once (a 1-micro difference used to stop the bot for good).
    engine = MatchingEngine()
    engine.add_market("m", "yes", "no", tick=10_000, min_size=0, fee_model=PolymarketFeeModel())
    for n, (other, cents, size) in enumerate(makers):
        token, side, price = ("no", Side.BUY, 100 - cents) if other else ("yes", Side.SELL, cents)
        engine.rest(
            OrderRequest(
                order_id=f"mk{n}", owner="mm", maker="0xmm", token_id=token, side=side,
                price=price * 10_000, size=size,
            )
        )  # fmt: skip
    total = sum(size for _, _, size in makers)
    result = engine.submit(
        OrderRequest(
            order_id="ours", owner="us", maker="0xus", token_id="yes", side=Side.BUY,
            price=610_000, size=total,
        )
    )  # fmt: skip
    assert result.filled == total
    ours = _record()
    ours.order_hash, ours.size = "ours", total
    by_price: dict[int, list[Any]] = {}
    for fill in result.fills:  # the venue groups a taker's fills into one trade per price
        by_price.setdefault(fill.price, []).append(fill)
    for price, group in by_price.items():
        report = TradeReport(
            trade_id=f"t{price}", market="m", asset_id="yes", side=Side.BUY, price=price,
            size=sum(f.size for f in group), status=T.MATCHED, taker_order_id="ours",
            fee_rate_bps=300,
            maker_legs=tuple(
                MakerLeg(order_id=f.maker_order_id, asset_id=f.maker_token, price=f.maker_price,
                         matched_amount=f.size)
                for f in group
            ),
        )  # fmt: skip
        (fill,), _ = fills_from_report(report, {"ours": ours}, 1)
        assert fill.cash == sum(f.taker_cash for f in group)
        assert fill.fee == sum(f.fee for f in group)
        assert fill.cash_flow() == -sum(f.taker_cash + f.fee for f in group)
