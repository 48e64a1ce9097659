"""Merging complete pairs through the Merger port (in-memory venue)."""

from __future__ import annotations

from typing import Any

import pytest

from polyloly.domain.events import TimerTick
from polyloly.domain.intents import MergeIntent
from polyloly.domain.money import SCALE
from polyloly.execution.events import ExecutionAnomaly, MergeCompleted, MergeFailed
from polyloly.execution.pnl import pair_guaranteed_pnl
from polyloly.execution.ports import TradeStatus
from polyloly.runtime.errors import RetryableError

from .conftest import MARKET, NO, YES, Harness

pytestmark = pytest.mark.asyncio


async def _pair(h: Harness, shares: int = 20 * SCALE) -> None:
    yes = await h.place(token=YES, price=400_000, size=shares)
    no = await h.place(token=NO, price=550_000, size=shares)
    h.venue.fill(yes, shares)
    h.venue.fill(no, shares)
    h.venue.settle_all(TradeStatus.CONFIRMED)
    await h.settle()


def _merge(h: Harness, size: int, intent_id: str = "merge:1") -> None:
    now = h.now()
    h.publish(
        MergeIntent(
            ts_event=now, ts_init=now, intent_id=intent_id, strategy="t", market=MARKET, size=size
        )
    )


async def test_merge_turns_pairs_into_collateral(make_harness: Any) -> None:
    h = await make_harness()
    await _pair(h)
    before = h.state.collateral()
    guaranteed = pair_guaranteed_pnl(h.state.position(YES), h.state.position(NO))
    assert guaranteed == 20 * SCALE - 8 * SCALE - 11 * SCALE
    _merge(h, 15 * SCALE)
    await h.settle()
    assert h.sink.of(MergeCompleted)
    assert h.state.collateral() == before + 15 * SCALE
    assert h.state.position(YES).expected == 5 * SCALE
    assert h.state.position(NO).expected == 5 * SCALE
    realized = h.state.position(YES).realized + h.state.position(NO).realized
    assert realized == 15 * SCALE - 15 * 400_000 - 15 * 550_000
    # The guaranteed PnL of the pair did not change by merging part of it.
    assert pair_guaranteed_pnl(h.state.position(YES), h.state.position(NO)) == guaranteed
    h.assert_positions_match_venue()


async def test_merge_more_than_held_is_refused(make_harness: Any) -> None:
    h = await make_harness()
    await _pair(h)
    _merge(h, 25 * SCALE)
    await h.settle()
    assert not h.sink.of(MergeCompleted)
    assert any(a.kind == "merge_insufficient" for a in h.sink.of(ExecutionAnomaly))


async def test_unconfirmed_shares_are_not_merged(make_harness: Any) -> None:
    h = await make_harness()
    yes = await h.place(token=YES, price=400_000, size=20 * SCALE)
    no = await h.place(token=NO, price=550_000, size=20 * SCALE)
    h.venue.fill(yes, 20 * SCALE)
    h.venue.fill(no, 20 * SCALE)
    await h.settle()
    _merge(h, 10 * SCALE)
    await h.settle()
    assert not h.sink.of(MergeCompleted)


async def _half_settled_pair(h: Harness) -> str:
    """20 pairs: the YES leg CONFIRMED, the NO leg still MATCHED; returns the NO trade id."""
    yes = await h.place(token=YES, price=400_000, size=20 * SCALE)
    no = await h.place(token=NO, price=550_000, size=20 * SCALE)
    h.venue.fill(yes, 20 * SCALE)
    h.venue.settle_all(TradeStatus.CONFIRMED)
    trade = h.venue.fill(no, 20 * SCALE)
    await h.settle()
    return trade


async def test_merge_waits_for_a_leg_still_settling_then_goes_through(make_harness: Any) -> None:
    """Strategies count MATCHED fills: a merge asked before the last leg confirms waits for it."""
    h = await make_harness()
    trade = await _half_settled_pair(h)
    _merge(h, 10 * SCALE)
    await h.settle()
    merges = h.engine.merges
    assert merges is not None
    assert merges.waiting == ["merge:1"]
    assert not h.sink.of(MergeCompleted)
    assert not h.sink.of(ExecutionAnomaly)  # waiting is not an anomaly
    h.venue.settle(trade, TradeStatus.CONFIRMED)
    await h.settle()
    assert merges.waiting == []
    assert [m.intent_id for m in h.sink.of(MergeCompleted)] == ["merge:1"]
    assert not h.sink.of(ExecutionAnomaly)
    h.assert_positions_match_venue()


async def test_merge_wait_ends_in_an_anomaly_when_the_leg_fails_or_time_runs_out(
    make_harness: Any,
) -> None:
    h = await make_harness()
    trade = await _half_settled_pair(h)
    _merge(h, 10 * SCALE, "merge:failed")
    await h.settle()
    h.venue.settle(trade, TradeStatus.FAILED)  # the settling leg is gone: refused at once
    await h.settle()
    anomalies = h.sink.of(ExecutionAnomaly)
    assert [(a.kind, a.subject) for a in anomalies] == [("merge_insufficient", "merge:failed")]

    h2 = await make_harness()
    await _half_settled_pair(h2)
    _merge(h2, 10 * SCALE, "merge:late")
    await h2.settle()
    merges = h2.engine.merges
    assert merges is not None
    h2.clock.advance_ns(merges.confirm_wait_ns - 1)
    h2.publish(TimerTick(ts_event=h2.now(), ts_init=h2.now()))
    assert merges.waiting == ["merge:late"]
    h2.clock.advance_ns(1)
    h2.publish(TimerTick(ts_event=h2.now(), ts_init=h2.now()))
    assert merges.waiting == []
    assert [a.subject for a in h2.sink.of(ExecutionAnomaly)] == ["merge:late"]
    assert not h2.sink.of(MergeCompleted)


async def test_transient_merge_errors_are_retried(make_harness: Any) -> None:
    h = await make_harness()
    await _pair(h)
    h.venue.fail_next("merge", RetryableError("gas price spike"), count=2)
    _merge(h, 10 * SCALE)
    await h.settle()
    assert h.sink.of(MergeCompleted)
    h.assert_positions_match_venue()


async def test_unknown_merge_outcome_is_not_retried_and_reconciles(make_harness: Any) -> None:
    h = await make_harness()
    await _pair(h)
    passes = h.engine.reconciler.passes
    h.venue.lose_next_reply("merge")
    _merge(h, 10 * SCALE)
    await h.settle()
    failed = h.sink.of(MergeFailed)
    assert failed
    assert "unknown" in failed[0].error
    assert h.venue.calls["merge"] == 1
    assert h.engine.reconciler.passes > passes


async def test_state_reports_pair_and_account_pnl(make_harness: Any) -> None:
    h = await make_harness()
    await _pair(h)
    assert h.state.pair_pnl(MARKET) == SCALE  # 20 pairs for 19 pUSD
    summary = h.state.pnl()
    assert summary.realized == 0
    assert summary.fees == 0
    assert summary.equity == h.state.collateral() + 19 * SCALE  # no marks: at cost
