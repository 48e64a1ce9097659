"""A halt caused by a feed fault clears by itself once every feed is OK again and a
reconciliation pass begun after that succeeded; every other halt waits for an operator."""

from __future__ import annotations

from typing import Any

import pytest

from polyloly.domain.events import FeedState, FeedStatus, OperatorCommand, TimerTick
from polyloly.domain.intents import RiskDecision
from polyloly.execution.engine import ExecutionConfig
from polyloly.execution.events import (
    KillSwitchFired,
    KillSwitchResumed,
    ReconciliationCompleted,
    VenueSnapshot,
)
from polyloly.execution.lifecycle import OrderState
from polyloly.execution.ports import AlertLevel
from polyloly.execution.risk_gate import GateConfig
from polyloly.runtime.clock import NS_PER_S
from polyloly.runtime.errors import RejectError

from .conftest import Harness, restart

pytestmark = pytest.mark.asyncio

HEARTBEAT = "polymarket.heartbeat"


def feed(h: Harness, state: FeedState, source: str = HEARTBEAT) -> None:
    now = h.now()
    h.publish(FeedStatus(ts_event=now, ts_init=now, source=source, state=state))


def command(h: Harness, name: str) -> None:
    now = h.now()
    h.publish(OperatorCommand(ts_event=now, ts_init=now, command=name, reason="test"))


async def halted_by_the_heartbeat(h: Harness) -> None:
    await h.place()
    h.clock.advance_ns(NS_PER_S)
    feed(h, FeedState.DOWN)  # the heartbeat window was missed
    await h.settle()
    fired = h.sink.of(KillSwitchFired)
    assert [f.condition for f in fired] == ["exchange_feed"]
    assert h.venue.live_orders() == []


async def refused(h: Harness) -> bool:
    intent = h.intent()
    h.publish(intent)
    await h.settle()
    decision = [d for d in h.sink.of(RiskDecision) if d.intent_id == intent.intent_id][-1]
    return not decision.approved


async def test_a_heartbeat_halt_clears_after_the_heal_and_a_fresh_pass(make_harness: Any) -> None:
    h = await make_harness()
    await halted_by_the_heartbeat(h)
    h.clock.advance_ns(2 * NS_PER_S)
    healed_ns = h.now()
    feed(h, FeedState.OK)  # the chain is healthy again: a pass is asked for at once
    assert h.state.halted is not None  # not before the venue was read again
    assert h.sink.of(KillSwitchResumed) == []
    await h.settle()
    resumed = h.sink.of(KillSwitchResumed)
    assert len(resumed) == 1
    assert resumed[0].reason == "auto: exchange feed healthy again, venue reconciled"
    snapshots = h.sink.of(VenueSnapshot)
    assert snapshots[-1].started_ns >= healed_ns
    assert h.state.halted is None
    assert any(a.level is AlertLevel.INFO and "resumed" in a.title for a in h.alerts.sent)
    order = await h.place(price=390_000)  # trading resumes, no restart
    assert h.state.orders[order].state is OrderState.LIVE


async def test_a_pass_that_read_the_venue_before_the_heal_does_not_count(
    make_harness: Any,
) -> None:
    h = await make_harness()
    await halted_by_the_heartbeat(h)
    command(h, "reconcile")  # a pass starts while the feed is still down...
    h.clock.advance_ns(NS_PER_S)
    healed_ns = h.now()
    feed(h, FeedState.OK)  # ...and the heal comes before it has finished
    await h.settle()
    passes = h.sink.of(ReconciliationCompleted)
    snapshots = h.sink.of(VenueSnapshot)
    assert snapshots[-2].started_ns < healed_ns <= snapshots[-1].started_ns
    assert len(snapshots) == 3  # start-up, the one under way at the heal, one after it
    assert all(p.ok for p in passes)
    resumed = h.sink.of(KillSwitchResumed)
    assert len(resumed) == 1
    assert resumed[0].ts_init >= passes[-1].ts_init  # cleared by the later pass only


async def test_a_feed_still_stale_keeps_the_halt(make_harness: Any) -> None:
    h = await make_harness()
    await halted_by_the_heartbeat(h)
    feed(h, FeedState.STALE, source="opendota")
    feed(h, FeedState.OK)
    await h.settle()
    assert h.sink.of(KillSwitchResumed) == []
    feed(h, FeedState.OK, source="opendota")
    await h.settle()
    assert len(h.sink.of(KillSwitchResumed)) == 1


async def test_an_operator_halt_is_never_cleared_by_a_heal(make_harness: Any) -> None:
    h = await make_harness()
    await h.place()
    command(h, "halt")
    feed(h, FeedState.DOWN)
    feed(h, FeedState.OK)
    command(h, "reconcile")
    await h.settle()
    assert h.sink.of(KillSwitchResumed) == []
    assert await refused(h)
    command(h, "resume")
    assert len(h.sink.of(KillSwitchResumed)) == 1


async def test_an_operator_halt_during_a_feed_halt_holds_it(make_harness: Any) -> None:
    h = await make_harness()
    await halted_by_the_heartbeat(h)
    command(h, "halt")
    feed(h, FeedState.OK)
    await h.settle()
    assert h.sink.of(KillSwitchResumed) == []
    held = [a for a in h.alerts.sent if a.title == "kill switch held"]
    assert [a.body for a in held] == ["manual halt (test)"]  # the operator's words kept
    assert await refused(h)


async def test_an_execution_error_halt_waits_for_an_operator(make_harness: Any) -> None:
    h = await make_harness()
    await h.place()
    h.venue.fail_next("submit", RejectError("invalid nonce", "nonce"), count=4)
    for _ in range(4):
        h.publish(h.intent())
        await h.settle()
    assert [f.condition for f in h.sink.of(KillSwitchFired)] == ["execution_errors"]
    feed(h, FeedState.DOWN)
    feed(h, FeedState.OK)
    command(h, "reconcile")
    await h.settle()
    assert h.sink.of(KillSwitchResumed) == []


async def test_auto_resume_can_be_turned_off(make_harness: Any) -> None:
    h = await make_harness(config=ExecutionConfig(gate=GateConfig(auto_resume_feed_halts=False)))
    await halted_by_the_heartbeat(h)
    feed(h, FeedState.OK)
    command(h, "reconcile")
    await h.settle()
    assert h.sink.of(KillSwitchResumed) == []


async def test_a_silence_halt_clears_when_market_data_is_back(make_harness: Any) -> None:
    h = await make_harness(config=ExecutionConfig(gate=GateConfig(exchange_silence_s=5)))
    await h.place()
    for _ in range(6):
        h.clock.advance_ns(NS_PER_S)
        now = h.now()
        h.publish(TimerTick(ts_event=now, ts_init=now))
    assert [f.condition for f in h.sink.of(KillSwitchFired)] == ["exchange_feed"]
    await h.settle()
    h.books()  # the market channel speaks again
    now = h.now()
    h.publish(TimerTick(ts_event=now, ts_init=now))
    await h.settle()
    assert len(h.sink.of(KillSwitchResumed)) == 1


async def test_a_feed_halt_latched_before_a_restart_clears_after_it(make_harness: Any) -> None:
    h = await make_harness()
    await halted_by_the_heartbeat(h)
    h2 = await restart(h)
    assert h2.state.halted is not None  # the latch survived the restart
    assert await refused(h2)
    feed(h2, FeedState.OK)  # the new process's first valid heartbeat
    await h2.settle()
    assert len(h2.sink.of(KillSwitchResumed)) == 1
    order = await h2.place(price=380_000)
    assert h2.state.orders[order].state is OrderState.LIVE
