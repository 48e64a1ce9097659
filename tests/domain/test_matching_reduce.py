"""``MatchingEngine.reduce``: shrink a resting order in place, keeping its queue position."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType
from polyloly.domain.matching import MatchingEngine, OrderRequest
from polyloly.domain.matching_book import LevelChange
from polyloly.domain.money import ONE

CID, A, B = "0xm", "A", "B"
NOW = 1_800_000_000
PRICE = 450_000


def _engine() -> MatchingEngine:
    e = MatchingEngine()
    e.add_market(CID, A, B, tick=10_000, min_size=ONE)
    return e


def _bid(order_id: str, size: int, price: int = PRICE) -> OrderRequest:
    return OrderRequest(
        order_id=order_id,
        owner=order_id,
        maker=order_id,
        token_id=A,
        side=Side.BUY,
        price=price,
        size=size,
    )


def _sweep(e: MatchingEngine, size: int, order_id: str = "taker") -> list[tuple[str, int]]:
    """A SELL of ``size`` at the bid price; the (maker, size) it filled, in order."""
    taker = OrderRequest(
        order_id=order_id,
        owner="t",
        maker="t",
        token_id=A,
        side=Side.SELL,
        price=PRICE,
        size=size,
        order_type=OrderType.FAK,
    )
    result = e.submit(taker, NOW)
    assert result.accepted, result.error
    return [(f.maker_order_id, f.size) for f in result.fills]


def _three_bids() -> MatchingEngine:
    e = _engine()
    for order_id in ("first", "second", "third"):
        assert e.rest(_bid(order_id, 10 * ONE)).accepted
    return e


def test_reduce_keeps_the_queue_position_and_reports_the_level() -> None:
    e = _three_bids()
    order, changes = e.reduce("first", 4 * ONE)
    assert order is not None
    assert (order.remaining, order.size) == (4 * ONE, 10 * ONE)
    assert changes == (LevelChange(A, Side.BUY, PRICE, 24 * ONE),)
    assert e.levels(A, Side.BUY) == [(PRICE, 24 * ONE)]
    # Still first in line: a seller meets what is left of it before anyone else.
    assert _sweep(e, 6 * ONE) == [("first", 4 * ONE), ("second", 2 * ONE)]
    assert e.order("first") is None


def test_reducing_an_order_in_the_middle_keeps_everyone_in_place() -> None:
    e = _three_bids()
    e.reduce("second", ONE)
    assert [o.order_id for o in e.resting()] == ["first", "second", "third"]
    assert _sweep(e, 21 * ONE) == [("first", 10 * ONE), ("second", ONE), ("third", 10 * ONE)]


@pytest.mark.parametrize("remaining", [10 * ONE + 1, 11 * ONE, -1])
def test_an_order_cannot_grow_or_go_negative(remaining: int) -> None:
    e = _three_bids()
    with pytest.raises(ValueError, match="can only shrink"):
        e.reduce("second", remaining)
    assert e.levels(A, Side.BUY) == [(PRICE, 30 * ONE)]
    second = e.order("second")
    assert second is not None
    assert second.remaining == 10 * ONE


def test_reducing_to_zero_removes_the_order() -> None:
    e = _three_bids()
    order, changes = e.reduce("second", 0)
    assert order is not None
    assert order.order_id == "second"
    assert changes == (LevelChange(A, Side.BUY, PRICE, 20 * ONE),)
    assert e.order("second") is None
    assert [o.order_id for o in e.resting()] == ["first", "third"]
    assert e.cancel("second") == (None, ())
    assert _sweep(e, 20 * ONE) == [("first", 10 * ONE), ("third", 10 * ONE)]


def test_reducing_the_last_order_of_a_level_removes_the_level() -> None:
    e = _engine()
    e.rest(_bid("low", 5 * ONE, price=400_000))
    e.rest(_bid("only", 5 * ONE))
    _, changes = e.reduce("only", 0)
    assert changes == (LevelChange(A, Side.BUY, PRICE, 0),)
    assert e.levels(A, Side.BUY) == [(400_000, 5 * ONE)]
    assert e.best(A, Side.BUY) == 400_000


def test_unknown_and_unchanged_orders() -> None:
    e = _three_bids()
    assert e.reduce("nope", 0) == (None, ())
    order, changes = e.reduce("first", 10 * ONE)
    assert order is not None
    assert changes == ()
    assert e.levels(A, Side.BUY) == [(PRICE, 30 * ONE)]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 20), min_size=1, max_size=8),
    st.lists(st.tuples(st.integers(0, 7), st.integers(0, 100)), max_size=12),
)
def test_reductions_never_reorder_the_queue(sizes: list[int], cuts: list[tuple[int, int]]) -> None:
    """Whatever is shrunk, a sweep fills what is left in arrival order, level = sum left."""
    e = _engine()
    ids = [f"o{n}" for n in range(len(sizes))]
    left = {order_id: size * ONE for order_id, size in zip(ids, sizes, strict=True)}
    for order_id in ids:
        e.rest(_bid(order_id, left[order_id]))
    for index, percent in cuts:
        order_id = ids[index % len(ids)]
        if left[order_id] == 0:
            assert e.reduce(order_id, 0) == (None, ())
            continue
        target = left[order_id] * percent // 100
        changed = target != left[order_id]
        _, changes = e.reduce(order_id, target)
        left[order_id] = target
        total = sum(left.values())
        assert e.levels(A, Side.BUY) == ([(PRICE, total)] if total else [])
        assert changes == ((LevelChange(A, Side.BUY, PRICE, total),) if changed else ())
    expected = [(order_id, left[order_id]) for order_id in ids if left[order_id]]
    if expected:
        assert _sweep(e, sum(left.values())) == expected
    assert e.levels(A, Side.BUY) == []
