"""The fault matrix against the in-memory venue: one intent, one order, positions = venue."""

from __future__ import annotations

from typing import Any

import pytest

from polyloly.bot.crashpoints import CrashPoint, CrashPoints
from polyloly.domain.events import Side
from polyloly.domain.intents import CancelIntent
from polyloly.domain.money import SCALE
from polyloly.execution.events import (
    CancelCompleted,
    OrderAccepted,
    OrderRejected,
    OrderSubmitted,
    OrderSubmitUnknown,
    OrderUpdate,
    ReconciliationCorrection,
    TradeUpdate,
)
from polyloly.execution.lifecycle import OrderState
from polyloly.execution.order_manager import spec_for_intent
from polyloly.execution.ports import TradeStatus
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S
from polyloly.runtime.errors import BackOffError, RejectError, RetryableError, UnknownOutcomeError

from .conftest import NO, YES

pytestmark = pytest.mark.asyncio


async def test_intent_becomes_one_live_order_logged_before_submit(make_harness: Any) -> None:
    h = await make_harness()
    seen_durable: list[bool] = []
    real_submit = h.venue.submit

    async def checking_submit(order: Any) -> Any:
        durable = h.sink.durable_events()
        seen_durable.append(
            any(isinstance(e, OrderSubmitted) and e.order_hash == order.order_hash for e in durable)
        )
        return await real_submit(order)

    h.venue.submit = checking_submit  # type: ignore[method-assign]
    order_hash = await h.place()
    assert seen_durable == [True]
    assert h.state.orders[order_hash].state is OrderState.LIVE
    assert len(h.venue.orders) == 1
    assert len(h.submitted()) == 1


async def test_same_intent_id_twice_gives_one_order(make_harness: Any) -> None:
    h = await make_harness()
    intent = h.intent(intent_id="dup:1")
    h.publish(intent)
    h.publish(intent)
    await h.settle()
    assert len(h.venue.orders) == 1
    assert h.engine.orders.duplicates == 1


async def test_spec_is_deterministic() -> None:
    from polyloly.domain.intents import OrderType, PlaceOrderIntent

    intent = PlaceOrderIntent(
        ts_event=1,
        ts_init=5 * NS_PER_MS,
        intent_id="s:k:1",
        strategy="s",
        market="m",
        token_id="t",
        side=Side.BUY,
        price=500_000,
        size=10 * SCALE,
        order_type=OrderType.GTC,
        notional=5 * SCALE,
    )
    assert spec_for_intent(intent) == spec_for_intent(intent)
    assert spec_for_intent(intent).timestamp_ms == 5


async def test_lost_submit_reply_gives_one_order(make_harness: Any) -> None:
    h = await make_harness()
    h.venue.lose_next_reply("submit")
    order_hash = await h.place()
    assert h.venue.submissions == 1
    assert list(h.venue.orders) == [order_hash]
    accepted = h.sink.of(OrderAccepted)
    assert len(accepted) == 1
    assert accepted[0].found_by_lookup
    assert h.state.orders[order_hash].state is OrderState.LIVE


@pytest.mark.parametrize(
    "error",
    [BackOffError("429 Too Many Requests"), RetryableError("HTTP 500")],
    ids=["429", "5xx"],
)
async def test_error_bursts_back_off_and_give_one_order(make_harness: Any, error: Any) -> None:
    h = await make_harness()
    h.venue.fail_next("submit", error, count=4)
    before = len(h.sleep.calls)
    order_hash = await h.place()
    delays = h.sleep.calls[before:]
    assert delays == [200 * NS_PER_MS, 400 * NS_PER_MS, 800 * NS_PER_MS, 1_600 * NS_PER_MS]
    assert h.venue.submissions == 1
    assert list(h.venue.orders) == [order_hash]
    assert h.state.orders[order_hash].state is OrderState.LIVE
    if isinstance(error, BackOffError):
        assert h.venue.calls.get("lookup", 0) == 0  # a 429 took no effect: no lookup needed
    else:
        assert h.venue.calls["lookup"] >= 1  # a 5xx may have: look before resending


async def test_cancel_only_window_honours_retry_after(make_harness: Any) -> None:
    h = await make_harness()
    h.venue.fail_next("submit", BackOffError("Trading is currently cancel-only", 3.0), count=2)
    before = len(h.sleep.calls)
    await h.place()
    assert h.sleep.calls[before:] == [3 * NS_PER_S, 3 * NS_PER_S]
    assert h.venue.submissions == 1


