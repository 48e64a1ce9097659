"""Capital recycling: resolved winners redeemed, idle pairs merged — intents through the risk
gate, executed through the ports, booked by the ledger (in-memory venue)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from tests.conftest import RecordingSink

from polyloly.backtest.plots import render_report
from polyloly.backtest.report_data import build_report_data
from polyloly.domain.events import MarketResolved, TimerTick
from polyloly.domain.intents import MergeIntent, RedeemIntent, RiskDecision
from polyloly.domain.money import SCALE
from polyloly.execution.chain_ports import RedeemResult
from polyloly.execution.engine import ExecutionConfig, ExecutionEngine, ExecutionPorts
from polyloly.execution.events import (
    MergeCompleted,
    MergeFailed,
    ReconciliationCompleted,
    ReconciliationCorrection,
    RedeemCompleted,
    RedeemFailed,
    RedeemRequested,
)
from polyloly.execution.ports import MergeResult, TradeStatus
from polyloly.execution.recycle import RecycleConfig
from polyloly.execution.state import UNKNOWN_GRACE_NS
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.errors import PolylolyError, UnknownOutcomeError
from polyloly.runtime.kernel import Kernel
from polyloly.testing.fakes import FakeSigner, FakeVenue, RecordingAlerts, VirtualSleep

from .conftest import MARKET, NO, START_NS, YES, Harness

pytestmark = pytest.mark.asyncio


@dataclass
class VenueRedeemer:
    """Redeems on the fake venue's balances the way the CTF does (winner 1, loser 0)."""

    venue: FakeVenue
    winner: str = ""
    fail_next: PolylolyError | None = None
    calls: int = 0

    async def redeem(self, condition_id: str) -> RedeemResult:
        self.calls += 1
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        burned = {}
        for token in self.venue.markets[condition_id]:
            held = self.venue.balances_map.get(token, 0)
            if held:
                burned[token] = held
                self.venue.balances_map[token] = 0
        payout = burned.get(self.winner, 0)
        self.venue.balances_map["collateral"] += payout
        return RedeemResult(
            condition_id=condition_id, payout=payout, transaction_hash="0xredeem", burned=burned
        )


async def build(recycle: RecycleConfig) -> tuple[Harness, VenueRedeemer]:
    clock = VirtualClock(START_NS)
    sink = RecordingSink()
    kernel = Kernel(clock, sink)
    venue = FakeVenue({MARKET: (YES, NO)}, collateral=1_000 * SCALE, now_ns=clock.now_ns)
    venue.publish = kernel.publish
    redeemer = VenueRedeemer(venue)
    ports = ExecutionPorts(
        signer=FakeSigner(),
        venue=venue,
        account=venue,
        alerts=RecordingAlerts(),
        cancel_all=venue,
        merger=venue,
        redeemer=redeemer,
    )
    engine = ExecutionEngine(
        kernel,
        ports,
        sleep=VirtualSleep(clock),
        config=ExecutionConfig(recycle=recycle),
        tokens_of=lambda m: (YES, NO) if m == MARKET else None,
    )
    engine.attach()
    h = Harness(clock, kernel, sink, venue, ports.alerts, engine, VirtualSleep(clock))  # type: ignore[arg-type]
    h.books()
    engine.start()
    await engine.idle()
    return h, redeemer


async def buy(h: Harness, yes: int, no: int) -> None:
    for token, shares, price in ((YES, yes, 400_000), (NO, no, 550_000)):
        if shares:
            order = await h.place(token=token, price=price, size=shares)
            h.venue.fill(order, shares)
    h.venue.settle_all(TradeStatus.CONFIRMED)
    await h.settle()


def resolve(h: Harness, winner: str) -> None:
    now = h.now()
    h.publish(MarketResolved(ts_event=now, ts_init=now, market=MARKET, winning_token_id=winner))


async def test_a_resolved_winner_is_redeemed_through_the_gate() -> None:
    h, redeemer = await build(RecycleConfig())
    await buy(h, yes=30 * SCALE, no=10 * SCALE)
    before = h.state.collateral()
    redeemer.winner = YES
    resolve(h, YES)
    await h.settle()
    (intent,) = h.sink.of(RedeemIntent)
    assert intent.intent_id == f"recycle:{MARKET}:1"
    assert intent.payout == 30 * SCALE
    decision = next(d for d in h.sink.of(RiskDecision) if d.intent_id == intent.intent_id)
    assert decision.approved
    assert h.sink.of(RedeemRequested)
    (done,) = h.sink.of(RedeemCompleted)
    assert done.result.burned == {YES: 30 * SCALE, NO: 10 * SCALE}
    assert h.state.collateral() == before + 30 * SCALE
    assert h.state.position(YES).expected == 0
    assert h.state.position(NO).expected == 0
    h.assert_positions_match_venue()
    # the winner's realized PnL is its payout less its cost; the loser's is its whole cost
    assert h.state.position(YES).realized == 30 * SCALE - 30 * 400_000
    assert h.state.position(NO).realized == -10 * 550_000
    # nothing more to do: later ticks decide nothing
    h.clock.set_ns(h.now() + 120 * NS_PER_S)
    h.publish(TimerTick(ts_event=h.now(), ts_init=h.now()))
    await h.settle()
    assert len(h.sink.of(RedeemIntent)) == 1
    assert redeemer.calls == 1


