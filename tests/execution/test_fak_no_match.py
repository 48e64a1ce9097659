"""A FAK that finds no match: the REST reply rejects it, the user channel then cancels it."""

from __future__ import annotations

from typing import Any

import pytest

from polyloly.domain.intents import OrderType
from polyloly.execution.events import ExecutionAnomaly, OrderRejected, OrderUpdate, UpdateSource
from polyloly.execution.lifecycle import Edge, OrderState, order_edge
from polyloly.execution.ports import VenueOrder, VenueOrderStatus
from polyloly.runtime.errors import RejectError


def test_rejected_then_canceled_is_a_stale_frame() -> None:
    assert order_edge(OrderState.REJECTED, OrderState.CANCELED) is Edge.STALE


@pytest.mark.asyncio
async def test_canceled_frame_after_a_no_match_reject_is_no_anomaly(make_harness: Any) -> None:
    h = await make_harness()
    h.venue.fail_next(
        "submit", RejectError("no orders found to match with FAK order", "fak_no_match")
    )
    intent = h.intent(order_type=OrderType.FAK, price=420_000)
    h.publish(intent)
    await h.settle()
    record = h.state.order_for_client(intent.intent_id)
    assert record.state is OrderState.REJECTED
    assert [e.code for e in h.sink.of(OrderRejected)] == ["fak_no_match"]
    now = h.now()
    canceled = VenueOrder(
        order_hash=record.order_hash,
        market=record.market,
        token_id=record.token_id,
        side=record.side,
        price=record.price,
        original_size=record.size,
        size_matched=0,
        status=VenueOrderStatus.CANCELED,
        order_type=OrderType.FAK,
    )
    h.publish(OrderUpdate(ts_event=now, ts_init=now, order=canceled, source=UpdateSource.WS))
    await h.settle()
    assert h.sink.of(ExecutionAnomaly) == []
    assert record.state is OrderState.REJECTED
    assert record.size_matched == 0
    assert not record.is_open
    assert h.engine.gate.c.consecutive_errors == 0