async def test_backoff_exhausted_is_a_reject_not_unknown(make_harness: Any) -> None:
    h = await make_harness()
    h.venue.fail_next("submit", BackOffError("429"), count=10)
    intent = h.intent()
    h.publish(intent)
    await h.settle()
    rejected = h.sink.of(OrderRejected)
    assert len(rejected) == 1
    assert rejected[0].code == "backoff_exhausted"
    assert h.venue.orders == {}


async def test_reject_is_final(make_harness: Any) -> None:
    h = await make_harness()
    h.venue.fail_next("submit", RejectError("not enough balance / allowance", "no_balance"))
    intent = h.intent()
    h.publish(intent)
    await h.settle()
    record = h.state.order_for_client(intent.intent_id)
    assert record.state is OrderState.REJECTED
    assert "balance" in record.reason
    assert h.venue.calls["submit"] == 1


async def test_unknown_after_retries_is_resolved_by_reconciliation(make_harness: Any) -> None:
    h = await make_harness()
    # Every attempt times out and every lookup fails too, and the user channel is down:
    # the outcome stays unknown...
    h.venue.ws_connected = False
    h.venue.lose_next_reply("submit")
    for _ in range(5):
        h.venue.fail_next("lookup", UnknownOutcomeError("timeout"))
    intent = h.intent()
    h.publish(intent)
    await h.settle()
    record = h.state.order_for_client(intent.intent_id)
    assert record.state is OrderState.UNKNOWN
    assert len(h.sink.of(OrderSubmitUnknown)) == 1
    # ...until reconciliation looks it up and finds it live.
    h.venue.ws_connected = True
    h.engine.reconciler.request()
    await h.settle()
    assert record.state is OrderState.LIVE
    assert h.venue.submissions == 1
    assert any(c.kind == "correct_order" for c in h.sink.of(ReconciliationCorrection))


async def test_unknown_order_never_received_is_resent_once(make_harness: Any) -> None:
    h = await make_harness()
    h.venue.fail_next("submit", UnknownOutcomeError("timeout before sending"), count=1)
    for _ in range(5):
        h.venue.fail_next("lookup", RetryableError("HTTP 502"))
    intent = h.intent()
    h.publish(intent)
    await h.settle()
    record = h.state.order_for_client(intent.intent_id)
    assert record.state is OrderState.UNKNOWN
    assert h.venue.orders == {}
    h.engine.reconciler.request()
    await h.settle()
    assert record.state is OrderState.LIVE
    assert len(h.venue.orders) == 1


async def test_trade_failed_after_matched_restores_position(make_harness: Any) -> None:
    h = await make_harness()
    before_collateral = h.state.collateral()
    order_hash = await h.place()
    trade = h.venue.fill(order_hash, 20 * SCALE)
    await h.settle()
    pos = h.state.position(YES)
    assert (pos.confirmed, pos.pending) == (0, 20 * SCALE)
    assert h.state.collateral() == before_collateral - 8 * SCALE
    h.venue.settle(trade, TradeStatus.MINED)
    h.venue.settle(trade, TradeStatus.FAILED)
    await h.settle()
    pos = h.state.position(YES)
    assert (pos.confirmed, pos.pending, pos.cost) == (0, 0, 0)
    assert h.state.collateral() == before_collateral
    h.assert_positions_match_venue()


async def test_partial_fills_then_confirmed(make_harness: Any) -> None:
    h = await make_harness()
    order_hash = await h.place(size=30 * SCALE)
    h.venue.fill(order_hash, 10 * SCALE)
    await h.settle()
    assert h.state.orders[order_hash].state is OrderState.PARTIALLY_MATCHED
    h.venue.fill(order_hash, 20 * SCALE)
    await h.settle()
    assert h.state.orders[order_hash].state is OrderState.MATCHED
    h.venue.settle_all(TradeStatus.CONFIRMED)
    await h.settle()
    pos = h.state.position(YES)
    assert (pos.confirmed, pos.pending) == (30 * SCALE, 0)
    assert pos.cost == 12 * SCALE
    h.assert_positions_match_venue()


async def test_cancel_racing_a_fill(make_harness: Any) -> None:
    h = await make_harness()
    order_hash = await h.place()
    intent_id = h.intents[-1].intent_id
    # The fill lands at the venue before our cancel; its messages reach us only after the
    # cancel was answered "already canceled or matched".
    h.venue.ws_connected = False
    h.venue.fill(order_hash, 20 * SCALE)
    now = h.now()
    h.publish(
        CancelIntent(
            ts_event=now, ts_init=now, intent_id="c1", strategy="t", target_intent_id=intent_id
        )
    )
    await h.settle()
    completed = h.sink.of(CancelCompleted)
    assert completed[-1].result.not_canceled == {order_hash: "already canceled or matched"}
    assert h.state.orders[order_hash].state is OrderState.LIVE
    h.venue.ws_connected = True
    report = next(iter(h.venue.trade_log.values())).report
    h.publish(TradeUpdate(ts_event=now, ts_init=now, report=report))
    h.publish(OrderUpdate(ts_event=now, ts_init=now, order=h.venue.orders[order_hash]))
    await h.settle()
    assert h.state.orders[order_hash].state is OrderState.MATCHED
    h.assert_positions_match_venue()


