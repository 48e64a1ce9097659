"""Kill switch: every condition fires within 1 s, cancels everything, latches until resume."""

from __future__ import annotations

from typing import Any

import pytest

from polyloly.domain.events import BookSnapshot, FeedState, FeedStatus, OperatorCommand, TimerTick
from polyloly.domain.intents import MergeIntent, RiskDecision
from polyloly.domain.money import SCALE
from polyloly.domain.risk import RiskParams
from polyloly.execution.engine import ExecutionConfig
from polyloly.execution.events import KillSwitchFired, KillSwitchResumed
from polyloly.execution.lifecycle import OrderState
from polyloly.execution.ports import AlertLevel, VenueOrderStatus
from polyloly.execution.risk_gate import GateConfig
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S
from polyloly.runtime.errors import RejectError

from .conftest import MARKET, NO, YES, Harness

pytestmark = pytest.mark.asyncio


def _fired(h: Harness) -> list[KillSwitchFired]:
    return h.sink.of(KillSwitchFired)


async def _assert_halted_and_flat(h: Harness, trigger_ns: int, condition: str) -> None:
    await h.settle()
    fired = _fired(h)
    assert len(fired) == 1, fired
    assert fired[0].condition == condition
    assert fired[0].ts_init - trigger_ns <= 1 * NS_PER_S
    assert h.venue.live_orders() == []
    assert all(not o.is_open for o in h.state.orders.values())
    assert any(a.level is AlertLevel.CRITICAL for a in h.alerts.sent)
    # No new order while halted...
    intent = h.intent()
    h.publish(intent)
    await h.settle()
    decision = [d for d in h.sink.of(RiskDecision) if d.intent_id == intent.intent_id][-1]
    assert not decision.approved
    assert "halted" in decision.reason
    assert h.state.order_for_client(intent.intent_id) is None


async def _resume_and_trade(h: Harness) -> None:
    now = h.now()
    h.publish(OperatorCommand(ts_event=now, ts_init=now, command="resume", reason="checked"))
    assert h.sink.of(KillSwitchResumed)
    order_hash = await h.place()
    assert h.state.orders[order_hash].state is OrderState.LIVE


async def test_exchange_feed_down_with_live_order(make_harness: Any) -> None:
    h = await make_harness()
    await h.place()
    await h.place(price=390_000)
    h.clock.advance_ns(250 * NS_PER_MS)
    now = h.now()
    h.publish(FeedStatus(ts_event=now, ts_init=now, source="polymarket_user", state=FeedState.DOWN))
    await _assert_halted_and_flat(h, now, "exchange_feed")
    h.publish(FeedStatus(ts_event=now, ts_init=now, source="polymarket_user", state=FeedState.OK))
    await _resume_and_trade(h)


async def test_feed_down_without_exposure_does_not_fire_until_exposure(make_harness: Any) -> None:
    h = await make_harness()
    now = h.now()
    h.publish(FeedStatus(ts_event=now, ts_init=now, source="opendota", state=FeedState.STALE))
    assert _fired(h) == []
    # Nothing is live, so a stale feed is no reason to halt; the first order makes it one.
    intent = h.intent()
    h.publish(intent)
    await h.settle()
    fired = _fired(h)
    assert len(fired) == 1
    assert fired[0].condition == "esports_feed"
    assert h.venue.live_orders() == []


async def test_consecutive_execution_errors(make_harness: Any) -> None:
    h = await make_harness()
    await h.place()  # something live to cancel
    h.venue.fail_next("submit", RejectError("invalid nonce", "nonce"), count=4)
    for _ in range(4):
        h.publish(h.intent())
        await h.settle()
    fired = _fired(h)
    assert len(fired) == 1
    assert fired[0].condition == "execution_errors"
    await _assert_halted_and_flat(h, fired[0].ts_init, "execution_errors")
    await _resume_and_trade(h)


async def test_benign_rejects_do_not_count(make_harness: Any) -> None:
    h = await make_harness()
    h.venue.fail_next(
        "submit", RejectError("invalid post-only order: order crosses book", "post_only_crosses"), 5
    )
    for _ in range(5):
        h.publish(h.intent())
        await h.settle()
    assert _fired(h) == []


async def test_manual_halt(make_harness: Any) -> None:
    h = await make_harness()
    await h.place()
    h.clock.advance_ns(NS_PER_S)
    now = h.now()
    h.publish(OperatorCommand(ts_event=now, ts_init=now, command="halt", reason="operator"))
    await _assert_halted_and_flat(h, now, "manual_halt")
    await _resume_and_trade(h)


