"""Replies that come after the venue already spoke: no state is recorded that was never reached.

Three sequences once logged as illegal transitions (a soak against the simulators saw 2-4 of
each a run):

* ``SUBMITTING -> SUBMITTING``: a restarted node resends an order it logged but the venue
  never received. The resend is a lookup, then a post of the same signed order; the order
  stays SUBMITTING until the venue answers.
* ``CANCELED -> REJECTED``: a FAK that finds nothing is reported CANCELED on the user channel
  before the REST reply refuses it. The venue's own sequence: the order stays CANCELED.
* ``MATCHED -> REJECTED``: a refusal after the venue reported the order matched refused
  something else (a resend). It is not applied: reconciliation reads the venue's account.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from polyloly.domain.intents import OrderType
from polyloly.execution.events import (
    ExecutionAnomaly,
    OrderResubmitted,
    OrderUpdate,
    ReconciliationCompleted,
    UpdateSource,
)
from polyloly.execution.lifecycle import OrderState
from polyloly.execution.ports import RejectCode, SignedOrder, SubmitResult, VenueOrderStatus
from polyloly.runtime.errors import RejectError

from .conftest import Harness, restart

pytestmark = pytest.mark.asyncio


def _illegal(h: Harness) -> list[ExecutionAnomaly]:
    return [a for a in h.sink.of(ExecutionAnomaly) if a.kind == "illegal_order_transition"]


def _ws_then_refuse(h: Harness, status: VenueOrderStatus, code: RejectCode) -> None:
    """The venue publishes ``status`` for the order on the user channel, then refuses it."""
    real_submit = h.venue.submit

    async def submit(order: SignedOrder) -> SubmitResult:
        h.venue.submit = real_submit  # type: ignore[method-assign]
        await real_submit(order)
        venue_order = msgspec.structs.replace(
            h.venue.orders[order.order_hash],
            status=status,
            size_matched=order.spec.size if status is VenueOrderStatus.MATCHED else 0,
        )
        h.venue.orders[order.order_hash] = venue_order
        now = h.now()
        h.publish(OrderUpdate(ts_event=now, ts_init=now, order=venue_order, source=UpdateSource.WS))
        raise RejectError(f"refused after the user channel spoke ({code})", code)

    h.venue.submit = submit  # type: ignore[method-assign]


async def test_a_resend_after_a_restart_is_a_lookup_not_a_second_submit(
    make_harness: Any,
) -> None:
    h = await make_harness()
    intent = h.intent()
    h.publish(intent)  # logged and flushed; the process dies before the post
    assert h.venue.calls.get("submit", 0) == 0
    h2 = await restart(h)
    assert h2.sink.of(OrderResubmitted)
    assert h2.venue.calls["lookup"] >= 2  # reconciliation's, then the resend's own
    assert h2.venue.submissions == 1
    record = h2.state.order_for_client(intent.intent_id)
    assert record.state is OrderState.LIVE
    assert not _illegal(h2)


async def test_a_kill_refused_after_its_canceled_frame_stays_canceled(make_harness: Any) -> None:
    h = await make_harness()
    _ws_then_refuse(h, VenueOrderStatus.CANCELED, RejectCode.FAK_NO_MATCH)
    intent = h.intent(order_type=OrderType.FAK)
    h.publish(intent)
    await h.settle()
    record = h.state.order_for_client(intent.intent_id)
    assert record.state is OrderState.CANCELED
    assert not _illegal(h)
    assert not [a for a in h.sink.of(ExecutionAnomaly) if a.kind == "late_reject"]


async def test_a_refusal_after_a_match_is_reconciled_not_applied(make_harness: Any) -> None:
    h = await make_harness()
    passes = h.engine.reconciler.passes
    _ws_then_refuse(h, VenueOrderStatus.MATCHED, RejectCode.REJECTED)
    intent = h.intent(order_type=OrderType.FAK)
    h.publish(intent)
    await h.settle()
    record = h.state.order_for_client(intent.intent_id)
    assert record.state is OrderState.MATCHED
    assert not _illegal(h)
    late = [a for a in h.sink.of(ExecutionAnomaly) if a.kind == "late_reject"]
    assert [a.subject for a in late] == [record.order_hash]
    assert h.engine.reconciler.passes > passes  # the venue's account was read again
    assert h.sink.of(ReconciliationCompleted)[-1].ok


async def test_a_refusal_after_a_cancel_that_is_no_kill_is_reconciled(make_harness: Any) -> None:
    h = await make_harness()
    _ws_then_refuse(h, VenueOrderStatus.CANCELED, RejectCode.NO_BALANCE)
    intent = h.intent()
    h.publish(intent)
    await h.settle()
    record = h.state.order_for_client(intent.intent_id)
    assert record.state is OrderState.CANCELED
    assert not _illegal(h)
    assert [a.kind for a in h.sink.of(ExecutionAnomaly)] == ["late_reject"]
