"""GTD expiry: the engine keeps its GTD orders by expiry, so ``expire`` looks at due ones only.

The property: over random flows of GTC/GTD orders, cancels, in-place reductions, fills and
clock steps, ``expire`` cancels exactly what a scan of every resting order would, in
arrival order, and an order that left the book early never comes back.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType
from polyloly.domain.matching import MatchingEngine, OrderRequest
from polyloly.domain.matching_book import LevelChange
from polyloly.domain.money import ONE

CID, A, B = "0xm", "A", "B"
NOW = 1_800_000_000
THRESHOLD = 60


def _engine() -> MatchingEngine:
    e = MatchingEngine(gtd_threshold_s=THRESHOLD)
    e.add_market(CID, A, B, tick=10_000, min_size=ONE)
    return e


def _due_by_scan(e: MatchingEngine, now_s: int) -> list[str]:
    """What ``expire`` must cancel: a scan of every resting order (the old way)."""
    return [
        o.order_id
        for o in e.resting()
        if o.order_type is OrderType.GTD and o.expiration_s - THRESHOLD <= now_s
    ]


def _request(n: int, side: Side, ticks: int, gtd_in_s: int | None) -> OrderRequest:
    return OrderRequest(
        order_id=f"o{n}",
        owner="u",
        maker="0xu",
        token_id=A,
        side=side,
        price=ticks * 10_000,
        size=5 * ONE,
        order_type=OrderType.GTC if gtd_in_s is None else OrderType.GTD,
        expiration_s=0 if gtd_in_s is None else NOW + THRESHOLD + gtd_in_s,
    )


submit_st = st.tuples(
    st.just("submit"),
    st.sampled_from((Side.BUY, Side.SELL)),
    st.integers(45, 55),
    st.one_of(st.none(), st.integers(1, 40)),
)
op_st = st.one_of(
    submit_st,
    submit_st,
    st.tuples(st.just("cancel"), st.integers(0, 200)),
    st.tuples(st.just("reduce"), st.integers(0, 200), st.integers(0, 5)),
    st.tuples(st.just("advance"), st.integers(0, 10)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(op_st, min_size=10, max_size=80))
def test_expire_cancels_exactly_the_due_gtd_orders_in_arrival_order(ops: list[tuple]) -> None:  # type: ignore[type-arg]
    e = _engine()
    now = NOW
    submitted: list[str] = []
    expired_ids: set[str] = set()
    for op in ops:
        if op[0] == "submit":
            _, side, ticks, gtd_in_s = op
            request = _request(len(submitted), side, ticks, gtd_in_s)
            if e.submit(request, now).accepted:  # may fill resting orders (GTD ones too)
                submitted.append(request.order_id)
        elif op[0] == "cancel" and submitted:
            e.cancel(submitted[op[1] % len(submitted)])
        elif op[0] == "reduce" and submitted:
            resting = e.order(submitted[op[1] % len(submitted)])
            if resting is not None:
                e.reduce(resting.order_id, min(resting.remaining, op[2] * ONE))
        elif op[0] == "advance":
            now += op[1]
        want = _due_by_scan(e, now)
        expired, changes = e.expire(now)
        assert [o.order_id for o in expired] == want
        assert all(e.order(i) is None for i in want)
        assert not expired_ids & set(want)  # nothing expires twice
        expired_ids.update(want)
        assert {(c.token_id, c.side, c.price) for c in changes} == {
            (o.token_id, o.side, o.price) for o in expired
        }
    assert _due_by_scan(e, now + 10_000) == [o.order_id for o in e.expire(now + 10_000)[0]]


def test_many_gtd_orders_cancelled_early_leave_the_expiry_index_small() -> None:
    e = _engine()
    for n in range(1_000):
        request = _request(n, Side.BUY, 45, 3_600)
        assert e.submit(request, NOW).accepted
        e.cancel(request.order_id)
    last = _request(1_000, Side.BUY, 45, 10)
    e.submit(last, NOW)
    assert len(e._gtd_heap) < 200  # compacted as it grew, not 1,001 entries
    expired, changes = e.expire(NOW + 10)
    assert [o.order_id for o in expired] == [last.order_id]
    assert changes == (LevelChange(A, Side.BUY, 450_000, 0),)


def test_a_filled_gtd_order_does_not_expire() -> None:
    e = _engine()
    gtd = _request(0, Side.BUY, 50, 5)
    e.submit(gtd, NOW)
    e.submit(_request(1, Side.SELL, 50, None), NOW)  # fills it
    assert e.order(gtd.order_id) is None
    assert e.expire(NOW + 3_600) == ([], ())
