"""Crash recovery in-process: restart from the durable log, reconcile, one order per intent."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from polyloly.domain.events import Event, OperatorCommand, register_event
from polyloly.domain.money import SCALE
from polyloly.execution.engine import ExecutionEngine
from polyloly.execution.events import (
    OrderClosed,
    OrderResubmitted,
    OrderUpdate,
    ReconciliationCompleted,
    ReconciliationCorrection,
)
from polyloly.execution.lifecycle import OrderState
from polyloly.execution.ports import (
    SignedOrder,
    SubmitResult,
    TradeStatus,
    VenueOrder,
    VenueOrderStatus,
)
from polyloly.execution.state import ExecutionState
from polyloly.runtime.clock import NS_PER_S

from .conftest import YES, Harness, restart

pytestmark = pytest.mark.asyncio


def _one_order_per_intent(h: Harness) -> None:
    for intent in h.intents:
        record = h.state.order_for_client(intent.intent_id)
        if record is None:
            continue
        at_venue = [o for o in h.venue.orders.values() if o.order_hash == record.order_hash]
        assert len(at_venue) <= 1
    assert len(h.venue.orders) == len({o.order_hash for o in h.venue.orders.values()})


async def test_crash_before_the_submit_left(make_harness: Any) -> None:
    h = await make_harness()
    intent = h.intent()
    h.publish(intent)  # OrderSubmitted logged and flushed; the task has not run yet
    assert h.venue.calls.get("submit", 0) == 0
    h2 = await restart(h)
    record = h2.state.order_for_client(intent.intent_id)
    assert record.state is OrderState.LIVE
    assert len(h2.venue.orders) == 1
    assert h2.sink.of(OrderResubmitted)
    _one_order_per_intent(h2)


async def test_crash_between_submit_and_reply(make_harness: Any) -> None:
    h = await make_harness()
    reached = asyncio.Event()
    real_submit = h.venue.submit

    async def submit_then_hang(order: SignedOrder) -> SubmitResult:
        h.venue.ws_connected = False  # the process dies before hearing anything
        await real_submit(order)
        reached.set()
        await asyncio.Event().wait()  # the reply never comes back: killed here
        raise AssertionError("unreachable")

    h.venue.submit = submit_then_hang  # type: ignore[method-assign]
    intent = h.intent()
    h.publish(intent)
    await reached.wait()
    h.venue.submit = real_submit  # type: ignore[method-assign]
    h.venue.ws_connected = True
    h2 = await restart(h)
    record = h2.state.order_for_client(intent.intent_id)
    assert record.state is OrderState.LIVE
    assert h2.venue.submissions == 1
    assert any(c.kind == "correct_order" for c in h2.sink.of(ReconciliationCorrection))
    _one_order_per_intent(h2)


async def test_stale_unsent_order_is_closed_not_resent(make_harness: Any) -> None:
    h = await make_harness()
    intent = h.intent()
    h.publish(intent)
    h.clock.advance_ns(120 * NS_PER_S)  # the process stayed down for two minutes
    h2 = await restart(h)
    record = h2.state.order_for_client(intent.intent_id)
    assert record.state is OrderState.REJECTED
    assert h2.venue.orders == {}
    assert h2.sink.of(OrderClosed)


async def test_restart_after_fills_missed_on_the_socket(make_harness: Any) -> None:
    h = await make_harness()
    a = await h.place(size=20 * SCALE)
    b = await h.place(size=30 * SCALE, price=390_000)
    h.venue.fill(a, 20 * SCALE)
    h.venue.settle_all(TradeStatus.CONFIRMED)
    await h.settle()
    h.venue.ws_connected = False  # missed while down: a fill, a failure, a confirmation
    t2 = h.venue.fill(b, 10 * SCALE)
    t3 = h.venue.fill(b, 5 * SCALE)
    h.venue.settle(t2, TradeStatus.FAILED)
    h.venue.settle(t3, TradeStatus.CONFIRMED)
    h.venue.ws_connected = True
    h2 = await restart(h)
    assert h2.state.orders[b].size_matched == 15 * SCALE
    assert h2.state.position(YES).confirmed == 25 * SCALE
    assert h2.sink.of(ReconciliationCompleted)[-1].ok
    h2.assert_positions_match_venue()


async def test_halt_survives_restart(make_harness: Any) -> None:
    h = await make_harness()
    await h.place()
    now = h.now()
    h.publish(OperatorCommand(ts_event=now, ts_init=now, command="halt"))
    await h.settle()
    h2 = await restart(h)
    assert h2.state.halted is not None
    intent = h2.intent()
    h2.publish(intent)
    await h2.settle()
    assert h2.state.order_for_client(intent.intent_id) is None


async def test_rebuilding_from_the_log_gives_the_same_state(make_harness: Any) -> None:
    h = await make_harness()
    a = await h.place(size=20 * SCALE)
    b = await h.place(size=30 * SCALE, price=390_000)
    h.venue.fill(a, 20 * SCALE, taker=True, fee_rate_bps=300)
    t = h.venue.fill(b, 10 * SCALE)
    h.venue.settle(t, TradeStatus.FAILED)
    h.venue.settle_all()
    await h.venue.cancel([b])
    await h.settle()
    rebuilt = ExecutionState()
    for event in h.sink.events:
        rebuilt.apply(event)
    live = h.state
    assert {k: (o.state, o.size_matched) for k, o in rebuilt.orders.items()} == {
        k: (o.state, o.size_matched) for k, o in live.orders.items()
    }
    assert rebuilt.positions == live.positions
    assert rebuilt.collateral() == live.collateral()
    h.assert_positions_match_venue()


@register_event
class _ForeignOrder(Event, frozen=True, tag="test_foreign_order_update"):
    """An adapter's own order event (like ``pm_order_update``)."""

    order: VenueOrder


def _translate(event: Event) -> OrderUpdate | None:
    if isinstance(event, _ForeignOrder):
        return OrderUpdate(ts_event=event.ts_event, ts_init=event.ts_init, order=event.order)
    return None


async def test_adapter_events_are_translated_live_and_in_recovery(make_harness: Any) -> None:
    h = await make_harness()
    h.engine.add_venue_events(_ForeignOrder, _translate)
    order_hash = await h.place()
    canceled = msgspec.structs.replace(h.venue.orders[order_hash], status=VenueOrderStatus.CANCELED)
    now = h.now()
    h.publish(_ForeignOrder(ts_event=now, ts_init=now, order=canceled))
    assert h.state.orders[order_hash].state is OrderState.CANCELED
    fresh = ExecutionEngine(h.kernel, h.engine.ports, sleep=h.sleep)
    fresh.add_venue_events(_ForeignOrder, _translate)
    fresh.recover(h.sink.events)
    assert fresh.state.orders[order_hash].state is OrderState.CANCELED


async def test_the_ledger_keeps_every_decisions_last_step(make_harness: Any) -> None:
    h = await make_harness()
    for step in (1, 2, 5, 3):
        h.publish(h.intent(intent_id=f"pair_arb:0xm:{step}", size=20 * SCALE))
    h.publish(h.intent(intent_id="temporal_arb:0xm:tok:1", size=20 * SCALE))
    await h.settle()
    assert h.state.last_step["pair_arb:0xm"] == 5
    assert h.state.last_step["temporal_arb:0xm:tok"] == 1
    h2 = await restart(h)  # refused or not, logged decisions are remembered from the log
    assert h2.state.last_step == h.state.last_step