async def test_daily_loss(make_harness: Any) -> None:
    config = ExecutionConfig(risk=RiskParams(max_daily_loss=50 * SCALE))
    h = await make_harness(config=config)
    now = h.now()
    h.publish(TimerTick(ts_event=now, ts_init=now))  # starts the UTC day
    buy = await h.place(price=400_000, size=250 * SCALE)
    h.venue.fill(buy, 250 * SCALE)
    h.venue.settle_all()
    await h.settle()
    await h.place(price=300_000, size=20 * SCALE)  # a resting order the switch must cancel
    assert _fired(h) == []
    h.clock.advance_ns(2 * NS_PER_S)
    now = h.now()
    h.publish(
        BookSnapshot(
            ts_event=now,
            ts_init=now,
            market=MARKET,
            token_id=YES,
            bids=((100_000, 1_000 * SCALE),),
            asks=((120_000, 1_000 * SCALE),),
            tick=10_000,
        )
    )
    assert h.state.daily_pnl() == 250 * 110_000 - 100 * SCALE  # −72.5 pUSD
    await _assert_halted_and_flat(h, now, "daily_loss")


async def test_exchange_silence_counts_as_stale(make_harness: Any) -> None:
    config = ExecutionConfig(gate=GateConfig(exchange_silence_s=5))
    h = await make_harness(config=config)
    await h.place()
    start = h.now()
    for _ in range(10):
        h.clock.advance_ns(NS_PER_S)
        now = h.now()
        h.publish(TimerTick(ts_event=now, ts_init=now))
    fired = _fired(h)
    assert len(fired) == 1
    assert fired[0].condition == "exchange_feed"
    assert 5 * NS_PER_S < fired[0].ts_init - start <= 6 * NS_PER_S
    await h.settle()
    assert h.venue.live_orders() == []


async def test_order_in_flight_when_halted_is_canceled_on_ack(make_harness: Any) -> None:
    h = await make_harness()
    h.publish(h.intent())  # submit task not run yet: the order is SUBMITTING
    now = h.now()
    h.publish(OperatorCommand(ts_event=now, ts_init=now, command="halt"))
    await h.settle()
    assert len(h.venue.orders) == 1
    assert all(o.status is VenueOrderStatus.CANCELED for o in h.venue.orders.values())


async def test_merges_and_cancels_pass_while_halted(make_harness: Any) -> None:
    h = await make_harness()
    now = h.now()
    h.publish(OperatorCommand(ts_event=now, ts_init=now, command="halt"))
    h.publish(
        MergeIntent(
            ts_event=now, ts_init=now, intent_id="m1", strategy="t", market=MARKET, size=SCALE
        )
    )
    decision = [d for d in h.sink.of(RiskDecision) if d.intent_id == "m1"][-1]
    assert decision.approved
    assert NO  # the market's tokens are known to the venue fake


async def test_not_reconciled_refuses_intents(make_harness: Any) -> None:
    h = await make_harness(reconcile=False)
    intent = h.intent()
    h.publish(intent)
    await h.settle()
    decision = [d for d in h.sink.of(RiskDecision) if d.intent_id == intent.intent_id][-1]
    assert not decision.approved
    assert decision.reason == "not reconciled with the venue"


async def test_trading_state_quotes_do_not_change_after_the_fact(make_harness: Any) -> None:
    """A state handed out earlier keeps the quotes it was made with (copy on write)."""
    h = await make_harness()
    gate = h.engine.gate
    before = gate.trading_state()
    assert before.quotes[YES].best_ask == 420_000
    h.books(yes_bid=300_000, yes_ask=310_000)
    after = gate.trading_state()
    assert after.quotes[YES].best_ask == 310_000
    assert after.quotes[NO].best_bid == 690_000
    assert before.quotes[YES].best_ask == 420_000
    assert before.quotes[NO].best_bid == 580_000


async def test_gate_reads_a_shared_book_set(make_harness: Any) -> None:
    """Given the core's books, the gate keeps no copy: it quotes what the shared set holds."""
    h = await make_harness()
    gate = h.engine.gate
    book = gate.books.get(YES)
    assert book is not None
    now = h.now()
    event = BookSnapshot(
        ts_event=now, ts_init=now, market=MARKET, token_id=YES, bids=(), asks=((450_000, SCALE),)
    )
    assert gate.books.apply(event) == (YES,)  # the edge applied it first...
    h.publish(event)  # ...then published it: the gate's own apply is a no-op
    assert gate.trading_state().quotes[YES].best_ask == 450_000