async def test_canceled_update_before_its_fill_still_counts_the_fill(make_harness: Any) -> None:
    h = await make_harness()
    order_hash = await h.place(size=20 * SCALE)
    # The venue reports CANCELED (size_matched 5) before the trade message arrives.
    h.venue.ws_connected = False
    h.venue.fill(order_hash, 5 * SCALE)
    await h.venue.cancel([order_hash])
    h.venue.ws_connected = True
    canceled = h.venue.orders[order_hash]
    now = h.now()
    h.publish(OrderUpdate(ts_event=now, ts_init=now, order=canceled))
    assert h.state.orders[order_hash].state is OrderState.CANCELED
    report = next(iter(h.venue.trade_log.values())).report
    h.publish(TradeUpdate(ts_event=now, ts_init=now, report=report))
    await h.settle()
    assert h.state.orders[order_hash].state is OrderState.CANCELED
    assert h.state.position(YES).expected == 5 * SCALE
    h.assert_positions_match_venue()


async def test_ws_drop_during_fill_is_recovered_from_rest(make_harness: Any) -> None:
    h = await make_harness()
    order_hash = await h.place()
    h.venue.ws_connected = False
    trade = h.venue.fill(order_hash, 20 * SCALE)
    h.venue.settle(trade, TradeStatus.CONFIRMED)
    await h.settle()
    assert h.state.position(YES).expected == 0  # nothing heard
    h.venue.ws_connected = True
    h.engine.reconciler.request()
    await h.settle()
    assert h.state.orders[order_hash].state is OrderState.MATCHED
    assert h.state.position(YES).confirmed == 20 * SCALE
    assert h.engine.reconciler.last_ok is True
    h.assert_positions_match_venue()


async def test_maker_fill_on_the_opposite_token(make_harness: Any) -> None:
    h = await make_harness()
    order_hash = await h.place(token=YES, price=400_000)
    h.venue.fill(order_hash, 20 * SCALE, opposite_token=True)
    await h.settle()
    assert h.state.position(YES).expected == 20 * SCALE
    assert h.state.position(NO).expected == 0
    h.assert_positions_match_venue()


async def test_taker_fill_pays_the_fee(make_harness: Any) -> None:
    h = await make_harness()
    order_hash = await h.place(price=420_000, size=20 * SCALE)
    h.venue.fill(order_hash, 20 * SCALE, taker=True, fee_rate_bps=300)
    await h.settle()
    pos = h.state.position(YES)
    fee = 146_160  # 20 × 0.03 × 0.42 × 0.58 = 0.14616
    assert pos.fees == fee
    assert pos.cost == 8_400_000 + fee
    h.assert_positions_match_venue()


async def test_sell_realizes_pnl(make_harness: Any) -> None:
    h = await make_harness()
    buy = await h.place(price=400_000, size=20 * SCALE)
    h.venue.fill(buy, 20 * SCALE)
    h.venue.settle_all()
    await h.settle()
    sell = await h.place(side=Side.SELL, price=400_000, size=15 * SCALE)
    h.venue.fill(sell, 15 * SCALE, price=450_000)
    h.venue.settle_all()
    await h.settle()
    pos = h.state.position(YES)
    assert pos.confirmed == 5 * SCALE
    assert pos.realized == 750_000  # 15 × (0.45 − 0.40)
    assert pos.cost == 2 * SCALE
    h.assert_positions_match_venue()


async def test_crash_points_fire_at_the_nth_order_to_reach_them(make_harness: Any) -> None:
    h = await make_harness()
    kills: list[int] = []
    armed = CrashPoints(CrashPoint.AFTER_POST, nth=2, kill=lambda: kills.append(armed.seen))
    armed.attach(h.kernel, h.engine.orders)
    for _ in range(3):
        await h.place(size=20 * SCALE)
    assert kills == [2]
    replies: list[int] = []
    on_reply = CrashPoints(CrashPoint.AFTER_REPLY, kill=lambda: replies.append(1))
    on_reply.attach(h.kernel, h.engine.orders)
    await h.place(size=20 * SCALE)
    assert replies == [1]
    assert h.sink.of(OrderAccepted)  # the outcome was appended before the point fired