async def test_a_redemption_below_the_gas_threshold_waits() -> None:
    h, redeemer = await build(RecycleConfig(gas_pusd=8 * SCALE, min_gain_over_gas=2))
    await buy(h, yes=15 * SCALE, no=0)
    redeemer.winner = YES
    resolve(h, YES)  # 15 pUSD < 2 x 8 pUSD of gas
    await h.settle()
    assert not h.sink.of(RedeemIntent)


async def test_a_lost_redeem_reply_is_not_resent_and_reconciles() -> None:
    h, redeemer = await build(RecycleConfig())
    await buy(h, yes=20 * SCALE, no=0)
    redeemer.winner = YES
    redeemer.fail_next = UnknownOutcomeError("reply lost")
    passes = h.engine.reconciler.passes
    resolve(h, YES)
    await h.settle()
    (failed,) = h.sink.of(RedeemFailed)
    assert "outcome unknown" in failed.error
    assert redeemer.calls == 1  # not resent
    assert h.engine.reconciler.passes > passes  # the balances settle it


async def test_idle_pairs_are_merged_after_the_idle_time() -> None:
    h, _ = await build(RecycleConfig(idle_ns=30 * NS_PER_S))
    await buy(h, yes=14 * SCALE, no=14 * SCALE)
    h.publish(TimerTick(ts_event=h.now(), ts_init=h.now()))
    await h.settle()
    assert not h.sink.of(MergeIntent)  # still active
    h.clock.set_ns(h.now() + 31 * NS_PER_S)
    h.publish(TimerTick(ts_event=h.now(), ts_init=h.now()))
    await h.settle()
    (intent,) = h.sink.of(MergeIntent)
    assert intent.strategy == "recycle"
    assert intent.size == 14 * SCALE
    assert h.sink.of(MergeCompleted)
    h.assert_positions_match_venue()


async def test_the_report_shows_the_capital_recycled() -> None:
    h, redeemer = await build(RecycleConfig(idle_ns=30 * NS_PER_S))
    await buy(h, yes=20 * SCALE, no=14 * SCALE)
    h.clock.set_ns(h.now() + 31 * NS_PER_S)
    h.publish(TimerTick(ts_event=h.now(), ts_init=h.now()))
    await h.settle()  # 14 idle pairs merged
    redeemer.winner = YES
    resolve(h, YES)
    await h.settle()  # the 6 YES left redeemed
    data = build_report_data(h.sink.events)
    rows = [(r.kind, r.strategy, r.shares, r.freed, r.transaction_hash) for r in data.recycled]
    assert rows == [
        ("merge", "recycle", 14 * SCALE, 14 * SCALE, "0xmerge"),
        ("redeem", "recycle", 6 * SCALE, 6 * SCALE, "0xredeem"),
    ]
    page = render_report(data)
    assert "<h2>Capital recycled</h2>" in page
    assert "1 merges freed 14.00 pUSD; 1 redemptions paid 6.00 pUSD; 0 failed" in page
    # the report's PnL agrees with the ledger's once everything is back in pUSD
    assert data.summary.pnl == h.state.pnl().realized


@dataclass
class LosingMerger:
    """Merges on the fake venue (or not), then loses the reply: the outcome is unknown."""

    venue: FakeVenue
    happens: bool
    calls: int = 0

    async def merge(self, condition_id: str, size: int) -> MergeResult:
        self.calls += 1
        if self.happens:
            await self.venue.merge(condition_id, size)
        raise UnknownOutcomeError("merge: reply lost; 0xabc not found by its hash")


@pytest.mark.parametrize("happens", [True, False])
async def test_a_merge_with_a_lost_reply_is_not_resent_and_is_settled_by_the_balances(
    happens: bool,
) -> None:
    h, _ = await build(RecycleConfig(merge=False, redeem=False))
    merger = LosingMerger(h.venue, happens)
    assert h.engine.merges is not None
    h.engine.merges.merger = merger
    await buy(h, yes=20 * SCALE, no=20 * SCALE)
    before = h.state.collateral()
    now = h.now()
    h.publish(
        MergeIntent(ts_event=now, ts_init=now, intent_id="t:m:1", strategy="t", market=MARKET,
                    size=15 * SCALE)
    )  # fmt: skip
    await h.settle()
    (failed,) = h.sink.of(MergeFailed)
    assert failed.unknown
    assert merger.calls == 1  # never resent
    # the reconciliation pass it asked for reads the balances and settles the outcome
    completed = h.sink.of(ReconciliationCompleted)
    assert completed[-1].ok
    assert completed[-1].balances_checked
    kinds = [c.kind for c in h.sink.of(ReconciliationCorrection)]
    if happens:
        assert "merge_adopted" in kinds
        assert h.state.collateral() == before + 15 * SCALE
        assert h.state.position(YES).expected == 5 * SCALE
    else:
        # balances without it: maybe not mined yet — kept for the grace, then dropped
        assert "merge_not_executed" not in kinds
        assert h.state.unknown_onchain
        h.clock.set_ns(h.now() + UNKNOWN_GRACE_NS)
        h.engine.reconciler.request()
        await h.settle()
        kinds = [c.kind for c in h.sink.of(ReconciliationCorrection)]
        assert "merge_not_executed" in kinds
        assert h.state.collateral() == before
        assert h.state.position(YES).expected == 20 * SCALE
    assert not h.state.unknown_onchain
    h.assert_positions_match_venue()
